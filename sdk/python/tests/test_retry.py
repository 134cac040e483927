"""Idempotent calls are retried on UNAVAILABLE: across a heraldd restart on
the same port, and before a heraldd listens at all."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, List

import pytest

import herald
from herald import errors

from conftest import Heraldd, free_port, http_policy, push_event

# Quick reconnects so the tests do not wait on gRPC's default 1 s backoff.
FAST_CHANNEL = [("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 300)]
PATIENT = herald.Retry(max_attempts=40, initial_backoff=0.05, max_backoff=0.3)


def retry_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]


def later(seconds: float, action: Callable[[], None]) -> threading.Thread:
    """Runs action in a thread after a pause."""
    def run() -> None:
        time.sleep(seconds)
        action()
    t = threading.Thread(target=run)
    t.start()
    return t


def test_reads_survive_a_restart_on_the_same_port(own_server: Heraldd,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="herald")
    with herald.Client(own_server.address, token=own_server.admin_token, retry=PATIENT,
                       channel_options=FAST_CHANNEL) as client:
        before = client.get_server_info().start_time
        assert own_server.stop() == 0
        starter = later(1.0, own_server.start_again)
        info = client.get_server_info(timeout=30)  # UNAVAILABLE until heraldd is back
        starter.join()
        assert info.start_time != before
        assert retry_lines(caplog), "expected retries while heraldd was down"
        assert all("GetServerInfo" in line and "UNAVAILABLE" in line
                   for line in retry_lines(caplog))


def test_publish_with_request_id_is_retried_but_not_without(own_server: Heraldd,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="herald")
    with herald.Client(own_server.address, token=own_server.admin_token, retry=PATIENT,
                       channel_options=FAST_CHANNEL) as client:
        client.create_policy(policy=http_policy(1, "retried"))
        assert own_server.stop() == 0
        # Without a request_id a publish is not idempotent: one attempt only.
        started = time.monotonic()
        with pytest.raises(errors.Unavailable):
            client.publish_event(event=push_event(1))
        with pytest.raises(errors.Unavailable):
            client.create_policy(policy=http_policy(1, "not-retried"))
        assert time.monotonic() - started < 5
        assert retry_lines(caplog) == []
        # With one it is, until heraldd is back; exactly one event results.
        starter = later(1.0, own_server.start_again)
        ack = client.publish_event(event=push_event(1), request_id="retry-1", timeout=30)
        starter.join()
        assert ack.deliveries_created == 1
        assert any("PublishEvent" in line for line in retry_lines(caplog))
        assert client.publish_event(event=push_event(1), request_id="retry-1").duplicate


def test_retry_until_heraldd_listens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="herald")
    port = free_port()
    token = "hld_sdk-python-test-admin-token"
    servers: List[Heraldd] = []
    with herald.Client(f"127.0.0.1:{port}", token=token, retry=PATIENT,
                       channel_options=FAST_CHANNEL) as client:
        starter = later(1.0, lambda: servers.append(Heraldd(
            listen=f"127.0.0.1:{port}", env={"HERALD_ADMIN_TOKEN": token})))
        try:
            types = client.list_event_types(timeout=30)
        finally:
            starter.join()
        try:
            assert len(types.event_types) == 10
            assert retry_lines(caplog)
        finally:
            for s in servers:
                assert s.stop() == 0


def test_retries_stay_within_the_deadline() -> None:
    port = free_port()  # nothing listens there
    with herald.Client(f"127.0.0.1:{port}", token="x", timeout=1.0,
                       retry=herald.Retry(max_attempts=1000, initial_backoff=0.05,
                                          max_backoff=0.1),
                       channel_options=FAST_CHANNEL) as client:
        started = time.monotonic()
        with pytest.raises((errors.Unavailable, errors.DeadlineExceeded)):
            client.get_server_info()
        assert time.monotonic() - started < 2.5
        # A per-call timeout overrides the client's.
        started = time.monotonic()
        with pytest.raises((errors.Unavailable, errors.DeadlineExceeded)):
            client.get_settings(timeout=0.3)
        assert time.monotonic() - started < 1.5


def test_backoff_schedule() -> None:
    retry = herald.Retry(initial_backoff=0.1, max_backoff=1.0, multiplier=2.0, jitter=0.0)
    assert [retry.backoff(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert retry.backoff(1, server_delay=3.0) == 3.0
    jittered = herald.Retry(initial_backoff=1.0, jitter=0.5)
    assert all(0.5 <= jittered.backoff(1) <= 1.0 for _ in range(100))
    with pytest.raises(ValueError):
        herald.Retry(max_attempts=0)
