"""Receiving herald's webhooks: verify the Standard Webhooks signature, then
parse the body into typed events.

In a webhook endpoint::

    from herald import webhooks

    def handle(body: bytes, headers) -> None:
        webhooks.verify(body, headers, secret="whsec_...")      # raises if forged
        event = webhooks.parse(body, headers.get("content-type"))
        if isinstance(event, webhooks.ArtifactEvent):
            for resource in event.resources:
                print(event.type, event.repository.repo_full_name, resource.digest)

:func:`verify` checks the ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` headers herald sends when a target has a signing
secret: an HMAC-SHA256 of ``<id>.<timestamp>.<body>`` under the secret,
compared in constant time, with the timestamp within ``tolerance`` seconds of
now either way (a replay guard), accepting any of several ``v1`` signatures
(herald signs with the old and the new secret while a secret is being
rotated) and any of several secrets. Verify the exact bytes received, before
any JSON decoding. Use ``webhook-id`` as an idempotency key: retries of a
delivery carry the same one.

:func:`parse` turns a Harbor Default body (``application/json``) or a
CloudEvents body (``application/cloudevents+json``) into an
:class:`ArtifactEvent`, :class:`QuotaEvent`, :class:`ScanningEvent`,
:class:`ReplicationEvent` or :class:`TagRetentionEvent` (an
:class:`UnknownEvent` for types this version does not know).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "WebhookVerificationError",
    "WebhookParseError",
    "Webhook",
    "verify",
    "sign",
    "parse",
    "EVENT_TYPES",
    "CLOUDEVENTS_TYPES",
    "CloudEventAttributes",
    "WebhookEvent",
    "ArtifactEvent",
    "QuotaEvent",
    "ScanningEvent",
    "ReplicationEvent",
    "TagRetentionEvent",
    "UnknownEvent",
    "Repository",
    "Resource",
    "ScanReport",
    "VulnerabilitySummary",
    "Scanner",
    "SbomOverview",
    "Replication",
    "ReplicationResource",
    "ArtifactInfo",
    "Retention",
    "RetentionRule",
    "RetentionSelector",
]

#: The default timestamp tolerance, seconds, both ways (the reference
#: libraries' five minutes).
DEFAULT_TOLERANCE = 300.0

class _HeaderItems(Protocol):
    """Anything with .items(): a dict, an email.message.Message (the
    http.server handler's headers), a Flask/Django/Starlette headers object."""

    def items(self) -> Iterable[Tuple[Any, Any]]: ...


SecretLike = Union[str, bytes]
HeadersLike = Union[_HeaderItems, Iterable[Tuple[Union[str, bytes], Union[str, bytes]]]]

_SECRET_PREFIX = "whsec_"
_DIGITS = re.compile(r"[0-9]+\Z")


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh herald webhook.

    :attr:`reason` says why, one of ``"missing_header"``,
    ``"invalid_timestamp"``, ``"timestamp_too_old"``, ``"timestamp_too_new"``
    and ``"no_matching_signature"`` (the error values of
    tests/vectors/webhooks). Answer such requests with 400 or 401 and do not
    act on them.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class WebhookParseError(ValueError):
    """The body is not a herald webhook payload of a supported format."""


def _decode_secret(secret: SecretLike) -> bytes:
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret[len(_SECRET_PREFIX):] if secret.startswith(_SECRET_PREFIX) else secret
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            # Never echo the secret.
            raise ValueError("webhook secret is not 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _secret_keys(secrets: Union[SecretLike, Sequence[SecretLike]]) -> List[bytes]:
    if isinstance(secrets, (str, bytes)):
        return [_decode_secret(secrets)]
    keys = [_decode_secret(s) for s in secrets]
    if not keys:
        raise ValueError("no webhook secret given")
    return keys


def _as_bytes(payload: Union[bytes, bytearray, memoryview, str]) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return bytes(payload)


def _header_values(headers: HeadersLike) -> Dict[str, List[str]]:
    pairs: Iterable[Tuple[Any, Any]]
    items = getattr(headers, "items", None)
    pairs = items() if callable(items) else headers  # type: ignore[assignment]
    out: Dict[str, List[str]] = {}
    for key, value in pairs:
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        out.setdefault(name.lower(), []).append(text)
    return out


def _hmac(key: bytes, msg_id: str, timestamp: str, payload: bytes) -> bytes:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode("utf-8"), hashlib.sha256)
    mac.update(payload)
    return mac.digest()


def sign(secret: SecretLike, msg_id: str, timestamp: Union[int, datetime],
         payload: Union[bytes, str]) -> str:
    """The ``webhook-signature`` entry (``v1,<base64>``) a sender puts on
    ``payload`` with this id and timestamp (Unix seconds or a datetime)."""
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=timezone.utc)
        timestamp = int(timestamp.timestamp())
    mac = _hmac(_decode_secret(secret), msg_id, str(timestamp), _as_bytes(payload))
    return "v1," + base64.b64encode(mac).decode("ascii")


