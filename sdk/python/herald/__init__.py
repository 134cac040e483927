"""herald-client: the Python SDK of herald, a Harbor-compatible webhook
notification service.

* :class:`herald.Client` (sync) and :class:`herald.aio.Client` (asyncio) call
  herald's gRPC API: policies, events, deliveries, settings and tokens.
* :mod:`herald.errors`: typed exceptions (``herald.errors.NotFound``, ...).
* :mod:`herald.webhooks`: verify and parse the webhooks herald delivers.
* :mod:`herald.types` (re-exported here): the messages and enums, e.g.
  :class:`herald.Policy`, :class:`herald.Event`; the generated modules are
  in :mod:`herald.v1`.
"""

from herald import errors, types, webhooks
from herald._common import DEFAULT_TIMEOUT, NO_RETRY, TLS, WATCH_RETRY, Retry
from herald._version import __version__
from herald.client import Client, Pager, PublishResult, TaskWatch
from herald.errors import HeraldError
from herald.types import (
    ArtifactInfo,
    BackoffKind,
    CreateTokenResponse,
    ErrorReason,
    Event,
    EventAck,
    Execution,
    ExecutionSummary,
    Filters,
    GetServerInfoResponse,
    Header,
    ListEventTypesResponse,
    PayloadFormat,
    Policy,
    RecoverFailedResponse,
    Replication,
    ReplicationResource,
    Repository,
    Resource,
    Retention,
    RetentionRule,
    RetentionSelector,
    RetentionSelectorList,
    RetryPolicy,
    Role,
    SbomOverview,
    Scan,
    ScanReportSummary,
    Scanner,
    Settings,
    Target,
    TargetType,
    Task,
    TaskCounts,
    TaskStatus,
    TaskUpdate,
    Token,
    VendorType,
    VulnerabilitySummary,
    WatchStart,
)

__all__ = [
    "__version__",
    "Client",
    "DEFAULT_TIMEOUT",
    "HeraldError",
    "NO_RETRY",
    "Pager",
    "PublishResult",
    "Retry",
    "TLS",
    "TaskWatch",
    "WATCH_RETRY",
    "errors",
    "types",
    "webhooks",
    *types.__all__,
]
