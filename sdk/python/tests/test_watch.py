"""watch_tasks: an iterator that resumes from its cursor by itself.

Against a real heraldd (restarted under the watch), and against an
in-process fake DeliveryService that breaks the stream on purpose, so the
resume logic is checked exactly (cursors sent, nothing lost or repeated)."""

from __future__ import annotations

import queue
import threading
import time
from concurrent import futures
from typing import Any, Iterator, List, Tuple

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import herald
from herald import errors
from herald.v1 import delivery_pb2, delivery_service_pb2, delivery_service_pb2_grpc

from conftest import Heraldd, http_policy, push_event, skip_if_unimplemented

FAST_CHANNEL = [("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 300)]
FAST_RETRY = herald.Retry(max_attempts=50, initial_backoff=0.05, max_backoff=0.3)

Item = Tuple[str, Any]


def consume(watch: herald.TaskWatch) -> "queue.Queue[Item]":
    """Iterates the watch in a thread; puts ("update", u), then ("end", None)
    or ("error", e)."""
    out: "queue.Queue[Item]" = queue.Queue()

    def run() -> None:
        try:
            for update in watch:
                out.put(("update", update))
            out.put(("end", None))
        except Exception as e:  # noqa: BLE001 - handed to the test
            out.put(("error", e))

    threading.Thread(target=run, daemon=True).start()
    return out


def next_update(out: "queue.Queue[Item]", timeout: float = 30) -> delivery_pb2.TaskUpdate:
    kind, value = out.get(timeout=timeout)
    if kind == "error":
        if isinstance(value, errors.Unimplemented):
            skip_if_unimplemented(value, "WatchTasks")
        raise value
    assert kind == "update", kind
    assert isinstance(value, delivery_pb2.TaskUpdate)
    return value


def test_watch_follows_tasks_across_a_restart(own_server: Heraldd) -> None:
    with herald.Client(own_server.address, token=own_server.admin_token,
                       channel_options=FAST_CHANNEL) as client:
        # Nothing listens on port 9: each task fails its first attempt and
        # waits (tens of seconds) for the next, so it stays not final.
        policy = client.create_policy(policy=http_policy(1, "watched"))
        client.publish_event(event=push_event(1, "first"))
        first = next(iter(client.list_executions(policy_id=policy.id)))

        watch = client.watch_tasks(policy_id=policy.id,
                                   start=herald.WatchStart.WATCH_START_SNAPSHOT,
                                   retry=FAST_RETRY)
        out = consume(watch)
        try:
            snap = next_update(out)
            assert snap.snapshot and snap.execution.execution_id == first.id
            assert snap.execution.policy_id == policy.id and snap.cursor
            while True:  # the first attempt's changes, if they came after the snapshot
                try:
                    kind, value = out.get(timeout=1)
                except queue.Empty:
                    break
                assert kind == "update", value
            cursor_before = watch.cursor

            own_server.restart()  # the stream breaks; the watch reconnects by itself

            client.publish_event(event=push_event(1, "second"), request_id="watch-2")
            seen: List[delivery_pb2.TaskUpdate] = []
            while not any(u.task.status == herald.TaskStatus.TASK_STATUS_ERROR for u in seen):
                seen.append(next_update(out))
            assert watch.reconnects >= 1
            assert watch.cursor != cursor_before
            # Only the new task's changes: nothing from before the restart again.
            assert all(not u.snapshot for u in seen)
            assert {u.execution.execution_id for u in seen} == {
                e.id for e in client.list_executions(policy_id=policy.id)} - {first.id}
            assert len({u.cursor for u in seen}) == len(seen)
        finally:
            watch.close()
        assert out.get(timeout=10)[0] in ("end", "error")


def test_watch_errors_are_typed_and_close_ends_it(admin: herald.Client, project_id: int) -> None:
    with pytest.raises(errors.HeraldError) as info:
        next(admin.watch_tasks(policy_id=10**9))
    skip_if_unimplemented(info.value, "WatchTasks")
    assert isinstance(info.value, errors.NotFound)
    # A quiet watch (a project without tasks) ends when closed from another thread.
    watch = admin.watch_tasks(project_id=project_id)
    out = consume(watch)
    time.sleep(0.3)
    assert out.empty()
    watch.close()
    assert out.get(timeout=10) == ("end", None)


# ---------------------------------------------------------------------------
# The resume logic against a fake server


def update(n: int, snapshot: bool = False) -> delivery_pb2.TaskUpdate:
    return delivery_pb2.TaskUpdate(
        cursor=f"c{n}", snapshot=snapshot,
        task=delivery_pb2.Task(id=n, status=delivery_pb2.TASK_STATUS_RUNNING),
        execution=delivery_pb2.ExecutionSummary(execution_id=n, policy_id=7))


def status_details(code: int, reason: str) -> Tuple[Tuple[str, bytes], ...]:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="herald.dev"))
    st = status_pb2.Status(code=code, message=reason.lower(), details=[info])
    return (("grpc-status-details-bin", st.SerializeToString()),)