def _seconds(value: Union[float, timedelta]) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def verify(payload: Union[bytes, str], headers: HeadersLike,
           secret: Union[SecretLike, Sequence[SecretLike]], *,
           tolerance: Union[float, timedelta] = DEFAULT_TOLERANCE,
           now: Optional[Union[float, datetime]] = None) -> None:
    """Checks that ``payload`` (the raw body) and ``headers`` are a genuine,
    fresh webhook signed with ``secret`` (or one of several secrets).

    ``headers``: any mapping or list of (name, value) pairs, names in any
    case (a Flask/Django/Starlette headers object, an ASGI header list, a
    dict). ``secret``: ``"whsec_<base64>"`` (bare base64 works too; bytes are
    the raw key). ``tolerance``: the largest allowed difference between the
    ``webhook-timestamp`` and ``now`` (default: the current time), seconds.

    Returns None when valid; raises :class:`WebhookVerificationError`
    otherwise, and ValueError when a secret is malformed.
    """
    keys = _secret_keys(secret)
    values = _header_values(headers)
    msg_id = (values.get("webhook-id") or [""])[0]
    timestamp = (values.get("webhook-timestamp") or [""])[0].strip()
    signatures = " ".join(values.get("webhook-signature") or []).split()
    if not msg_id or not timestamp or not signatures:
        raise WebhookVerificationError(
            "missing_header",
            "missing webhook-id, webhook-timestamp or webhook-signature header")
    if not _DIGITS.match(timestamp):
        raise WebhookVerificationError("invalid_timestamp",
                                       "webhook-timestamp is not an integer")
    if now is None:
        now_s = time.time()
    elif isinstance(now, datetime):
        now_s = (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp()
    else:
        now_s = float(now)
    sent = int(timestamp)
    window = _seconds(tolerance)
    if sent < now_s - window:
        raise WebhookVerificationError("timestamp_too_old", "webhook-timestamp is too old")
    if sent > now_s + window:
        raise WebhookVerificationError("timestamp_too_new",
                                       "webhook-timestamp is too far in the future")
    body = _as_bytes(payload)
    expected = [_hmac(key, msg_id, timestamp, body) for key in keys]
    matched = False
    for entry in signatures:
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        for mac in expected:
            # Constant-time comparison; every entry is checked either way.
            if hmac.compare_digest(mac, given):
                matched = True
    if not matched:
        raise WebhookVerificationError("no_matching_signature",
                                       "no webhook-signature entry matches")


class Webhook:
    """A receiver's secrets and tolerance, for verifying many requests::

        hook = Webhook(["whsec_new...", "whsec_old..."])
        event = hook.receive(body, headers)   # verify, then parse
    """

    def __init__(self, secret: Union[SecretLike, Sequence[SecretLike]], *,
                 tolerance: Union[float, timedelta] = DEFAULT_TOLERANCE) -> None:
        keys = _secret_keys(secret)
        self._keys: List[SecretLike] = list(keys)
        self.tolerance = _seconds(tolerance)

    def verify(self, payload: Union[bytes, str], headers: HeadersLike, *,
               now: Optional[Union[float, datetime]] = None) -> None:
        verify(payload, headers, self._keys, tolerance=self.tolerance, now=now)

    def receive(self, payload: Union[bytes, str], headers: HeadersLike, *,
                now: Optional[Union[float, datetime]] = None) -> "WebhookEvent":
        """Verifies the request, then parses its body by its Content-Type."""
        self.verify(payload, headers, now=now)
        content_types = _header_values(headers).get("content-type")
        return parse(payload, content_types[0] if content_types else None)


# ---------------------------------------------------------------------------
# Typed events

#: Harbor's event types, as in ``WebhookEvent.type``.
EVENT_TYPES = (
    "PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "QUOTA_EXCEED", "QUOTA_WARNING",
    "SCANNING_FAILED", "SCANNING_STOPPED", "SCANNING_COMPLETED", "REPLICATION",
    "TAG_RETENTION",
)

#: The CloudEvents ``type`` of each event type.
CLOUDEVENTS_TYPES: Dict[str, str] = {
    "PUSH_ARTIFACT": "harbor.artifact.pushed",
    "PULL_ARTIFACT": "harbor.artifact.pulled",
    "DELETE_ARTIFACT": "harbor.artifact.deleted",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "SCANNING_FAILED": "harbor.scan.failed",
    "SCANNING_STOPPED": "harbor.scan.stopped",
    "SCANNING_COMPLETED": "harbor.scan.completed",
    "REPLICATION": "harbor.replication.status.changed",
    "TAG_RETENTION": "harbor.tag_retention.finished",
}
_FROM_CLOUDEVENTS_TYPE = {v: k for k, v in CLOUDEVENTS_TYPES.items()}


@dataclass(frozen=True)
class Scanner:
    name: str = ""
    vendor: str = ""
    version: str = ""


@dataclass(frozen=True)
class VulnerabilitySummary:
    total: int = 0
    fixable: int = 0
    #: Vulnerabilities per severity, e.g. {"High": 2} (Harbor's inner "summary").
    severity_counts: Dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanReport:
    """One vulnerability report summary of a resource's ``scan_overview``."""

    report_id: str = ""
    scan_status: str = ""
    severity: str = ""
    #: Seconds.
    duration: int = 0
    #: None for a scan that did not complete.
    summary: Optional[VulnerabilitySummary] = None
    #: None when unset (Go's zero time).
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    scanner: Optional[Scanner] = None
    complete_percent: int = 0


@dataclass(frozen=True)
class SbomOverview:
    start_time: Optional[datetime] = None
    end_time: Optional[datetime] = None
    #: Seconds.
    duration: Optional[int] = None
    sbom_repository: Optional[str] = None
    sbom_digest: Optional[str] = None
    scan_status: Optional[str] = None
    report_id: Optional[str] = None
    scanner: Optional[Scanner] = None


@dataclass(frozen=True)
class Resource:
    """An artifact of the event."""

    digest: str = ""
    tag: str = ""
    resource_url: str = ""
    #: Reports keyed by MIME type.
    scan_overview: Dict[str, ScanReport] = field(default_factory=dict)
    sbom_overview: Optional[SbomOverview] = None


@dataclass(frozen=True)
class Repository:
    name: str = ""
    namespace: str = ""
    repo_full_name: str = ""
    repo_type: str = ""
    date_created: Optional[datetime] = None


@dataclass(frozen=True)
class ReplicationResource:
    registry_name: str = ""
    registry_type: str = ""
    endpoint: str = ""
    provider: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class ArtifactInfo:
    type: str = ""
    status: str = ""
    name_tag: str = ""
    references: List[str] = field(default_factory=list)
    fail_reason: str = ""


@dataclass(frozen=True)
class Replication:
    harbor_hostname: str = ""
    job_status: str = ""
    description: str = ""
    artifact_type: str = ""
    authentication_type: str = ""
    override_mode: bool = False
    trigger_type: str = ""
    policy_creator: str = ""
    execution_timestamp: Optional[datetime] = None
    src_resource: Optional[ReplicationResource] = None
    dest_resource: Optional[ReplicationResource] = None
    #: Harbor's "successful_artifact".
    successful_artifacts: List[ArtifactInfo] = field(default_factory=list)
    #: Harbor's "failed_artifact".
    failed_artifacts: List[ArtifactInfo] = field(default_factory=list)
    execution_id: int = 0
    task_id: int = 0


@dataclass(frozen=True)
class RetentionSelector:
    kind: str = ""
    decoration: str = ""
    pattern: str = ""
    extras: str = ""


@dataclass(frozen=True)
class RetentionRule:
    template: str = ""
    params: Dict[str, Any] = field(default_factory=dict)
    tag_selectors: List[RetentionSelector] = field(default_factory=list)
    scope_selectors: Dict[str, List[RetentionSelector]] = field(default_factory=dict)


@dataclass(frozen=True)
class Retention:
    total: int = 0
    retained: int = 0
    harbor_hostname: str = ""
    project_name: str = ""
    retention_policy_id: int = 0
    #: Harbor's "retention_rule".
    retention_rules: List[RetentionRule] = field(default_factory=list)
    result: str = ""
    #: Harbor's "deleted_artifact".
    deleted_artifacts: List[ArtifactInfo] = field(default_factory=list)


_SOURCE = re.compile(r"/projects/(\d+)/webhook/policies/(\d+)\Z")


@dataclass(frozen=True)
class CloudEventAttributes:
    """The CloudEvents envelope of a CloudEvents body."""

    id: str
    source: str
    type: str
    specversion: str
    time: Optional[datetime]
    datacontenttype: str
    #: Every other attribute: herald sends "operator" and "requestid".
    extensions: Dict[str, Any] = field(default_factory=dict)

    @property
    def requestid(self) -> str:
        value = self.extensions.get("requestid", "")
        return value if isinstance(value, str) else str(value)

    @property
    def project_id(self) -> Optional[int]:
        """The project, from ``source`` ("/projects/<id>/webhook/policies/<id>")."""
        m = _SOURCE.search(self.source)
        return int(m.group(1)) if m else None

    @property
    def policy_id(self) -> Optional[int]:
        m = _SOURCE.search(self.source)
        return int(m.group(2)) if m else None


@dataclass(frozen=True)
class WebhookEvent:
    """What every event has. Subclasses add the blocks of their types."""

    #: Harbor's event type, e.g. "PUSH_ARTIFACT" (for an UnknownEvent from a
    #: CloudEvents body: the CloudEvents type).
    type: str
    #: When it happened (UTC; whole seconds).
    occur_at: datetime
    #: Who caused it; empty for anonymous pulls.
    operator: str
    #: Harbor's free-form custom_attributes.
    custom_attributes: Dict[str, str]
    #: The CloudEvents envelope; None for a Default body.
    cloudevent: Optional[CloudEventAttributes]
    #: The event data as decoded JSON (Harbor's "event_data", the CloudEvents
    #: "data"), for fields this version does not model.
    data: Dict[str, Any]


@dataclass(frozen=True)
class ArtifactEvent(WebhookEvent):
    """PUSH_ARTIFACT, PULL_ARTIFACT, DELETE_ARTIFACT."""

    repository: Optional[Repository]
    resources: List[Resource]


@dataclass(frozen=True)
class QuotaEvent(WebhookEvent):
    """QUOTA_EXCEED, QUOTA_WARNING."""

    repository: Optional[Repository]
    resources: List[Resource]
    #: The human-readable quota message (custom_attributes["Details"]).
    details: str


@dataclass(frozen=True)
class ScanningEvent(WebhookEvent):
    """SCANNING_COMPLETED, SCANNING_FAILED, SCANNING_STOPPED."""

    repository: Optional[Repository]
    resources: List[Resource]
    #: "vulnerability", "sbom" or "" (Harbor's scan.scan_type).
    scan_type: str


@dataclass(frozen=True)
class ReplicationEvent(WebhookEvent):
    """REPLICATION: a replication task's status changed."""

    replication: Replication


@dataclass(frozen=True)
class TagRetentionEvent(WebhookEvent):
    """TAG_RETENTION: a tag retention run finished."""

    retention: Retention


@dataclass(frozen=True)
class UnknownEvent(WebhookEvent):
    """An event type this version does not know; see ``data``."""


# ---------------------------------------------------------------------------
# Parsing

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)\Z")


