"""herald.aio.Client: the same calls as coroutines, async pagers and streams."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator, List

import grpc
import pytest

import herald
import herald.aio
from herald import errors

from conftest import Heraldd, Receiver, http_policy, push_event, skip_if_unimplemented
from test_watch import FAST_CHANNEL, FAST_RETRY, UNAVAILABLE, fake, update  # noqa: F401


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_policies_and_pagination(server: Heraldd, project_id: int) -> None:
    async def main() -> None:
        async with herald.aio.Client(server.address, token=server.admin_token) as client:
            ids = [(await client.create_policy(policy=http_policy(project_id, f"aio-{i}"))).id
                   for i in range(5)]
            pager = client.list_policies(project_id=project_id, page_size=2)
            listed = [p.id async for p in pager]
            assert listed == sorted(ids, reverse=True) and pager.total_size == 5
            pages = [p async for p in client.list_policies(project_id=project_id,
                                                           page_size=2).pages()]
            assert [len(p.policies) for p in pages] == [2, 2, 1]
            assert len(await client.list_policies(project_id=project_id).collect()) == 5
            got = await client.get_policy(id=ids[0])
            assert got.name == "aio-0"
            updated = await client.update_policy(policy={"id": ids[0], "enabled": False},
                                                 update_mask=["enabled"])
            assert not updated.enabled
            await client.delete_policy(id=ids[0])
            with pytest.raises(errors.NotFound):
                await client.get_policy(id=ids[0])
            types = await client.list_event_types()
            assert len(types.event_types) == 10

    run(main())


def test_errors(server: Heraldd, project_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_TOKEN", raising=False)

    async def main() -> None:
        async with herald.aio.Client(server.address, token=server.admin_token) as client:
            with pytest.raises(errors.InvalidArgument) as info:
                await client.create_policy(policy={"project_id": project_id, "name": "bad",
                                                   "event_types": ["PUSH_ARTIFACT"],
                                                   "targets": [{"type": "TARGET_TYPE_HTTP",
                                                                "address": "nope"}]})
            assert [v.field for v in info.value.field_violations] == ["policy.targets[0].address"]
            assert isinstance(info.value.__cause__, grpc.aio.AioRpcError)
        async with herald.aio.Client(server.address) as anonymous:
            with pytest.raises(errors.TokenMissing):
                await anonymous.get_server_info()

    run(main())


def test_events_deliveries_and_admin(server: Heraldd, project_id: int,
                                     receiver: Receiver) -> None:
    async def events() -> AsyncIterator[Any]:
        for tag in ("a", "b"):
            yield push_event(project_id, tag)
            await asyncio.sleep(0)

    async def main() -> None:
        async with herald.aio.Client(server.address, token=server.admin_token) as client:
            policy = await client.create_policy(
                policy=http_policy(project_id, "aio-deliveries", receiver.url),
                request_id=f"aio-{project_id}")
            ack = await client.publish_event(event=push_event(project_id), request_id="aio-1")
            assert ack.deliveries_created == 1
            results = [r async for r in client.publish_events(events())]
            assert [r.sequence for r in results] == [1, 2] and all(r.ok for r in results)
            results = [r async for r in client.publish_events([push_event(project_id, "c")])]
            assert results[0].ack is not None and results[0].ack.deliveries_created == 1

            executions = await client.list_executions(policy_id=policy.id, page_size=2).collect()
            assert len(executions) == 4
            execution = await client.get_execution(id=executions[0].id)
            assert execution.payload and execution.webhook_id
            tasks = await client.list_tasks(execution_id=execution.id)
            assert len(tasks) == 1
            for _ in range(200):
                tasks = await client.list_tasks(execution_id=execution.id)
                if tasks[0].final:
                    break
                await asyncio.sleep(0.05)
            assert tasks[0].status == herald.TaskStatus.TASK_STATUS_SUCCESS
            try:
                assert "attempt 1" in await client.get_task_log(task_id=tasks[0].id)
                redone = await client.redeliver_task(task_id=tasks[0].id)
            except errors.Unimplemented as e:
                skip_if_unimplemented(e, "GetTaskLog/RedeliverTask")
            assert redone.id == tasks[0].id

            settings = await client.get_settings()
            assert settings.webhook_job_max_retry >= 1
            info = await client.get_server_info()
            assert info.caller.name == "bootstrap-admin"
            created = await client.create_token(token={"name": f"aio-{project_id}",
                                                       "role": "ROLE_PUBLISHER"})
            names = [t.name async for t in client.list_tokens(page_size=1)]
            assert f"aio-{project_id}" in names
            await client.revoke_token(id=created.token.id)

    run(main())


def test_retry_across_a_restart(own_server: Heraldd, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="herald")

    async def main() -> None:
        async with herald.aio.Client(own_server.address, token=own_server.admin_token,
                                     retry=herald.Retry(max_attempts=40, initial_backoff=0.05,
                                                        max_backoff=0.3),
                                     channel_options=FAST_CHANNEL) as client:
            await client.get_server_info()
            assert own_server.stop() == 0

            def start_later() -> None:
                time.sleep(1.0)
                own_server.start_again()

            restart = asyncio.get_running_loop().run_in_executor(None, start_later)
            info = await client.get_server_info(timeout=30)  # retried until it is back
            await restart
            assert info.caller.name == "bootstrap-admin"
            assert own_server.stop() == 0
            with pytest.raises(errors.Unavailable):
                await client.create_policy(policy=http_policy(1, "never"))  # not retried

    run(main())
    assert any("retrying" in r.getMessage() for r in caplog.records)


def test_watch_resumes_from_its_cursor(fake: Any) -> None:
    servicer, address = fake([
        [[update(1, True)], [update(2)], (UNAVAILABLE, "SHUTTING_DOWN")],
        [[update(3), update(4)], (grpc.StatusCode.CANCELLED, "GOING_AWAY")],
        [[update(5)]],
    ])

    async def main() -> List[str]:
        async with herald.aio.Client(address, token="t") as client:
            watch = client.watch_tasks(policy_id=7, retry=FAST_RETRY)
            got = [u.cursor async for u in watch]
            assert watch.reconnects == 2 and watch.cursor == "c5"
            return got

    assert run(main()) == ["c1", "c2", "c3", "c4", "c5"]
    assert [r.cursor for r in servicer.requests] == ["", "c2", "c4"]
    assert all(r.policy_id == 7 for r in servicer.requests)


def test_watch_against_heraldd(server: Heraldd, project_id: int, receiver: Receiver) -> None:
    async def main() -> None:
        async with herald.aio.Client(server.address, token=server.admin_token) as client:
            policy = await client.create_policy(
                policy=http_policy(project_id, "aio-watch", receiver.url))
            watch = client.watch_tasks(policy_id=policy.id)
            first = asyncio.ensure_future(watch.__anext__())
            await asyncio.sleep(0.3)  # let the stream open (WATCH_START_NOW)
            try:
                await client.publish_event(event=push_event(project_id))
                update = await asyncio.wait_for(first, 20)
                statuses = [update.task.status]
                while herald.TaskStatus.TASK_STATUS_SUCCESS not in statuses:
                    statuses.append((await asyncio.wait_for(watch.__anext__(), 20)).task.status)
            except errors.Unimplemented as e:
                skip_if_unimplemented(e, "WatchTasks")
            finally:
                watch.close()
            assert update.execution.policy_id == policy.id and not update.snapshot

    run(main())
