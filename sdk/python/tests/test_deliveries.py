"""DeliveryService through herald.Client, with real deliveries to a local
receiver that checks them with herald.webhooks."""

from __future__ import annotations

import base64
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional, TypeVar

import pytest

import herald
from herald import errors, webhooks

from conftest import Receiver, http_policy, push_event, skip_if_unimplemented

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], Optional[T]], timeout: float = 30) -> T:
    deadline = time.time() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def final_task(client: herald.Client, execution_id: int) -> Optional[herald.Task]:
    tasks = client.list_tasks(execution_id=execution_id)
    assert len(tasks) == 1
    return tasks[0] if tasks[0].final else None


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def test_executions_tasks_and_signed_deliveries(admin: herald.Client, project_id: int,
                                                receiver: Receiver) -> None:
    secret = new_secret()
    policy = admin.create_policy(policy=http_policy(
        project_id, "delivered", receiver.url, signing_secret=secret))
    for tag in ("v1", "v2", "v3"):
        assert admin.publish_event(event=push_event(project_id, tag)).deliveries_created == 1

    # Every delivery is signed: verify and parse it as a receiver would.
    received = {}
    for _ in range(3):
        headers, body = receiver.get()
        webhooks.verify(body, headers, secret)
        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body, headers, new_secret())
        event = webhooks.parse(body, headers["content-type"])
        assert isinstance(event, webhooks.ArtifactEvent)
        assert event.type == "PUSH_ARTIFACT" and event.repository is not None
        assert event.repository.repo_full_name == "library/busybox"
        received[headers["webhook-id"]] = (event.resources[0].tag, body)
    assert sorted(tag for tag, _ in received.values()) == ["v1", "v2", "v3"]

    # Executions across pages, newest first.
    pager = admin.list_executions(policy_id=policy.id, page_size=2)
    executions = list(pager)
    assert len(executions) == 3 and pager.total_size == 3
    assert [e.id for e in executions] == sorted((e.id for e in executions), reverse=True)
    assert len(list(admin.list_executions(policy_id=policy.id, page_size=2).pages())) == 2
    assert all(e.policy_id == policy.id and e.event_type == "PUSH_ARTIFACT" for e in executions)

    for summary in executions:
        task = wait_for("a final task", lambda: final_task(admin, summary.id))
        assert task.status == herald.TaskStatus.TASK_STATUS_SUCCESS
        assert task.last_response_code == 200
        execution = admin.get_execution(id=summary.id)
        # The stored payload is byte for byte what was delivered and signed.
        assert execution.webhook_id in received
        assert execution.payload.encode() == received[execution.webhook_id][1]
        assert execution.content_type.startswith("application/json")
        try:
            log = admin.get_task_log(task_id=task.id)
        except errors.Unimplemented as e:
            skip_if_unimplemented(e, "GetTaskLog")
        assert "attempt 1" in log

    # Filtering by status.
    ok = list(admin.list_executions(policy_id=policy.id,
                                    status=herald.TaskStatus.TASK_STATUS_SUCCESS))
    assert len(ok) == 3
    with pytest.raises(errors.NotFound):
        admin.get_execution(id=10**9)


def test_redelivery(admin: herald.Client, project_id: int, receiver: Receiver) -> None:
    policy = admin.create_policy(policy=http_policy(project_id, "redo", receiver.url))
    admin.publish_event(event=push_event(project_id))
    first_headers, _ = receiver.get()
    execution = next(iter(admin.list_executions(policy_id=policy.id)))
    task = wait_for("a final task", lambda: final_task(admin, execution.id))
    try:
        again = admin.redeliver_task(task_id=task.id)
    except errors.Unimplemented as e:
        skip_if_unimplemented(e, "RedeliverTask")
    assert again.id == task.id and not again.final
    headers, _ = receiver.get()
    assert headers["webhook-id"] == first_headers["webhook-id"]  # same delivery
    wait_for("a final task", lambda: final_task(admin, execution.id))
    redone = admin.redeliver_execution(execution_id=execution.id)
    assert redone.id == execution.id
    assert receiver.get()[0]["webhook-id"] == first_headers["webhook-id"]


def test_redeliver_refuses_tasks_that_are_not_final(admin: herald.Client,
                                                    project_id: int) -> None:
    # Nothing listens on port 9: the first attempt fails and a retry is due later.
    policy = admin.create_policy(policy=http_policy(project_id, "pending"))
    admin.publish_event(event=push_event(project_id))
    execution = next(iter(admin.list_executions(policy_id=policy.id)))
    task = wait_for("a failed attempt", lambda: next(
        (t for t in admin.list_tasks(execution_id=execution.id)
         if t.status == herald.TaskStatus.TASK_STATUS_ERROR), None))
    assert not task.final
    with pytest.raises(errors.HeraldError) as info:
        admin.redeliver_task(task_id=task.id)
    skip_if_unimplemented(info.value, "RedeliverTask")
    assert isinstance(info.value, errors.TaskNotFinal)
    assert isinstance(info.value, errors.FailedPrecondition)


def test_recover_failed(admin: herald.Client, project_id: int) -> None:
    policy = admin.create_policy(policy=dict(http_policy(project_id, "recover"),
                                             retry_policy={"max_attempts": 1}))
    admin.publish_event(event=push_event(project_id))
    execution = next(iter(admin.list_executions(policy_id=policy.id)))
    task = wait_for("a final failure", lambda: final_task(admin, execution.id))
    assert task.status == herald.TaskStatus.TASK_STATUS_ERROR
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    try:
        dry = list(admin.recover_failed(policy_id=policy.id, start_time=since, dry_run=True))
    except errors.Unimplemented as e:
        skip_if_unimplemented(e, "RecoverFailed")
    assert dry[-1].done and dry[-1].matched == 1 and dry[-1].redelivered == 0
    done = list(admin.recover_failed(policy_id=policy.id, start_time=since))
    assert done[-1].done and done[-1].redelivered == 1
    with pytest.raises(errors.InvalidArgument):
        list(admin.recover_failed(start_time=since))  # no scope
