"""Fixtures for the Python SDK's tests: a real heraldd on 127.0.0.1 (port 0
unless a test needs a fixed one), as in tests/e2e/conftest.py, plus clients,
tokens and a local webhook receiver."""

from __future__ import annotations

import http.server
import itertools
import os
import pathlib
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

import herald

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"


def heraldd_path() -> pathlib.Path:
    build = pathlib.Path(os.environ.get("HERALD_BUILD_DIR", "build"))
    if not build.is_absolute():
        build = ROOT / build
    return build / "server" / "heraldd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Heraldd:
    """A heraldd child process with its own data directory. restart() stops
    it and starts it again on the same address and data."""

    def __init__(self, extra_args: Sequence[str] = (), listen: str = "127.0.0.1:0",
                 data_dir: Optional[pathlib.Path] = None,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.data_dir = data_dir or pathlib.Path(tempfile.mkdtemp(prefix="heraldd-sdk-python-"))
        self.extra_args = list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.address_file = self.data_dir / "address"
        self.log_path = self.data_dir / "heraldd.log"
        self._start(listen)

    def _start(self, listen: str) -> None:
        if self.address_file.exists():
            self.address_file.unlink()
        args = [
            str(heraldd_path()),
            f"--listen_address={listen}",
            f"--data_dir={self.data_dir}",
            "--allow_loopback_targets=true",
            f"--address_file={self.address_file}",
            "--metrics_address=",
            "--shutdown_grace_period=2s",
            "--log_format=text",
            *self.extra_args,
        ]
        self.log = open(self.log_path, "a")
        deadline = time.time() + 120
        while True:  # another build may be relinking heraldd right now
            try:
                self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log,
                                             env=self.env)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.address_file.exists() and self.address_file.read_text().strip():
                self.address = self.address_file.read_text().strip()
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"heraldd exited: {self.log_path.read_text()}")
            time.sleep(0.01)
        raise RuntimeError("heraldd did not start listening within 30 s")

    @property
    def admin_token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)

    def start_again(self) -> None:
        """Starts a stopped heraldd again on the same address and data."""
        self._start(self.address)

    def restart(self) -> None:
        assert self.stop() == 0, self.log_path.read_text()
        self.start_again()


_wait = time.time() + 120  # another build may be relinking heraldd right now
while not heraldd_path().exists() and time.time() < _wait:
    time.sleep(0.5)
if not heraldd_path().exists():
    raise pytest.UsageError(
        f"{heraldd_path()} is missing: build it first "
        "(cmake --build build --target heraldd, or make test)")


@pytest.fixture(scope="session")
def server() -> Iterator[Heraldd]:
    """One heraldd for the tests that do not restart it."""
    s = Heraldd()
    yield s
    assert s.stop() == 0, s.log_path.read_text()


@pytest.fixture
def own_server() -> Iterator[Heraldd]:
    """A heraldd of the test's own (for restarts and global settings)."""
    s = Heraldd()
    yield s
    if s.proc.poll() is None:
        assert s.stop() == 0, s.log_path.read_text()


@pytest.fixture(scope="session")
def admin(server: Heraldd) -> Iterator[herald.Client]:
    with herald.Client(server.address, token=server.admin_token) as client:
        yield client


_project_ids = itertools.count(1000)


@pytest.fixture
def project_id() -> int:
    """A project id no other test uses, so tests sharing a server do not see
    each other's policies."""
    return next(_project_ids)


def make_token(admin: herald.Client, role: str, project_ids: Sequence[int] = ()) -> str:
    name = f"{role.lower()}-{next(_project_ids)}"
    resp = admin.create_token(token={"name": name, "role": role, "project_ids": list(project_ids)})
    return resp.secret


PUSH_DIGEST = "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"


def push_event(project_id: int, tag: str = "latest") -> Dict[str, Any]:
    return {"event_type": "PUSH_ARTIFACT", "project_id": project_id, "operator": "ci",
            "repository": {"namespace": "library", "name": "busybox", "repo_type": "public"},
            "resources": [{"digest": PUSH_DIGEST, "tag": tag}]}


def http_policy(project_id: int, name: str, address: str = "http://127.0.0.1:9/hook",
                **target: Any) -> Dict[str, Any]:
    return {"project_id": project_id, "name": name, "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "TARGET_TYPE_HTTP", "address": address, **target}]}


class Receiver:
    """A local HTTP endpoint that records every request it gets."""

    def __init__(self, status: int = 200) -> None:
        self.requests: "queue.Queue[Tuple[Dict[str, str], bytes]]" = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                outer.requests.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def get(self, timeout: float = 20) -> Tuple[Dict[str, str], bytes]:
        return self.requests.get(timeout=timeout)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def skip_if_unimplemented(err: herald.errors.HeraldError, what: str) -> None:
    if isinstance(err, herald.errors.Unimplemented):
        pytest.skip(f"{what}: the server answers UNIMPLEMENTED (reason {err.reason or '-'}); "
                    "this test runs once heraldd implements it")


def cases(suffix: str) -> List[pathlib.Path]:
    return sorted((VECTORS / "cases").glob(f"*.{suffix}.json"))
