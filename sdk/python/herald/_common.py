"""What the sync and asyncio clients share: options, channel set-up, request
building, retry decisions."""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2
from google.protobuf.message import Message

from herald import errors
from herald._version import __version__

logger = logging.getLogger("herald")

#: The default per-call deadline, seconds.
DEFAULT_TIMEOUT = 10.0

Metadata = Sequence[Tuple[str, Union[str, bytes]]]
M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Retry:
    """How idempotent calls are retried when they fail with UNAVAILABLE.

    Idempotent calls are the reads, :meth:`~herald.Client.publish_event` and
    :meth:`~herald.Client.create_policy` when they carry a ``request_id``
    (herald deduplicates those), and :meth:`~herald.Client.revoke_token`.
    Attempt *n* (n >= 1) that fails is followed by a pause of
    ``min(max_backoff, initial_backoff * multiplier**(n-1))`` seconds, scaled by
    a random factor in [1 - jitter, 1], or the server's RetryInfo delay when
    longer. All attempts together stay within the call's deadline.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("Retry.max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("Retry backoffs must be >= 0 and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("Retry.jitter must be within [0, 1]")

    def backoff(self, failures: int, server_delay: Optional[float] = None) -> float:
        """The pause after the ``failures``-th consecutive failure (1-based)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (failures - 1))
        delay = base * (1 - self.jitter * random.random())
        if server_delay is not None and server_delay > delay:
            delay = server_delay
        return delay


#: Never retry.
NO_RETRY = Retry(max_attempts=1)
#: How watches reconnect by default: more patient than unary calls, since a
#: watch outlives server restarts (about 30 s of attempts).
WATCH_RETRY = Retry(max_attempts=10, initial_backoff=0.2, max_backoff=5.0)


@dataclass(frozen=True)
class TLS:
    """TLS settings: server verification and, for mutual TLS, a client certificate.

    All values are PEM bytes. ``root_certificates`` None trusts the system's
    roots; ``server_name`` overrides the name checked against the server's
    certificate (and sent as SNI).
    """

    root_certificates: Optional[bytes] = None
    certificate_chain: Optional[bytes] = None
    private_key: Optional[bytes] = None
    server_name: Optional[str] = None

    @classmethod
    def from_files(cls, ca_file: Optional[str] = None, cert_file: Optional[str] = None,
                   key_file: Optional[str] = None,
                   server_name: Optional[str] = None) -> "TLS":
        """Reads the PEM files: a CA bundle, and a client certificate and key."""

        def read(path: Optional[str]) -> Optional[bytes]:
            if path is None:
                return None
            with open(path, "rb") as f:
                return f.read()

        if (cert_file is None) != (key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        return cls(root_certificates=read(ca_file), certificate_chain=read(cert_file),
                   private_key=read(key_file), server_name=server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain)


TLSOption = Union[None, bool, TLS]

# Channel defaults: a short reconnect backoff cap so a restarted server is
# found within seconds, and the SDK in the user agent.
DEFAULT_CHANNEL_OPTIONS: Tuple[Tuple[str, Any], ...] = (
    ("grpc.max_reconnect_backoff_ms", 5000),
    ("grpc.primary_user_agent", f"herald-python/{__version__}"),
)


@dataclass
class ChannelSpec:
    """What a channel is made of; the clients turn it into a sync or aio channel."""

    address: str
    credentials: Optional[grpc.ChannelCredentials]
    options: List[Tuple[str, Any]] = field(default_factory=list)


def channel_spec(address: str, tls: TLSOption,
                 channel_options: Sequence[Tuple[str, Any]]) -> ChannelSpec:
    if not address:
        raise ValueError("address is required, e.g. '127.0.0.1:7070'")
    options: Dict[str, Any] = dict(DEFAULT_CHANNEL_OPTIONS)
    credentials: Optional[grpc.ChannelCredentials] = None
    if tls is True:
        credentials = grpc.ssl_channel_credentials()
    elif isinstance(tls, TLS):
        credentials = tls.credentials()
        if tls.server_name:
            options["grpc.ssl_target_name_override"] = tls.server_name
    elif tls not in (None, False):
        raise TypeError("tls must be None, a bool or a herald.TLS")
    options.update(dict(channel_options))
    return ChannelSpec(address, credentials, list(options.items()))


def auth_metadata(token: Optional[str]) -> Tuple[Tuple[str, str], ...]:
    if token is None:
        token = os.environ.get("HERALD_TOKEN")
    if not token:
        return ()
    return (("authorization", f"Bearer {token}"),)


def build(cls: Type[M], request: Optional[M], fields: Mapping[str, Any]) -> M:
    """The request: the given message, or one made from the non-None fields."""
    given = {k: v for k, v in fields.items() if v is not None}
    if request is not None:
        if given:
            raise TypeError(f"pass either a {cls.__name__} or keyword fields, not both "
                            f"(got {', '.join(sorted(given))})")
        if not isinstance(request, cls):
            raise TypeError(f"expected a {cls.__name__}, got {type(request).__name__}")
        return request
    for key, value in list(given.items()):
        if key == "update_mask" and not isinstance(value, field_mask_pb2.FieldMask):
            given[key] = field_mask_pb2.FieldMask(
                paths=[value] if isinstance(value, str) else list(value))
        elif isinstance(value, datetime):
            given[key] = to_timestamp(value)
    return cls(**given)


def to_timestamp(value: Union[datetime, timestamp_pb2.Timestamp]) -> timestamp_pb2.Timestamp:
    """A Timestamp from an aware datetime (naive means UTC)."""
    if isinstance(value, timestamp_pb2.Timestamp):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value.astimezone(timezone.utc))
    return ts


def should_retry(err: errors.HeraldError, idempotent: bool, attempt: int, retry: Retry) -> bool:
    return idempotent and isinstance(err, errors.Unavailable) and attempt < retry.max_attempts


def log_retry(method: str, err: errors.HeraldError, attempt: int, delay: float) -> None:
    logger.info("herald: %s failed with %s (attempt %d); retrying in %.2fs",
                method, err.code.name, attempt, delay)


def watch_should_resume(err: errors.HeraldError) -> bool:
    """Whether a watch stream that ended with err is reopened from its cursor:
    on UNAVAILABLE (herald's contract for shutdowns and slow consumers), and
    on CANCELLED that the client did not ask for (a server going away may
    cancel its open streams)."""
    return isinstance(err, (errors.Unavailable, errors.Cancelled))


def watch_request_with_cursor(request: M, cursor: str) -> M:
    if not cursor:
        return request
    resumed = type(request)()
    resumed.CopyFrom(request)
    setattr(resumed, "cursor", cursor)
    return resumed
