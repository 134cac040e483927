"""Fixtures for end-to-end tests: a real heraldd on 127.0.0.1 port 0."""

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def heraldd_path() -> pathlib.Path:
    build = pathlib.Path(os.environ.get("HERALD_BUILD_DIR", "build"))
    if not build.is_absolute():
        build = ROOT / build
    return build / "server" / "heraldd"


def grpcurl_path() -> str:
    found = shutil.which("grpcurl") or str(ROOT / ".tools" / "bin" / "grpcurl")
    if not os.path.exists(found):
        pytest.fail("grpcurl is not installed: run scripts/install-deps.sh")
    return found


class Heraldd:
    """A heraldd child process with its own data directory."""

    def __init__(self, extra_args=()):
        self.data_dir = pathlib.Path(tempfile.mkdtemp(prefix="heraldd-e2e-"))
        self.address_file = self.data_dir / "address"
        self.log_path = self.data_dir / "heraldd.log"
        args = [
            str(heraldd_path()),
            "--listen_address=127.0.0.1:0",
            f"--data_dir={self.data_dir}",
            "--allow_loopback_targets=true",
            f"--address_file={self.address_file}",
            "--metrics_address=",
            "--shutdown_grace_period=2s",
            *extra_args,
        ]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
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
        return self.proc.returncode


@pytest.fixture
def heraldd():
    server = Heraldd()
    yield server
    assert server.stop() == 0, server.log_path.read_text()
