"""Typed errors for herald's gRPC status codes and ErrorInfo reasons.

Every failed call raises a :class:`HeraldError` subclass chosen by the status
code (:class:`NotFound`, :class:`InvalidArgument`, :class:`Unavailable`, ...)
and, where herald's ``google.rpc.ErrorInfo`` reason refines it, by the reason
(:class:`TokenInvalid` is an :class:`Unauthenticated`, :class:`NameTaken` an
:class:`AlreadyExists`, ...). Catch the code class unless the reason matters.

The details come from the ``google.rpc.Status`` that herald sends in the
``grpc-status-details-bin`` trailer: :attr:`HeraldError.reason`,
:attr:`~HeraldError.domain` and :attr:`~HeraldError.metadata` from
``ErrorInfo``, :attr:`~HeraldError.field_violations` from ``BadRequest``,
:attr:`~HeraldError.retry_delay` from ``RetryInfo``. Errors raised by the
client library itself (no server reached) have an empty reason.

The ``grpc.RpcError`` that grpc raised is the error's ``__cause__``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, Union

import grpc
from google.protobuf import any_pb2
from google.protobuf import message as _pb
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "DOMAIN",
    "STATUS_DETAILS_KEY",
    "FieldViolation",
    "HeraldError",
    "Cancelled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
    "TokenMissing",
    "TokenInvalid",
    "RoleNotAllowed",
    "ProjectNotAllowed",
    "InvalidPageToken",
    "NameTaken",
    "StoreUnavailable",
    "ShuttingDown",
    "ConsumerTooSlow",
    "TaskNotFinal",
    "CursorExpired",
    "RateLimited",
    "MalformedRequest",
    "from_rpc_error",
    "from_status",
]

#: The ErrorInfo domain of herald's errors.
DOMAIN = "herald.dev"
#: The trailing metadata key carrying a serialized google.rpc.Status.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request (google.rpc.BadRequest.FieldViolation)."""

    #: The field path, e.g. ``"policy.targets[0].address"``.
    field: str
    #: Why it is invalid, for humans.
    description: str
    #: A machine-readable reason, when the server sets one.
    reason: str = ""


class HeraldError(Exception):
    """A failed herald call: a gRPC status with herald's error details."""

    #: The status code this class stands for (set on every subclass).
    grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    code: grpc.StatusCode
    """The call's status code."""
    message: str
    """The status message, for humans; branch on :attr:`reason` instead."""
    reason: str
    """The ErrorInfo reason, e.g. ``"TOKEN_INVALID"``; empty when absent."""
    domain: str
    """The ErrorInfo domain, ``"herald.dev"`` for herald's own errors."""
    metadata: Dict[str, str]
    """The ErrorInfo metadata, e.g. ``{"resource": "policy", "id": "7"}``."""
    field_violations: List[FieldViolation]
    """The BadRequest field violations (INVALID_ARGUMENT); else empty."""
    retry_delay: Optional[float]
    """Seconds to wait before retrying, from RetryInfo; None when absent."""
    details: List[_pb.Message]
    """Every decoded detail message of the status (unknown types skipped)."""
    status: Optional[status_pb2.Status]
    """The google.rpc.Status from the trailer, when the server sent one."""

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        reason: str = "",
        domain: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        field_violations: Sequence[FieldViolation] = (),
        retry_delay: Optional[float] = None,
        details: Sequence[_pb.Message] = (),
        status: Optional[status_pb2.Status] = None,
    ) -> None:
        super().__init__(message)
        self.code = code if code is not None else self.grpc_code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.retry_delay = retry_delay
        self.details = list(details)
        self.status = status

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.reason:
            text += f" (reason {self.reason})"
        for v in self.field_violations:
            text += f"\n  {v.field}: {v.description}"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code.name}, message={self.message!r}, "
                f"reason={self.reason!r})")


class Cancelled(HeraldError):
    grpc_code = grpc.StatusCode.CANCELLED


class Unknown(HeraldError):
    grpc_code = grpc.StatusCode.UNKNOWN


class InvalidArgument(HeraldError):
    """The request is invalid; :attr:`field_violations` names each field."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(HeraldError):
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(HeraldError):
    """The resource does not exist; ``metadata`` has "resource" and "id"."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(HeraldError):
    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(HeraldError):
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(HeraldError):
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(HeraldError):
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(HeraldError):
    grpc_code = grpc.StatusCode.ABORTED


class OutOfRange(HeraldError):
    grpc_code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(HeraldError):
    """The server does not implement this call (yet)."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(HeraldError):
    grpc_code = grpc.StatusCode.INTERNAL


class Unavailable(HeraldError):
    """The server cannot be reached or cannot serve now; retrying may work."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class DataLoss(HeraldError):
    grpc_code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(HeraldError):
    """No token, or an unknown, revoked or expired one."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


# Reason classes: each refines the class of the code herald sends it with.
class TokenMissing(Unauthenticated):
    """No ``authorization: Bearer <token>`` metadata (TOKEN_MISSING)."""


class TokenInvalid(Unauthenticated):
    """The token is unknown, revoked or expired (TOKEN_INVALID)."""


class RoleNotAllowed(PermissionDenied):
    """The token's role may not call this RPC (ROLE_NOT_ALLOWED)."""


class ProjectNotAllowed(PermissionDenied):
    """The token has no role on the project concerned (PROJECT_NOT_ALLOWED)."""


class InvalidPageToken(InvalidArgument):
    """The page token is malformed or belongs to another query."""


