"""The synchronous herald client."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import (
    Any,
    Callable,
    Deque,
    Generic,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    cast,
)

import grpc
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from herald import _common, errors
from herald._common import DEFAULT_TIMEOUT, Metadata, Retry, TLSOption
from herald.v1 import (
    admin_service_pb2 as admin_pb,
    admin_service_pb2_grpc as admin_grpc,
    delivery_pb2,
    delivery_service_pb2 as delivery_pb,
    delivery_service_pb2_grpc as delivery_grpc,
    event_pb2,
    event_service_pb2 as event_pb,
    event_service_pb2_grpc as event_grpc,
    policy_pb2,
    policy_service_pb2 as policy_pb,
    policy_service_pb2_grpc as policy_grpc,
)

__all__ = ["Client", "Pager", "TaskWatch", "PublishResult"]

T = TypeVar("T")
P = TypeVar("P", bound=Message)
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

PolicyArg = Union[policy_pb2.Policy, Mapping[str, Any]]
EventArg = Union[event_pb2.Event, Mapping[str, Any]]
MaskArg = Union[field_mask_pb2.FieldMask, Sequence[str], str]


@dataclass(frozen=True)
class PublishResult:
    """The answer to one event of :meth:`Client.publish_events`."""

    #: The event's position in the stream, from 1.
    sequence: int
    #: The event's request_id, echoed.
    request_id: str
    #: The acknowledgement; None when the event was refused.
    ack: Optional[event_pb.EventAck]
    #: Why the event was refused (e.g. :class:`herald.errors.InvalidArgument`).
    error: Optional[errors.HeraldError]

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def from_response(cls, resp: event_pb.PublishEventsResponse) -> "PublishResult":
        error = errors.from_status(resp.error) if resp.HasField("error") else None
        ack = resp.ack if resp.HasField("ack") else None
        return cls(sequence=resp.sequence, request_id=resp.request_id, ack=ack, error=error)


def _publish_request(item: Union[event_pb.PublishEventsRequest, EventArg]) -> event_pb.PublishEventsRequest:
    if isinstance(item, event_pb.PublishEventsRequest):
        return item
    if isinstance(item, event_pb2.Event):
        return event_pb.PublishEventsRequest(event=item)
    return event_pb.PublishEventsRequest(event=cast(Any, item))  # a dict


class Pager(Generic[T, P]):
    """Iterates over every item of a paginated list, fetching pages lazily.

    ``for policy in client.list_policies(project_id=1): ...`` yields the items
    of every page; :meth:`pages` yields the response messages instead.
    :attr:`total_size` is known once the first page has been fetched.
    """

    def __init__(self, fetch: Callable[[str], P], items: Callable[[P], Sequence[T]],
                 first_token: str = "") -> None:
        self._fetch = fetch
        self._items = items
        self._first_token = first_token
        self.total_size: Optional[int] = None

    def pages(self) -> Iterator[P]:
        token = self._first_token
        while True:
            page = self._fetch(token)
            self.total_size = int(getattr(page, "total_size", 0))
            yield page
            next_token = str(getattr(page, "next_page_token", ""))
            if not next_token:
                return
            if next_token == token:
                raise RuntimeError("herald: the server returned the same page token twice")
            token = next_token

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from self._items(page)


class TaskWatch(Iterator[delivery_pb2.TaskUpdate]):
    """Follows :meth:`Client.watch_tasks`: an iterator of task updates that
    reconnects by itself.

    The stream opens when the watch is created, so changes made after
    ``watch_tasks()`` returns are seen. When it breaks with UNAVAILABLE
    (server restart, network, a too-slow consumer) or is cancelled by the
    server, the watch reopens it from the cursor of the last update it
    returned: no update is lost or repeated. Pauses between attempts follow
    its :class:`~herald.Retry`; ``max_attempts`` consecutive failures without
    an update end the watch with the last error, and other errors end it at
    once. With a ``timeout`` the whole watch ends with
    :class:`~herald.errors.DeadlineExceeded` when it passes.

    :attr:`cursor` is the position to resume from later (pass it as
    ``cursor=``). :meth:`close` (or leaving a ``with`` block) cancels the
    stream, from any thread; iteration then stops.
    """

    def __init__(self, open_stream: Callable[[delivery_pb.WatchTasksRequest, Optional[float]], Any],
                 request: delivery_pb.WatchTasksRequest, retry: Retry,
                 timeout: Optional[float] = None) -> None:
        self._open_stream = open_stream
        self._request = request
        self._retry = retry
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._lock = threading.Lock()
        self._closed = False
        self._failures = 0
        self._buffer: Deque[delivery_pb2.TaskUpdate] = collections.deque()
        #: The cursor of the last update returned (or the one passed in).
        self.cursor: str = request.cursor
        #: How many times the stream was reopened after a failure.
        self.reconnects = 0
        self._call: Any = self._open()

    def _open(self) -> Any:
        remaining = None
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise errors.DeadlineExceeded("the watch's timeout has passed")
        return self._open_stream(
            _common.watch_request_with_cursor(self._request, self.cursor), remaining)

    def __iter__(self) -> "TaskWatch":
        return self

    def __next__(self) -> delivery_pb2.TaskUpdate:
        while True:
            with self._lock:
                if self._closed:
                    raise StopIteration
                if self._buffer:
                    return self._take()
                if self._call is None:
                    self._call = self._open()
                call = self._call
            try:
                response = next(call)
            except StopIteration:  # the server ended the stream
                with self._lock:
                    self._call = None
                    self._closed = True
                raise
            except grpc.RpcError as e:
                with self._lock:
                    self._call = None
                    if self._closed:
                        raise StopIteration from None
                err = errors.from_rpc_error(e)
                self._failures += 1
                if not _common.watch_should_resume(err) or self._failures >= self._retry.max_attempts:
                    raise err from e
                delay = self._retry.backoff(self._failures, err.retry_delay)
                _common.log_retry("WatchTasks", err, self._failures, delay)
                time.sleep(delay)
                self.reconnects += 1
                continue
            with self._lock:
                self._failures = 0
                # A message batches one or more updates, oldest first.
                self._buffer.extend(response.updates)

    def _take(self) -> delivery_pb2.TaskUpdate:
        update = self._buffer.popleft()
        if update.cursor:
            self.cursor = update.cursor
        return update

    def close(self) -> None:
        with self._lock:
            self._closed = True
            call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def __enter__(self) -> "TaskWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client:
    """A synchronous client for a herald server.

    ``Client("127.0.0.1:7070", token=...)`` opens a plaintext channel;
    ``tls=True`` uses TLS with the system's roots and ``tls=herald.TLS(...)``
    a CA bundle and, for mutual TLS, a client certificate. The token (default:
    the ``HERALD_TOKEN`` environment variable) is sent as ``authorization:
    Bearer <token>`` on every call.

    Every unary call has a deadline of ``timeout`` seconds (default 10; None
    for none), overridable per call with ``timeout=``; streams have none
    unless given. Idempotent calls are retried on UNAVAILABLE as ``retry``
    says (see :class:`herald.Retry`). Failures raise
    :class:`herald.errors.HeraldError` subclasses.

    Methods take either a request message or its fields as keyword
    arguments, and return the response's payload (the Policy, the
    EventAck, ...); list methods return a :class:`Pager` over every page.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, address: str, *, token: Optional[str] = None, tls: TLSOption = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT, retry: Optional[Retry] = None,
                 channel_options: Sequence[Tuple[str, Any]] = ()) -> None:
        spec = _common.channel_spec(address, tls, channel_options)
        if spec.credentials is None:
            self._channel = grpc.insecure_channel(spec.address, options=spec.options)
        else:
            self._channel = grpc.secure_channel(spec.address, spec.credentials,
                                                options=spec.options)
        self.address = address
        self.timeout = timeout
        self.retry = retry if retry is not None else Retry()
        self._auth = _common.auth_metadata(token)
        self._policies = policy_grpc.PolicyServiceStub(self._channel)
        self._events = event_grpc.EventServiceStub(self._channel)
        self._deliveries = delivery_grpc.DeliveryServiceStub(self._channel)
        self._admin = admin_grpc.AdminServiceStub(self._channel)

    # -- plumbing ---------------------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        """The underlying gRPC channel (e.g. for your own stubs)."""
        return self._channel

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_for_ready(self, timeout: Optional[float] = None) -> None:
        """Blocks until the channel is connected; raises
        :class:`herald.errors.Unavailable` after ``timeout`` seconds."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise errors.Unavailable(f"could not connect to {self.address}") from None

    def _metadata(self, extra: Metadata) -> Tuple[Tuple[str, Union[str, bytes]], ...]:
        return (*self._auth, *extra)

    def _unary(self, name: str, method: Callable[..., Resp], request: Req, *,
               idempotent: bool, timeout: Optional[float], metadata: Metadata) -> Resp:
        total = self.timeout if timeout is None else timeout
        deadline = None if total is None else time.monotonic() + total
        md = self._metadata(metadata)
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return method(request, timeout=remaining, metadata=md)
            except grpc.RpcError as e:
                err = errors.from_rpc_error(e)
                if not _common.should_retry(err, idempotent, attempt, self.retry):
                    raise err from e
                delay = self.retry.backoff(attempt, err.retry_delay)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise err from e
                _common.log_retry(name, err, attempt, delay)
                time.sleep(delay)

    def _stream(self, call: Callable[[], Iterator[Resp]]) -> Iterator[Resp]:
        stream: Any = call()
        try:
            yield from stream
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from e
        finally:
            stream.cancel()  # a no-op once the stream has ended

    # -- PolicyService ----------------------------------------------------

    def create_policy(self, request: Optional[policy_pb.CreatePolicyRequest] = None, *,
                      policy: Optional[PolicyArg] = None, request_id: Optional[str] = None,
                      timeout: Optional[float] = None, metadata: Metadata = ()) -> policy_pb2.Policy:
        """Creates a policy and returns it. With a ``request_id`` the call is
        idempotent (same key within 24 h: the policy created then) and retried."""
        req = _common.build(policy_pb.CreatePolicyRequest, request,
                            {"policy": policy, "request_id": request_id})
        return self._unary("CreatePolicy", self._policies.CreatePolicy, req,
                           idempotent=bool(req.request_id), timeout=timeout,
                           metadata=metadata).policy

    def get_policy(self, request: Optional[policy_pb.GetPolicyRequest] = None, *,
                   id: Optional[int] = None, timeout: Optional[float] = None,
                   metadata: Metadata = ()) -> policy_pb2.Policy:
        req = _common.build(policy_pb.GetPolicyRequest, request, {"id": id})
        return self._unary("GetPolicy", self._policies.GetPolicy, req, idempotent=True,
                           timeout=timeout, metadata=metadata).policy

    def list_policies(self, request: Optional[policy_pb.ListPoliciesRequest] = None, *,
                      project_id: Optional[int] = None, name_contains: Optional[str] = None,
                      enabled: Optional[bool] = None, event_type: Optional[str] = None,
                      page_size: Optional[int] = None, page_token: Optional[str] = None,
                      timeout: Optional[float] = None,
                      metadata: Metadata = ()) -> Pager[policy_pb2.Policy, policy_pb.ListPoliciesResponse]:
        """Every matching policy, newest first, across pages."""
        req = _common.build(policy_pb.ListPoliciesRequest, request, {
            "project_id": project_id, "name_contains": name_contains, "enabled": enabled,
            "event_type": event_type, "page_size": page_size, "page_token": page_token})

        def fetch(token: str) -> policy_pb.ListPoliciesResponse:
            page_req = policy_pb.ListPoliciesRequest()
            page_req.CopyFrom(req)
            page_req.page_token = token
            return self._unary("ListPolicies", self._policies.ListPolicies, page_req,
                               idempotent=True, timeout=timeout, metadata=metadata)

        return Pager(fetch, lambda page: page.policies, req.page_token)

    def update_policy(self, request: Optional[policy_pb.UpdatePolicyRequest] = None, *,
                      policy: Optional[PolicyArg] = None, update_mask: Optional[MaskArg] = None,
                      timeout: Optional[float] = None,
                      metadata: Metadata = ()) -> policy_pb2.Policy:
        """Updates the fields named in ``update_mask`` (e.g. ``["enabled"]``)."""
        req = _common.build(policy_pb.UpdatePolicyRequest, request,
                            {"policy": policy, "update_mask": update_mask})
        return self._unary("UpdatePolicy", self._policies.UpdatePolicy, req, idempotent=False,
                           timeout=timeout, metadata=metadata).policy

    def delete_policy(self, request: Optional[policy_pb.DeletePolicyRequest] = None, *,
                      id: Optional[int] = None, timeout: Optional[float] = None,
                      metadata: Metadata = ()) -> None:
        req = _common.build(policy_pb.DeletePolicyRequest, request, {"id": id})
        self._unary("DeletePolicy", self._policies.DeletePolicy, req, idempotent=False,
                    timeout=timeout, metadata=metadata)

    def list_event_types(self, *, timeout: Optional[float] = None,
                         metadata: Metadata = ()) -> policy_pb.ListEventTypesResponse:
        """The supported event types, target types and payload formats."""
        return self._unary("ListEventTypes", self._policies.ListEventTypes,
                           policy_pb.ListEventTypesRequest(), idempotent=True,
                           timeout=timeout, metadata=metadata)

    # -- EventService -----------------------------------------------------

    def publish_event(self, request: Optional[event_pb.PublishEventRequest] = None, *,
                      event: Optional[EventArg] = None, request_id: Optional[str] = None,
                      timeout: Optional[float] = None,
                      metadata: Metadata = ()) -> event_pb.EventAck:
        """Publishes one event; returns its acknowledgement. With a
        ``request_id`` the call is idempotent and retried on UNAVAILABLE."""
        req = _common.build(event_pb.PublishEventRequest, request,
                            {"event": event, "request_id": request_id})
        return self._unary("PublishEvent", self._events.PublishEvent, req,
                           idempotent=bool(req.request_id), timeout=timeout,
                           metadata=metadata).ack

    def publish_events(self, events: Iterable[Union[event_pb.PublishEventsRequest, EventArg]], *,
                       timeout: Optional[float] = None,
                       metadata: Metadata = ()) -> Iterator[PublishResult]:
        """Publishes a stream of events (Events or PublishEventsRequests);
        yields one :class:`PublishResult` per event, in order. A refused event
        has ``.error`` set and the stream goes on. Not retried: re-send the
        unacknowledged events with their request_ids."""
        md = self._metadata(metadata)
        requests = (_publish_request(e) for e in events)
        for resp in self._stream(lambda: self._events.PublishEvents(
                requests, timeout=timeout, metadata=md)):
            yield PublishResult.from_response(resp)

    # -- DeliveryService --------------------------------------------------

    def list_executions(self, request: Optional[delivery_pb.ListExecutionsRequest] = None, *,
                        policy_id: Optional[int] = None,
                        status: Optional["delivery_pb2.TaskStatus.ValueType"] = None,
                        event_type: Optional[str] = None, page_size: Optional[int] = None,
                        page_token: Optional[str] = None, timeout: Optional[float] = None,
                        metadata: Metadata = ()
                        ) -> Pager[delivery_pb2.Execution, delivery_pb.ListExecutionsResponse]:
        """A policy's executions, newest first, across pages."""
        req = _common.build(delivery_pb.ListExecutionsRequest, request, {
            "policy_id": policy_id, "status": status, "event_type": event_type,
            "page_size": page_size, "page_token": page_token})

        def fetch(token: str) -> delivery_pb.ListExecutionsResponse:
            page_req = delivery_pb.ListExecutionsRequest()
            page_req.CopyFrom(req)
            page_req.page_token = token
            return self._unary("ListExecutions", self._deliveries.ListExecutions, page_req,
                               idempotent=True, timeout=timeout, metadata=metadata)

        return Pager(fetch, lambda page: page.executions, req.page_token)

    def get_execution(self, request: Optional[delivery_pb.GetExecutionRequest] = None, *,
                      id: Optional[int] = None, timeout: Optional[float] = None,
                      metadata: Metadata = ()) -> delivery_pb2.Execution:
        """One execution with its rendered payload."""
        req = _common.build(delivery_pb.GetExecutionRequest, request, {"id": id})
        return self._unary("GetExecution", self._deliveries.GetExecution, req, idempotent=True,
                           timeout=timeout, metadata=metadata).execution

    def list_tasks(self, request: Optional[delivery_pb.ListTasksRequest] = None, *,
                   execution_id: Optional[int] = None, timeout: Optional[float] = None,
                   metadata: Metadata = ()) -> List[delivery_pb2.Task]:
        req = _common.build(delivery_pb.ListTasksRequest, request, {"execution_id": execution_id})
        return list(self._unary("ListTasks", self._deliveries.ListTasks, req, idempotent=True,
                                timeout=timeout, metadata=metadata).tasks)

    def get_task_log(self, request: Optional[delivery_pb.GetTaskLogRequest] = None, *,
                     task_id: Optional[int] = None, timeout: Optional[float] = None,
                     metadata: Metadata = ()) -> str:
        """The task's log text, one line per attempt."""
        req = _common.build(delivery_pb.GetTaskLogRequest, request, {"task_id": task_id})
        return self._unary("GetTaskLog", self._deliveries.GetTaskLog, req, idempotent=True,
                           timeout=timeout, metadata=metadata).log

    def redeliver_task(self, request: Optional[delivery_pb.RedeliverTaskRequest] = None, *,
                       task_id: Optional[int] = None, timeout: Optional[float] = None,
                       metadata: Metadata = ()) -> delivery_pb2.Task:
        req = _common.build(delivery_pb.RedeliverTaskRequest, request, {"task_id": task_id})
        return self._unary("RedeliverTask", self._deliveries.RedeliverTask, req,
                           idempotent=False, timeout=timeout, metadata=metadata).task

    def redeliver_execution(self, request: Optional[delivery_pb.RedeliverExecutionRequest] = None,
                            *, execution_id: Optional[int] = None,
                            timeout: Optional[float] = None,
                            metadata: Metadata = ()) -> delivery_pb2.Execution:
        req = _common.build(delivery_pb.RedeliverExecutionRequest, request,
                            {"execution_id": execution_id})
        return self._unary("RedeliverExecution", self._deliveries.RedeliverExecution, req,
                           idempotent=False, timeout=timeout, metadata=metadata).execution

    def recover_failed(self, request: Optional[delivery_pb.RecoverFailedRequest] = None, *,
                       policy_id: Optional[int] = None, project_id: Optional[int] = None,
                       start_time: Optional[datetime] = None, end_time: Optional[datetime] = None,
                       dry_run: Optional[bool] = None, timeout: Optional[float] = None,
                       metadata: Metadata = ()) -> Iterator[delivery_pb.RecoverFailedResponse]:
        """Redelivers the failed tasks of a policy or project in a window;
        yields progress messages, the last with ``done`` set."""
        req = _common.build(delivery_pb.RecoverFailedRequest, request, {
            "policy_id": policy_id, "project_id": project_id, "start_time": start_time,
            "end_time": end_time, "dry_run": dry_run})
        md = self._metadata(metadata)
        return self._stream(lambda: self._deliveries.RecoverFailed(req, timeout=timeout,
                                                                   metadata=md))

    def watch_tasks(self, request: Optional[delivery_pb.WatchTasksRequest] = None, *,
                    project_id: Optional[int] = None, policy_id: Optional[int] = None,
                    execution_id: Optional[int] = None,
                    event_types: Optional[Sequence[str]] = None,
                    statuses: Optional[Sequence["delivery_pb2.TaskStatus.ValueType"]] = None,
                    start: Optional["delivery_pb.WatchStart.ValueType"] = None,
                    cursor: Optional[str] = None, retry: Optional[Retry] = None,
                    timeout: Optional[float] = None, metadata: Metadata = ()) -> TaskWatch:
        """Follows task changes live, from now (``start=WATCH_START_SNAPSHOT``:
        the current state of unfinished tasks first; ``cursor=``: after an
        earlier update). Returns a :class:`TaskWatch`, which resumes from its
        cursor by itself after UNAVAILABLE. ``retry`` paces the reconnections
        (default :data:`herald.WATCH_RETRY`, about half a minute of attempts);
        ``timeout`` bounds the whole watch (default: none)."""
        req = _common.build(delivery_pb.WatchTasksRequest, request, {
            "project_id": project_id, "policy_id": policy_id, "execution_id": execution_id,
            "event_types": event_types, "statuses": statuses, "start": start,
            "cursor": cursor})
        md = self._metadata(metadata)
        return TaskWatch(lambda r, t: self._deliveries.WatchTasks(r, timeout=t, metadata=md),
                         req, retry if retry is not None else _common.WATCH_RETRY, timeout)

    # -- AdminService -----------------------------------------------------

    def get_settings(self, *, timeout: Optional[float] = None,
                     metadata: Metadata = ()) -> admin_pb.Settings:
        return self._unary("GetSettings", self._admin.GetSettings, admin_pb.GetSettingsRequest(),
                           idempotent=True, timeout=timeout, metadata=metadata).settings

    def update_settings(self, request: Optional[admin_pb.UpdateSettingsRequest] = None, *,
                        settings: Optional[Union[admin_pb.Settings, Mapping[str, Any]]] = None,
                        update_mask: Optional[MaskArg] = None, timeout: Optional[float] = None,
                        metadata: Metadata = ()) -> admin_pb.Settings:
        """Changes the settings named in ``update_mask`` (every set field when
        omitted); returns the settings after the change."""
        req = _common.build(admin_pb.UpdateSettingsRequest, request,
                            {"settings": settings, "update_mask": update_mask})
        return self._unary("UpdateSettings", self._admin.UpdateSettings, req, idempotent=False,
                           timeout=timeout, metadata=metadata).settings

    def create_token(self, request: Optional[admin_pb.CreateTokenRequest] = None, *,
                     token: Optional[Union[admin_pb.Token, Mapping[str, Any]]] = None,
                     timeout: Optional[float] = None,
                     metadata: Metadata = ()) -> admin_pb.CreateTokenResponse:
        """Creates a token; the response's ``secret`` is shown only here."""
        req = _common.build(admin_pb.CreateTokenRequest, request, {"token": token})
        return self._unary("CreateToken", self._admin.CreateToken, req, idempotent=False,
                           timeout=timeout, metadata=metadata)

    def list_tokens(self, request: Optional[admin_pb.ListTokensRequest] = None, *,
                    page_size: Optional[int] = None, show_revoked: Optional[bool] = None,
                    page_token: Optional[str] = None, timeout: Optional[float] = None,
                    metadata: Metadata = ()) -> Pager[admin_pb.Token, admin_pb.ListTokensResponse]:
        """Every token (never their secrets), oldest first, across pages."""
        req = _common.build(admin_pb.ListTokensRequest, request, {
            "page_size": page_size, "show_revoked": show_revoked, "page_token": page_token})

        def fetch(token: str) -> admin_pb.ListTokensResponse:
            page_req = admin_pb.ListTokensRequest()
            page_req.CopyFrom(req)
            page_req.page_token = token
            return self._unary("ListTokens", self._admin.ListTokens, page_req, idempotent=True,
                               timeout=timeout, metadata=metadata)

        return Pager(fetch, lambda page: page.tokens, req.page_token)

    def revoke_token(self, request: Optional[admin_pb.RevokeTokenRequest] = None, *,
                     id: Optional[int] = None, timeout: Optional[float] = None,
                     metadata: Metadata = ()) -> None:
        """Revokes a token at once (revoking twice is not an error)."""
        req = _common.build(admin_pb.RevokeTokenRequest, request, {"id": id})
        self._unary("RevokeToken", self._admin.RevokeToken, req, idempotent=True,
                    timeout=timeout, metadata=metadata)

    def get_server_info(self, *, timeout: Optional[float] = None,
                        metadata: Metadata = ()) -> admin_pb.GetServerInfoResponse:
        """The server's version and store, and the caller's own token."""
        return self._unary("GetServerInfo", self._admin.GetServerInfo,
                           admin_pb.GetServerInfoRequest(), idempotent=True, timeout=timeout,
                           metadata=metadata)