def _parse_time(text: str, where: str) -> Optional[datetime]:
    m = _RFC3339.match(text)
    if not m:
        raise WebhookParseError(f"{where}: not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    zone = m.group(8)
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign_ = 1 if zone[0] == "+" else -1
        tz = timezone(sign_ * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        raise WebhookParseError(f"{where}: not a valid time") from None
    if year == 1 and month == 1 and day == 1 and value.utcoffset() == timedelta(0) \
            and not (hour or minute or second or micro):
        return None  # Go's zero time: unset
    return value.astimezone(timezone.utc)


def _from_unix(seconds: int, where: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise WebhookParseError(f"{where}: Unix time out of range") from None


class _Obj:
    """A JSON object with typed getters; errors name the field's path."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise WebhookParseError(f"{path}: expected an object")
        self.d: Dict[str, Any] = value
        self.path = path

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        return self.d.get(key) is not None

    def str_(self, key: str) -> str:
        v = self.d.get(key)
        if v is None:
            return ""
        if not isinstance(v, str):
            raise WebhookParseError(f"{self._at(key)}: expected a string")
        return v

    def opt_str(self, key: str) -> Optional[str]:
        return self.str_(key) if self.has(key) else None

    def int_(self, key: str) -> int:
        v = self.d.get(key)
        if v is None:
            return 0
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise WebhookParseError(f"{self._at(key)}: expected a number")
        if isinstance(v, float):
            if not v.is_integer():
                raise WebhookParseError(f"{self._at(key)}: expected an integer")
            return int(v)
        return v

    def opt_int(self, key: str) -> Optional[int]:
        return self.int_(key) if self.has(key) else None

    def bool_(self, key: str) -> bool:
        v = self.d.get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            raise WebhookParseError(f"{self._at(key)}: expected a boolean")
        return v

    def obj(self, key: str) -> Optional["_Obj"]:
        v = self.d.get(key)
        return None if v is None else _Obj(v, self._at(key))

    def list_(self, key: str) -> List[Any]:
        v = self.d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise WebhookParseError(f"{self._at(key)}: expected an array")
        return v

    def objs(self, key: str) -> List["_Obj"]:
        return [_Obj(v, f"{self._at(key)}[{i}]") for i, v in enumerate(self.list_(key))]

    def strs(self, key: str) -> List[str]:
        out = self.list_(key)
        for i, v in enumerate(out):
            if not isinstance(v, str):
                raise WebhookParseError(f"{self._at(key)}[{i}]: expected a string")
        return list(out)

    def time(self, key: str) -> Optional[datetime]:
        return _parse_time(self.str_(key), self._at(key)) if self.has(key) else None

    def unix(self, key: str) -> Optional[datetime]:
        return _from_unix(self.int_(key), self._at(key)) if self.has(key) else None

    def str_map(self, key: str) -> Dict[str, str]:
        o = self.obj(key)
        return {} if o is None else {k: o.str_(k) for k in o.d}

    def int_map(self, key: str) -> Dict[str, int]:
        o = self.obj(key)
        return {} if o is None else {k: o.int_(k) for k in o.d}


def _scanner(o: Optional[_Obj]) -> Optional[Scanner]:
    if o is None:
        return None
    return Scanner(name=o.str_("name"), vendor=o.str_("vendor"), version=o.str_("version"))


def _scan_report(o: _Obj) -> ScanReport:
    summary = o.obj("summary")
    return ScanReport(
        report_id=o.str_("report_id"), scan_status=o.str_("scan_status"),
        severity=o.str_("severity"), duration=o.int_("duration"),
        summary=None if summary is None else VulnerabilitySummary(
            total=summary.int_("total"), fixable=summary.int_("fixable"),
            severity_counts=summary.int_map("summary")),
        start_time=o.time("start_time"), end_time=o.time("end_time"),
        scanner=_scanner(o.obj("scanner")), complete_percent=o.int_("complete_percent"))


def _resource(o: _Obj) -> Resource:
    overview = o.obj("scan_overview")
    sbom = o.obj("sbom_overview")
    return Resource(
        digest=o.str_("digest"), tag=o.str_("tag"), resource_url=o.str_("resource_url"),
        scan_overview={} if overview is None else {
            mime: _scan_report(_Obj(v, f"{overview.path}[{mime!r}]"))
            for mime, v in overview.d.items()},
        sbom_overview=None if sbom is None else SbomOverview(
            start_time=sbom.time("start_time"), end_time=sbom.time("end_time"),
            duration=sbom.opt_int("duration"), sbom_repository=sbom.opt_str("sbom_repository"),
            sbom_digest=sbom.opt_str("sbom_digest"), scan_status=sbom.opt_str("scan_status"),
            report_id=sbom.opt_str("report_id"), scanner=_scanner(sbom.obj("scanner"))))


def _repository(o: Optional[_Obj]) -> Optional[Repository]:
    if o is None:
        return None
    return Repository(name=o.str_("name"), namespace=o.str_("namespace"),
                      repo_full_name=o.str_("repo_full_name"), repo_type=o.str_("repo_type"),
                      date_created=o.unix("date_created"))


def _artifacts(o: _Obj, key: str) -> List[ArtifactInfo]:
    return [ArtifactInfo(type=a.str_("type"), status=a.str_("status"),
                         name_tag=a.str_("name_tag"), references=a.strs("references"),
                         fail_reason=a.str_("fail_reason")) for a in o.objs(key)]


def _replication_resource(o: Optional[_Obj]) -> Optional[ReplicationResource]:
    if o is None:
        return None
    return ReplicationResource(registry_name=o.str_("registry_name"),
                               registry_type=o.str_("registry_type"),
                               endpoint=o.str_("endpoint"), provider=o.str_("provider"),
                               namespace=o.str_("namespace"))


def _replication(o: Optional[_Obj]) -> Replication:
    if o is None:
        return Replication()
    return Replication(
        harbor_hostname=o.str_("harbor_hostname"), job_status=o.str_("job_status"),
        description=o.str_("description"), artifact_type=o.str_("artifact_type"),
        authentication_type=o.str_("authentication_type"),
        override_mode=o.bool_("override_mode"), trigger_type=o.str_("trigger_type"),
        policy_creator=o.str_("policy_creator"),
        execution_timestamp=o.unix("execution_timestamp"),
        src_resource=_replication_resource(o.obj("src_resource")),
        dest_resource=_replication_resource(o.obj("dest_resource")),
        successful_artifacts=_artifacts(o, "successful_artifact"),
        failed_artifacts=_artifacts(o, "failed_artifact"),
        execution_id=o.int_("execution_id"), task_id=o.int_("task_id"))


def _selector(o: _Obj) -> RetentionSelector:
    return RetentionSelector(kind=o.str_("kind"), decoration=o.str_("decoration"),
                             pattern=o.str_("pattern"), extras=o.str_("extras"))


def _retention(o: Optional[_Obj]) -> Retention:
    if o is None:
        return Retention()
    rules = []
    for r in o.objs("retention_rule"):
        params = r.obj("params")
        scopes = r.obj("scope_selectors")
        rules.append(RetentionRule(
            template=r.str_("template"), params={} if params is None else dict(params.d),
            tag_selectors=[_selector(s) for s in r.objs("tag_selectors")],
            scope_selectors={} if scopes is None else {
                kind: [_selector(s) for s in scopes.objs(kind)] for kind in scopes.d}))
    return Retention(
        total=o.int_("total"), retained=o.int_("retained"),
        harbor_hostname=o.str_("harbor_hostname"), project_name=o.str_("project_name"),
        retention_policy_id=o.int_("retention_policy_id"), retention_rules=rules,
        result=o.str_("result"), deleted_artifacts=_artifacts(o, "deleted_artifact"))


def _event(event_type: str, occur_at: datetime, operator: str, data: _Obj,
           cloudevent: Optional[CloudEventAttributes]) -> WebhookEvent:
    common: Dict[str, Any] = dict(
        type=event_type, occur_at=occur_at, operator=operator,
        custom_attributes=data.str_map("custom_attributes"), cloudevent=cloudevent,
        data=data.d)
    if event_type in ("PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"):
        return ArtifactEvent(**common, repository=_repository(data.obj("repository")),
                             resources=[_resource(r) for r in data.objs("resources")])
    if event_type in ("QUOTA_EXCEED", "QUOTA_WARNING"):
        return QuotaEvent(**common, repository=_repository(data.obj("repository")),
                          resources=[_resource(r) for r in data.objs("resources")],
                          details=common["custom_attributes"].get("Details", ""))
    if event_type in ("SCANNING_FAILED", "SCANNING_STOPPED", "SCANNING_COMPLETED"):
        scan = data.obj("scan")
        return ScanningEvent(**common, repository=_repository(data.obj("repository")),
                             resources=[_resource(r) for r in data.objs("resources")],
                             scan_type="" if scan is None else scan.str_("scan_type"))
    if event_type == "REPLICATION":
        return ReplicationEvent(**common, replication=_replication(data.obj("replication")))
    if event_type == "TAG_RETENTION":
        return TagRetentionEvent(**common, retention=_retention(data.obj("retention")))
    return UnknownEvent(**common)


_CE_CORE = ("id", "source", "type", "specversion", "time", "datacontenttype", "data",
            "data_base64")


def _parse_default(doc: _Obj) -> WebhookEvent:
    if not doc.has("type"):
        raise WebhookParseError("$.type: missing; not a Harbor Default payload")
    occur_at = _from_unix(doc.int_("occur_at"), "$.occur_at")
    data = doc.obj("event_data") or _Obj({}, "$.event_data")
    return _event(doc.str_("type"), occur_at, doc.str_("operator"), data, None)


def _parse_cloudevent(doc: _Obj) -> WebhookEvent:
    if not doc.has("specversion"):
        raise WebhookParseError("$.specversion: missing; not a CloudEvents payload")
    if doc.has("data_base64"):
        try:
            raw = json.loads(base64.b64decode(doc.str_("data_base64"), validate=True))
        except (binascii.Error, ValueError):
            raise WebhookParseError("$.data_base64: not base64 of a JSON object") from None
        data = _Obj(raw, "$.data_base64")
    else:
        data = doc.obj("data") or _Obj({}, "$.data")
    attrs = CloudEventAttributes(
        id=doc.str_("id"), source=doc.str_("source"), type=doc.str_("type"),
        specversion=doc.str_("specversion"), time=doc.time("time"),
        datacontenttype=doc.str_("datacontenttype"),
        extensions={k: v for k, v in doc.d.items() if k not in _CE_CORE})
    event_type = _FROM_CLOUDEVENTS_TYPE.get(attrs.type, attrs.type)
    occur_at = attrs.time if attrs.time is not None else _from_unix(0, "$.time")
    operator = attrs.extensions.get("operator", "")
    if not isinstance(operator, str):
        raise WebhookParseError("$.operator: expected a string")
    return _event(event_type, occur_at, operator, data, attrs)


def parse(payload: Union[bytes, str], content_type: Optional[str] = None) -> WebhookEvent:
    """Parses a webhook body into a typed event.

    ``content_type`` is the request's Content-Type: ``application/json``
    for Harbor's Default format, ``application/cloudevents+json`` for
    CloudEvents (parameters such as charset are ignored). None guesses from
    the body. Raises :class:`WebhookParseError` for anything else.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in ("", "application/json", "application/cloudevents+json"):
        raise WebhookParseError(f"unsupported Content-Type {media!r}")
    try:
        decoded = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise WebhookParseError(f"the body is not JSON: {e}") from None
    doc = _Obj(decoded, "$")
    if media == "application/cloudevents+json" or (not media and doc.has("specversion")):
        return _parse_cloudevent(doc)
    return _parse_default(doc)