class NameTaken(AlreadyExists):
    """A policy with this name exists in the project (NAME_TAKEN)."""


class StoreUnavailable(Unavailable):
    """The server's store cannot be reached; retry (STORE_UNAVAILABLE)."""


class ShuttingDown(Unavailable):
    """The server is shutting down; retry later or elsewhere (SHUTTING_DOWN)."""


class ConsumerTooSlow(Unavailable):
    """A watcher fell too far behind; resume from its cursor."""


class TaskNotFinal(FailedPrecondition):
    """The task is not final, so it cannot be redelivered (TASK_NOT_FINAL)."""


class CursorExpired(OutOfRange):
    """The watch cursor is older than retained history (CURSOR_EXPIRED)."""


class RateLimited(ResourceExhausted):
    """The token's publish rate limit was hit (RATE_LIMITED)."""


class MalformedRequest(InvalidArgument):
    """The request bytes did not parse as the RPC's request type (MALFORMED_REQUEST)."""


_BY_CODE: Dict[grpc.StatusCode, Type[HeraldError]] = {
    cls.grpc_code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound,
                AlreadyExists, PermissionDenied, ResourceExhausted, FailedPrecondition,
                Aborted, OutOfRange, Unimplemented, Internal, Unavailable, DataLoss,
                Unauthenticated)
}
_BY_NUMBER: Dict[int, grpc.StatusCode] = {
    int(code.value[0]): code for code in grpc.StatusCode
}
_BY_REASON: Dict[str, Type[HeraldError]] = {
    "TOKEN_MISSING": TokenMissing,
    "TOKEN_INVALID": TokenInvalid,
    "ROLE_NOT_ALLOWED": RoleNotAllowed,
    "PROJECT_NOT_ALLOWED": ProjectNotAllowed,
    "INVALID_PAGE_TOKEN": InvalidPageToken,
    "NAME_TAKEN": NameTaken,
    "STORE_UNAVAILABLE": StoreUnavailable,
    "SHUTTING_DOWN": ShuttingDown,
    "CONSUMER_TOO_SLOW": ConsumerTooSlow,
    "TASK_NOT_FINAL": TaskNotFinal,
    "CURSOR_EXPIRED": CursorExpired,
    "RATE_LIMITED": RateLimited,
    "MALFORMED_REQUEST": MalformedRequest,
}


def _error_class(code: grpc.StatusCode, reason: str, domain: str) -> Type[HeraldError]:
    base = _BY_CODE.get(code, Unknown)
    if domain in ("", DOMAIN):
        refined = _BY_REASON.get(reason)
        # Only when the reason came with the code it belongs to: a reason
        # never moves an error out of its code's class.
        if refined is not None and issubclass(refined, base):
            return refined
    return base


_DETAIL_TYPES: Tuple[Type[_pb.Message], ...] = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.RetryInfo,
    error_details_pb2.DebugInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.RequestInfo,
    error_details_pb2.ResourceInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
)


def _unpack(detail: any_pb2.Any) -> Optional[_pb.Message]:
    for cls in _DETAIL_TYPES:
        if detail.TypeName() == cls.DESCRIPTOR.full_name:
            msg = cls()
            if detail.Unpack(msg):
                return msg
    return None  # a detail type this client does not know: skipped


def _build(code: grpc.StatusCode, message_text: str,
           status: Optional[status_pb2.Status]) -> HeraldError:
    reason = domain = ""
    metadata: Dict[str, str] = {}
    violations: List[FieldViolation] = []
    retry_delay: Optional[float] = None
    details: List[_pb.Message] = []
    if status is not None:
        for any_detail in status.details:
            msg = _unpack(any_detail)
            if msg is None:
                continue
            details.append(msg)
            if isinstance(msg, error_details_pb2.ErrorInfo) and not reason:
                reason, domain = msg.reason, msg.domain
                metadata = dict(msg.metadata)
            elif isinstance(msg, error_details_pb2.BadRequest):
                violations.extend(
                    FieldViolation(field=v.field, description=v.description,
                                   reason=getattr(v, "reason", ""))
                    for v in msg.field_violations)
            elif isinstance(msg, error_details_pb2.RetryInfo):
                retry_delay = msg.retry_delay.ToTimedelta().total_seconds()
    cls = _error_class(code, reason, domain)
    return cls(message_text, code=code, reason=reason, domain=domain, metadata=metadata,
               field_violations=violations, retry_delay=retry_delay, details=details,
               status=status)


def _status_from_metadata(
        metadata: Optional[Iterable[Tuple[str, Union[str, bytes]]]]) -> Optional[status_pb2.Status]:
    for key, value in metadata or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except _pb.DecodeError:
                return None
    return None


def from_status(status: status_pb2.Status) -> HeraldError:
    """The typed error for a google.rpc.Status (e.g. PublishEventsResponse.error)."""
    code = _BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    return _build(code, status.message, status)


def from_rpc_error(error: grpc.RpcError) -> HeraldError:
    """The typed error for a ``grpc.RpcError`` raised by grpc (sync or asyncio)."""
    call: Any = error  # grpc.Call (sync) or grpc.aio.AioRpcError: same accessors
    try:
        code = call.code()
        text = call.details() or ""
        trailing = call.trailing_metadata()
    except AttributeError:
        return Unknown(str(error))
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    status = _status_from_metadata(trailing)
    if status is not None and status.message:
        text = status.message
    return _build(code, text, status)
