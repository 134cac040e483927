"""The README's quickstart is examples/quickstart.py, and it runs against a
fresh heraldd; the installed package is complete."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import herald

from conftest import Heraldd

SDK = pathlib.Path(__file__).resolve().parents[1]
QUICKSTART = SDK / "examples" / "quickstart.py"


def test_readme_quickstart_is_the_example_file() -> None:
    readme = (SDK / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- quickstart-begin -->\n```python\n(.*?)```\n<!-- quickstart-end -->",
                  readme, re.S)
    assert m, "README.md needs the quickstart between its markers"
    assert m.group(1) == QUICKSTART.read_text(encoding="utf-8"), (
        "README.md's quickstart differs from examples/quickstart.py: copy the file in")


def test_quickstart_runs(own_server: Heraldd) -> None:
    env = dict(os.environ, HERALD_ADDRESS=own_server.address, HERALD_TOKEN=own_server.admin_token)
    result = subprocess.run([sys.executable, str(QUICKSTART)], env=env, capture_output=True,
                            text=True, timeout=120, cwd=SDK.parent.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "connected to heraldd" in out
    assert re.search(r"created policy \d+ quickstart-", out)
    assert "published event 1 deliveries: 1" in out
    assert "TASK_STATUS_SUCCESS" in out
    assert "verified webhook: PUSH_ARTIFACT library/busybox latest by quickstart" in out
    assert "refused" not in out


def test_the_installed_package_is_complete() -> None:
    """The suite runs against the installed package (pip install ./sdk/python),
    which carries py.typed and the .pyi stubs."""
    installed = pathlib.Path(herald.__file__).resolve().parent
    assert installed != SDK / "herald", "tests must import the installed package"
    assert (installed / "py.typed").exists()
    stubs = {p.name for p in (installed / "v1").glob("*.pyi")}
    assert "policy_service_pb2_grpc.pyi" in stubs and "event_pb2.pyi" in stubs
    assert herald.__version__