class FakeDeliveries(delivery_service_pb2_grpc.DeliveryServiceServicer):
    """Plays a script: one list of steps per call. A step is a batch (list of
    updates) to send, or an (code, reason) error that ends the call."""

    def __init__(self, script: List[List[Any]]) -> None:
        self.script = script
        self.requests: List[delivery_service_pb2.WatchTasksRequest] = []
        self.metadata: List[Any] = []

    def WatchTasks(self, request: delivery_service_pb2.WatchTasksRequest,
                   context: grpc.ServicerContext) -> Iterator[delivery_service_pb2.WatchTasksResponse]:
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        steps = self.script[len(self.requests) - 1] if len(self.requests) <= len(self.script) else []
        for step in steps:
            if isinstance(step, tuple):
                code, reason = step
                context.set_trailing_metadata(status_details(code.value[0], reason))
                context.abort(code, reason.lower())
            yield delivery_service_pb2.WatchTasksResponse(updates=step)


@pytest.fixture
def fake() -> Iterator[Any]:
    servers: List[grpc.Server] = []

    def start(script: List[List[Any]]) -> Tuple[FakeDeliveries, str]:
        servicer = FakeDeliveries(script)  # type: ignore[abstract]  # only WatchTasks
        srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        delivery_service_pb2_grpc.add_DeliveryServiceServicer_to_server(servicer, srv)
        port = srv.add_insecure_port("127.0.0.1:0")
        srv.start()
        servers.append(srv)
        return servicer, f"127.0.0.1:{port}"

    yield start
    for s in servers:
        s.stop(None)


UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def test_resumes_from_the_last_cursor(fake: Any) -> None:
    servicer, address = fake([
        [[update(1, True), update(2, True)], [update(3)], (UNAVAILABLE, "SHUTTING_DOWN")],
        [[update(4)], (UNAVAILABLE, "CONSUMER_TOO_SLOW")],
        [[update(5), update(6)]],  # then the server ends the stream
    ])
    with herald.Client(address, token="t") as client:
        with client.watch_tasks(project_id=3, event_types=["PUSH_ARTIFACT"],
                                start=herald.WatchStart.WATCH_START_SNAPSHOT,
                                retry=FAST_RETRY) as watch:
            got = [u.cursor for u in watch]
    assert got == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert [r.cursor for r in servicer.requests] == ["", "c3", "c4"]
    assert all(r.project_id == 3 and list(r.event_types) == ["PUSH_ARTIFACT"]
               and r.start == delivery_service_pb2.WATCH_START_SNAPSHOT
               for r in servicer.requests)
    assert all(md.get("authorization") == "Bearer t" for md in servicer.metadata)
    assert watch.reconnects == 2 and watch.cursor == "c6"


def test_resumes_from_a_given_cursor(fake: Any) -> None:
    servicer, address = fake([[[update(8)]]])
    with herald.Client(address, token="t") as client:
        assert [u.cursor for u in client.watch_tasks(cursor="c7")] == ["c8"]
    assert servicer.requests[0].cursor == "c7"


def test_other_errors_end_the_watch(fake: Any) -> None:
    servicer, address = fake([[[update(1)], (grpc.StatusCode.OUT_OF_RANGE, "CURSOR_EXPIRED")]])
    with herald.Client(address, token="t") as client:
        watch = client.watch_tasks(cursor="old", retry=FAST_RETRY)
        assert next(watch).cursor == "c1"
        with pytest.raises(errors.CursorExpired) as info:
            next(watch)
    assert info.value.code == grpc.StatusCode.OUT_OF_RANGE
    assert len(servicer.requests) == 1


def test_gives_up_after_max_attempts_without_progress(fake: Any) -> None:
    servicer, address = fake([[(UNAVAILABLE, "SHUTTING_DOWN")]] * 10)
    with herald.Client(address, token="t") as client:
        watch = client.watch_tasks(retry=herald.Retry(max_attempts=3, initial_backoff=0.01))
        with pytest.raises(errors.ShuttingDown):
            next(watch)
    assert len(servicer.requests) == 3


def test_close_from_another_thread_ends_the_iteration(fake: Any) -> None:
    class Forever(FakeDeliveries):
        def WatchTasks(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            yield delivery_service_pb2.WatchTasksResponse(updates=[update(1)])
            while context.is_active():
                time.sleep(0.05)

    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = Forever([])  # type: ignore[abstract]  # only WatchTasks
    delivery_service_pb2_grpc.add_DeliveryServiceServicer_to_server(servicer, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        with herald.Client(f"127.0.0.1:{port}", token="t") as client:
            watch = client.watch_tasks()
            out = consume(watch)
            assert next_update(out).cursor == "c1"
            watch.close()
            assert out.get(timeout=10) == ("end", None)
    finally:
        srv.stop(None)


def test_timeout_bounds_the_whole_watch(fake: Any) -> None:
    # Each stream breaks at once: the watch keeps reconnecting until its
    # timeout, then ends with DEADLINE_EXCEEDED.
    servicer, address = fake([[[update(1)], (UNAVAILABLE, "SHUTTING_DOWN")]] * 1000)
    with herald.Client(address, token="t") as client:
        started = time.monotonic()
        watch = client.watch_tasks(timeout=1.0, retry=herald.Retry(
            max_attempts=10**6, initial_backoff=0.05, max_backoff=0.05))
        with pytest.raises(errors.DeadlineExceeded):
            for _ in watch:
                pass
        assert time.monotonic() - started < 5
    assert len(servicer.requests) > 1
    assert servicer.requests[1].cursor == "c1"
