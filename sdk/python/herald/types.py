"""The herald.v1 messages and enums most programs need, under short names.

Everything here is a generated protobuf class from :mod:`herald.v1`; import
the ``herald.v1.*_pb2`` modules for the rest (request and response messages).
Message fields that are messages accept dicts too, e.g.
``Policy(project_id=1, targets=[{"type": "TARGET_TYPE_HTTP", "address": url}])``,
and enum fields accept the value's name.
"""

from herald.v1.admin_service_pb2 import (
    CreateTokenResponse,
    GetServerInfoResponse,
    Role,
    Settings,
    Token,
)
from herald.v1.delivery_pb2 import (
    Execution,
    ExecutionSummary,
    Task,
    TaskCounts,
    TaskStatus,
    TaskUpdate,
    VendorType,
)
from herald.v1.delivery_service_pb2 import RecoverFailedResponse, WatchStart
from herald.v1.error_reason_pb2 import ErrorReason
from herald.v1.event_pb2 import (
    ArtifactInfo,
    Event,
    Replication,
    ReplicationResource,
    Repository,
    Resource,
    Retention,
    RetentionRule,
    RetentionSelector,
    RetentionSelectorList,
    SbomOverview,
    Scan,
    ScanReportSummary,
    Scanner,
    VulnerabilitySummary,
)
from herald.v1.event_service_pb2 import EventAck
from herald.v1.policy_pb2 import (
    BackoffKind,
    Filters,
    Header,
    PayloadFormat,
    Policy,
    RetryPolicy,
    Target,
    TargetType,
)
from herald.v1.policy_service_pb2 import ListEventTypesResponse

__all__ = [
    "ArtifactInfo",
    "BackoffKind",
    "CreateTokenResponse",
    "ErrorReason",
    "Event",
    "EventAck",
    "Execution",
    "ExecutionSummary",
    "Filters",
    "GetServerInfoResponse",
    "Header",
    "ListEventTypesResponse",
    "PayloadFormat",
    "Policy",
    "RecoverFailedResponse",
    "Replication",
    "ReplicationResource",
    "Repository",
    "Resource",
    "Retention",
    "RetentionRule",
    "RetentionSelector",
    "RetentionSelectorList",
    "RetryPolicy",
    "Role",
    "SbomOverview",
    "Scan",
    "ScanReportSummary",
    "Scanner",
    "Settings",
    "Target",
    "TargetType",
    "Task",
    "TaskCounts",
    "TaskStatus",
    "TaskUpdate",
    "Token",
    "VendorType",
    "VulnerabilitySummary",
    "WatchStart",
]
