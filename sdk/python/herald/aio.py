"""The asyncio herald client: ``herald.aio.Client``.

The same methods as :class:`herald.Client`, as coroutines; list methods
return an :class:`AsyncPager` (``async for``), streams async iterators.
Create it inside a running event loop and close it with ``await
client.close()`` or ``async with``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import datetime
from typing import (
    Any,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Generic,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import grpc
import grpc.aio
from google.protobuf.message import Message

from herald import _common, errors
from herald._common import DEFAULT_TIMEOUT, Metadata, Retry, TLSOption
from herald.client import EventArg, MaskArg, PolicyArg, PublishResult, _publish_request
from herald.v1 import (
    admin_service_pb2 as admin_pb,
    admin_service_pb2_grpc as admin_grpc,
    delivery_pb2,
    delivery_service_pb2 as delivery_pb,
    delivery_service_pb2_grpc as delivery_grpc,
    event_service_pb2 as event_pb,
    event_service_pb2_grpc as event_grpc,
    policy_pb2,
    policy_service_pb2 as policy_pb,
    policy_service_pb2_grpc as policy_grpc,
)

__all__ = ["Client", "AsyncPager", "AsyncTaskWatch", "PublishResult"]

T = TypeVar("T")
P = TypeVar("P", bound=Message)
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


class AsyncPager(Generic[T, P]):
    """``async for item in client.list_policies(...)``: every item of every
    page, fetched lazily; :meth:`pages` yields the response messages."""

    def __init__(self, fetch: Callable[[str], Awaitable[P]], items: Callable[[P], Sequence[T]],
                 first_token: str = "") -> None:
        self._fetch = fetch
        self._items = items
        self._first_token = first_token
        self.total_size: Optional[int] = None

    async def pages(self) -> AsyncIterator[P]:
        token = self._first_token
        while True:
            page = await self._fetch(token)
            self.total_size = int(getattr(page, "total_size", 0))
            yield page
            next_token = str(getattr(page, "next_page_token", ""))
            if not next_token:
                return
            if next_token == token:
                raise RuntimeError("herald: the server returned the same page token twice")
            token = next_token

    async def _iterate(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in self._items(page):
                yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def collect(self) -> List[T]:
        """Every item of every page, as a list."""
        return [item async for item in self]


class AsyncTaskWatch(AsyncIterator[delivery_pb2.TaskUpdate]):
    """The asyncio form of :class:`herald.TaskWatch`: the stream opens when
    the watch is created, resumes from its cursor by itself after
    UNAVAILABLE, and :meth:`close` ends it."""

    def __init__(self, open_stream: Callable[[delivery_pb.WatchTasksRequest, Optional[float]], Any],
                 request: delivery_pb.WatchTasksRequest, retry: Retry,
                 timeout: Optional[float] = None) -> None:
        self._open_stream = open_stream
        self._request = request
        self._retry = retry
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._closed = False
        self._failures = 0
        self._buffer: Deque[delivery_pb2.TaskUpdate] = collections.deque()
        self.cursor: str = request.cursor
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

    def __aiter__(self) -> "AsyncTaskWatch":
        return self

    async def __anext__(self) -> delivery_pb2.TaskUpdate:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._buffer:
                update = self._buffer.popleft()
                if update.cursor:
                    self.cursor = update.cursor
                return update
            if self._call is None:
                self._call = self._open()
            call = self._call
            try:
                response = await call.read()
            except asyncio.CancelledError:
                if self._closed:
                    raise StopAsyncIteration from None
                raise
            except grpc.RpcError as e:
                self._call = None
                if self._closed:
                    raise StopAsyncIteration from None
                err = errors.from_rpc_error(e)
                self._failures += 1
                if not _common.watch_should_resume(err) or self._failures >= self._retry.max_attempts:
                    raise err from e
                delay = self._retry.backoff(self._failures, err.retry_delay)
                _common.log_retry("WatchTasks", err, self._failures, delay)
                await asyncio.sleep(delay)
                self.reconnects += 1
                continue
            if response is grpc.aio.EOF:  # the server ended the stream
                self._call = None
                self._closed = True
                raise StopAsyncIteration
            self._failures = 0
            # A message batches one or more updates, oldest first.
            self._buffer.extend(response.updates)

    def close(self) -> None:
        self._closed = True
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    async def __aenter__(self) -> "AsyncTaskWatch":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Client:
    """An asyncio client for a herald server; see :class:`herald.Client` for
    the options (address, token, tls, timeout, retry, channel_options)."""

    def __init__(self, address: str, *, token: Optional[str] = None, tls: TLSOption = None,
                 timeout: Optional[float] = DEFAULT_TIMEOUT, retry: Optional[Retry] = None,
                 channel_options: Sequence[Tuple[str, Any]] = ()) -> None:
        spec = _common.channel_spec(address, tls, channel_options)
        if spec.credentials is None:
            self._channel = grpc.aio.insecure_channel(spec.address, options=spec.options)
        else:
            self._channel = grpc.aio.secure_channel(spec.address, spec.credentials,
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
    def channel(self) -> grpc.aio.Channel:
        return self._channel

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_for_ready(self, timeout: Optional[float] = None) -> None:
        """Waits until the channel is connected; raises
        :class:`herald.errors.Unavailable` after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except asyncio.TimeoutError:
            raise errors.Unavailable(f"could not connect to {self.address}") from None

    def _metadata(self, extra: Metadata) -> Tuple[Tuple[str, Union[str, bytes]], ...]:
        return (*self._auth, *extra)

    async def _unary(self, name: str, method: Callable[..., Any], request: Req, *,
                     idempotent: bool, timeout: Optional[float], metadata: Metadata) -> Any:
        total = self.timeout if timeout is None else timeout
        deadline = None if total is None else time.monotonic() + total
        md = self._metadata(metadata)
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await method(request, timeout=remaining, metadata=md)
            except grpc.RpcError as e:
                err = errors.from_rpc_error(e)
                if not _common.should_retry(err, idempotent, attempt, self.retry):
                    raise err from e
                delay = self.retry.backoff(attempt, err.retry_delay)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise err from e
                _common.log_retry(name, err, attempt, delay)
                await asyncio.sleep(delay)

    async def _stream(self, call: Any) -> AsyncIterator[Any]:
        try:
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    return
                yield resp
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from e
        finally:
            call.cancel()

    # -- PolicyService ----------------------------------------------------

    async def create_policy(self, request: Optional[policy_pb.CreatePolicyRequest] = None, *,
                            policy: Optional[PolicyArg] = None, request_id: Optional[str] = None,
                            timeout: Optional[float] = None,
                            metadata: Metadata = ()) -> policy_pb2.Policy:
        req = _common.build(policy_pb.CreatePolicyRequest, request,
                            {"policy": policy, "request_id": request_id})
        resp: policy_pb.CreatePolicyResponse = await self._unary(
            "CreatePolicy", self._policies.CreatePolicy, req, idempotent=bool(req.request_id),
            timeout=timeout, metadata=metadata)
        return resp.policy

    async def get_policy(self, request: Optional[policy_pb.GetPolicyRequest] = None, *,
                         id: Optional[int] = None, timeout: Optional[float] = None,
                         metadata: Metadata = ()) -> policy_pb2.Policy:
        req = _common.build(policy_pb.GetPolicyRequest, request, {"id": id})
        resp: policy_pb.GetPolicyResponse = await self._unary(
            "GetPolicy", self._policies.GetPolicy, req, idempotent=True, timeout=timeout,
            metadata=metadata)
        return resp.policy

    def list_policies(self, request: Optional[policy_pb.ListPoliciesRequest] = None, *,
                      project_id: Optional[int] = None, name_contains: Optional[str] = None,
                      enabled: Optional[bool] = None, event_type: Optional[str] = None,
                      page_size: Optional[int] = None, page_token: Optional[str] = None,
                      timeout: Optional[float] = None, metadata: Metadata = ()
                      ) -> AsyncPager[policy_pb2.Policy, policy_pb.ListPoliciesResponse]:
        req = _common.build(policy_pb.ListPoliciesRequest, request, {
            "project_id": project_id, "name_contains": name_contains, "enabled": enabled,
            "event_type": event_type, "page_size": page_size, "page_token": page_token})

        async def fetch(token: str) -> policy_pb.ListPoliciesResponse:
            page_req = policy_pb.ListPoliciesRequest()
            page_req.CopyFrom(req)
            page_req.page_token = token
            resp: policy_pb.ListPoliciesResponse = await self._unary(
                "ListPolicies", self._policies.ListPolicies, page_req, idempotent=True,
                timeout=timeout, metadata=metadata)
            return resp

        return AsyncPager(fetch, lambda page: page.policies, req.page_token)

    async def update_policy(self, request: Optional[policy_pb.UpdatePolicyRequest] = None, *,
                            policy: Optional[PolicyArg] = None,
                            update_mask: Optional[MaskArg] = None,
                            timeout: Optional[float] = None,
                            metadata: Metadata = ()) -> policy_pb2.Policy:
        req = _common.build(policy_pb.UpdatePolicyRequest, request,
                            {"policy": policy, "update_mask": update_mask})
        resp: policy_pb.UpdatePolicyResponse = await self._unary(
            "UpdatePolicy", self._policies.UpdatePolicy, req, idempotent=False,
            timeout=timeout, metadata=metadata)
        return resp.policy

    async def delete_policy(self, request: Optional[policy_pb.DeletePolicyRequest] = None, *,
                            id: Optional[int] = None, timeout: Optional[float] = None,
                            metadata: Metadata = ()) -> None:
        req = _common.build(policy_pb.DeletePolicyRequest, request, {"id": id})
        await self._unary("DeletePolicy", self._policies.DeletePolicy, req, idempotent=False,
                          timeout=timeout, metadata=metadata)

    async def list_event_types(self, *, timeout: Optional[float] = None,
                               metadata: Metadata = ()) -> policy_pb.ListEventTypesResponse:
        resp: policy_pb.ListEventTypesResponse = await self._unary(
            "ListEventTypes", self._policies.ListEventTypes, policy_pb.ListEventTypesRequest(),
            idempotent=True, timeout=timeout, metadata=metadata)
        return resp

    # -- EventService -----------------------------------------------------

    async def publish_event(self, request: Optional[event_pb.PublishEventRequest] = None, *,
                            event: Optional[EventArg] = None, request_id: Optional[str] = None,
                            timeout: Optional[float] = None,
                            metadata: Metadata = ()) -> event_pb.EventAck:
        req = _common.build(event_pb.PublishEventRequest, request,
                            {"event": event, "request_id": request_id})
        resp: event_pb.PublishEventResponse = await self._unary(
            "PublishEvent", self._events.PublishEvent, req, idempotent=bool(req.request_id),
            timeout=timeout, metadata=metadata)
        return resp.ack

    async def publish_events(
            self,
            events: Union[Iterable[Union[event_pb.PublishEventsRequest, EventArg]],
                          AsyncIterable[Union[event_pb.PublishEventsRequest, EventArg]]], *,
            timeout: Optional[float] = None,
            metadata: Metadata = ()) -> AsyncIterator[PublishResult]:
        """Publishes a stream of events; yields one :class:`PublishResult`
        per event, in order. Not retried."""

        async def requests() -> AsyncIterator[event_pb.PublishEventsRequest]:
            if isinstance(events, AsyncIterable):
                async for item in events:
                    yield _publish_request(item)
            else:
                for item in events:
                    yield _publish_request(item)

        call = self._events.PublishEvents(requests(), timeout=timeout,
                                          metadata=self._metadata(metadata))
        async for resp in self._stream(call):
            yield PublishResult.from_response(resp)

    # -- DeliveryService --------------------------------------------------

    def list_executions(self, request: Optional[delivery_pb.ListExecutionsRequest] = None, *,
                        policy_id: Optional[int] = None,
                        status: Optional["delivery_pb2.TaskStatus.ValueType"] = None,
                        event_type: Optional[str] = None, page_size: Optional[int] = None,
                        page_token: Optional[str] = None, timeout: Optional[float] = None,
                        metadata: Metadata = ()
                        ) -> AsyncPager[delivery_pb2.Execution, delivery_pb.ListExecutionsResponse]:
        req = _common.build(delivery_pb.ListExecutionsRequest, request, {
            "policy_id": policy_id, "status": status, "event_type": event_type,
            "page_size": page_size, "page_token": page_token})

        async def fetch(token: str) -> delivery_pb.ListExecutionsResponse:
            page_req = delivery_pb.ListExecutionsRequest()
            page_req.CopyFrom(req)
            page_req.page_token = token
            resp: delivery_pb.ListExecutionsResponse = await self._unary(
                "ListExecutions", self._deliveries.ListExecutions, page_req, idempotent=True,
                timeout=timeout, metadata=metadata)
            return resp

        return AsyncPager(fetch, lambda page: page.executions, req.page_token)

    async def get_execution(self, request: Optional[delivery_pb.GetExecutionRequest] = None, *,
                            id: Optional[int] = None, timeout: Optional[float] = None,
                            metadata: Metadata = ()) -> delivery_pb2.Execution:
        req = _common.build(delivery_pb.GetExecutionRequest, request, {"id": id})
        resp: delivery_pb.GetExecutionResponse = await self._unary(
            "GetExecution", self._deliveries.GetExecution, req, idempotent=True,
            timeout=timeout, metadata=metadata)
        return resp.execution

    async def list_tasks(self, request: Optional[delivery_pb.ListTasksRequest] = None, *,
                         execution_id: Optional[int] = None, timeout: Optional[float] = None,
                         metadata: Metadata = ()) -> List[delivery_pb2.Task]:
        req = _common.build(delivery_pb.ListTasksRequest, request, {"execution_id": execution_id})
        resp: delivery_pb.ListTasksResponse = await self._unary(
            "ListTasks", self._deliveries.ListTasks, req, idempotent=True, timeout=timeout,
            metadata=metadata)
        return list(resp.tasks)

    async def get_task_log(self, request: Optional[delivery_pb.GetTaskLogRequest] = None, *,
                           task_id: Optional[int] = None, timeout: Optional[float] = None,
                           metadata: Metadata = ()) -> str:
        req = _common.build(delivery_pb.GetTaskLogRequest, request, {"task_id": task_id})
        resp: delivery_pb.GetTaskLogResponse = await self._unary(
            "GetTaskLog", self._deliveries.GetTaskLog, req, idempotent=True, timeout=timeout,
            metadata=metadata)
        return resp.log

    async def redeliver_task(self, request: Optional[delivery_pb.RedeliverTaskRequest] = None,
                             *, task_id: Optional[int] = None, timeout: Optional[float] = None,
                             metadata: Metadata = ()) -> delivery_pb2.Task:
        req = _common.build(delivery_pb.RedeliverTaskRequest, request, {"task_id": task_id})
        resp: delivery_pb.RedeliverTaskResponse = await self._unary(
            "RedeliverTask", self._deliveries.RedeliverTask, req, idempotent=False,
            timeout=timeout, metadata=metadata)
        return resp.task

    async def redeliver_execution(
            self, request: Optional[delivery_pb.RedeliverExecutionRequest] = None, *,
            execution_id: Optional[int] = None, timeout: Optional[float] = None,
            metadata: Metadata = ()) -> delivery_pb2.Execution:
        req = _common.build(delivery_pb.RedeliverExecutionRequest, request,
                            {"execution_id": execution_id})
        resp: delivery_pb.RedeliverExecutionResponse = await self._unary(
            "RedeliverExecution", self._deliveries.RedeliverExecution, req, idempotent=False,
            timeout=timeout, metadata=metadata)
        return resp.execution

    async def recover_failed(self, request: Optional[delivery_pb.RecoverFailedRequest] = None, *,
                             policy_id: Optional[int] = None, project_id: Optional[int] = None,
                             start_time: Optional[datetime] = None,
                             end_time: Optional[datetime] = None,
                             dry_run: Optional[bool] = None, timeout: Optional[float] = None,
                             metadata: Metadata = ()
                             ) -> AsyncIterator[delivery_pb.RecoverFailedResponse]:
        req = _common.build(delivery_pb.RecoverFailedRequest, request, {
            "policy_id": policy_id, "project_id": project_id, "start_time": start_time,
            "end_time": end_time, "dry_run": dry_run})
        call = self._deliveries.RecoverFailed(req, timeout=timeout,
                                              metadata=self._metadata(metadata))
        async for resp in self._stream(call):
            yield resp

    def watch_tasks(self, request: Optional[delivery_pb.WatchTasksRequest] = None, *,
                    project_id: Optional[int] = None, policy_id: Optional[int] = None,
                    execution_id: Optional[int] = None,
                    event_types: Optional[Sequence[str]] = None,
                    statuses: Optional[Sequence["delivery_pb2.TaskStatus.ValueType"]] = None,
                    start: Optional["delivery_pb.WatchStart.ValueType"] = None,
                    cursor: Optional[str] = None, retry: Optional[Retry] = None,
                    timeout: Optional[float] = None,
                    metadata: Metadata = ()) -> AsyncTaskWatch:
        """See :meth:`herald.Client.watch_tasks`; iterate with ``async for``."""
        req = _common.build(delivery_pb.WatchTasksRequest, request, {
            "project_id": project_id, "policy_id": policy_id, "execution_id": execution_id,
            "event_types": event_types, "statuses": statuses, "start": start,
            "cursor": cursor})
        md = self._metadata(metadata)
        return AsyncTaskWatch(
            lambda r, t: self._deliveries.WatchTasks(r, timeout=t, metadata=md), req,
            retry if retry is not None else _common.WATCH_RETRY, timeout)

    # -- AdminService -----------------------------------------------------

    async def get_settings(self, *, timeout: Optional[float] = None,
                           metadata: Metadata = ()) -> admin_pb.Settings:
        resp: admin_pb.GetSettingsResponse = await self._unary(
            "GetSettings", self._admin.GetSettings, admin_pb.GetSettingsRequest(),
            idempotent=True, timeout=timeout, metadata=metadata)
        return resp.settings

    async def update_settings(self, request: Optional[admin_pb.UpdateSettingsRequest] = None, *,
                              settings: Optional[Union[admin_pb.Settings, Mapping[str, Any]]] = None,
                              update_mask: Optional[MaskArg] = None,
                              timeout: Optional[float] = None,
                              metadata: Metadata = ()) -> admin_pb.Settings:
        req = _common.build(admin_pb.UpdateSettingsRequest, request,
                            {"settings": settings, "update_mask": update_mask})
        resp: admin_pb.UpdateSettingsResponse = await self._unary(
            "UpdateSettings", self._admin.UpdateSettings, req, idempotent=False,
            timeout=timeout, metadata=metadata)
        return resp.settings

    async def create_token(self, request: Optional[admin_pb.CreateTokenRequest] = None, *,
                           token: Optional[Union[admin_pb.Token, Mapping[str, Any]]] = None,
                           timeout: Optional[float] = None,
                           metadata: Metadata = ()) -> admin_pb.CreateTokenResponse:
        req = _common.build(admin_pb.CreateTokenRequest, request, {"token": token})
        resp: admin_pb.CreateTokenResponse = await self._unary(
            "CreateToken", self._admin.CreateToken, req, idempotent=False, timeout=timeout,
            metadata=metadata)
        return resp

    def list_tokens(self, request: Optional[admin_pb.ListTokensRequest] = None, *,
                    page_size: Optional[int] = None, show_revoked: Optional[bool] = None,
                    page_token: Optional[str] = None, timeout: Optional[float] = None,
                    metadata: Metadata = ()
                    ) -> AsyncPager[admin_pb.Token, admin_pb.ListTokensResponse]:
        req = _common.build(admin_pb.ListTokensRequest, request, {
            "page_size": page_size, "show_revoked": show_revoked, "page_token": page_token})

        async def fetch(token: str) -> admin_pb.ListTokensResponse:
            page_req = admin_pb.ListTokensRequest()
            page_req.CopyFrom(req)
            page_req.page_token = token
            resp: admin_pb.ListTokensResponse = await self._unary(
                "ListTokens", self._admin.ListTokens, page_req, idempotent=True,
                timeout=timeout, metadata=metadata)
            return resp

        return AsyncPager(fetch, lambda page: page.tokens, req.page_token)

    async def revoke_token(self, request: Optional[admin_pb.RevokeTokenRequest] = None, *,
                           id: Optional[int] = None, timeout: Optional[float] = None,
                           metadata: Metadata = ()) -> None:
        req = _common.build(admin_pb.RevokeTokenRequest, request, {"id": id})
        await self._unary("RevokeToken", self._admin.RevokeToken, req, idempotent=True,
                          timeout=timeout, metadata=metadata)

    async def get_server_info(self, *, timeout: Optional[float] = None,
                              metadata: Metadata = ()) -> admin_pb.GetServerInfoResponse:
        resp: admin_pb.GetServerInfoResponse = await self._unary(
            "GetServerInfo", self._admin.GetServerInfo, admin_pb.GetServerInfoRequest(),
            idempotent=True, timeout=timeout, metadata=metadata)
        return resp
