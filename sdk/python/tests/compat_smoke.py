"""A smoke test of the installed SDK on the oldest Python and dependency
versions it supports (test.sh runs it with Python 3.9 and
tests/requirements-floor.txt; pytest itself no longer runs there).

Usage: python compat_smoke.py  (HERALD_BUILD_DIR points at the build dir)
"""

import asyncio
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional, Tuple

import herald
import herald.aio
from herald import errors, webhooks

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
checks = 0


def check(condition: bool, what: str) -> None:
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def signature_vectors() -> None:
    for path in sorted((VECTORS / "webhooks").glob("*.json")):
        v = json.loads(path.read_text(encoding="utf-8"))
        headers = {name: v[key] for name, key in (("webhook-id", "id"),
                                                  ("webhook-timestamp", "timestamp"),
                                                  ("webhook-signature", "header"))
                   if v[key] is not None}
        try:
            webhooks.verify(v["body"].encode(), headers, v["secrets"],
                            tolerance=v["tolerance_seconds"], now=v["now"])
            reason: Optional[str] = None
        except webhooks.WebhookVerificationError as e:
            reason = e.reason
        check(reason == v["error"], path.name)


def payload_vectors() -> None:
    for path in sorted((VECTORS / "cases").glob("*.json")):
        if path.name.endswith((".default.json", ".cloudevents.json")):
            event = webhooks.parse(path.read_bytes())
            check(event.type in webhooks.EVENT_TYPES, path.name)


def against_heraldd() -> None:
    build = pathlib.Path(os.environ.get("HERALD_BUILD_DIR", ROOT / "build"))
    data = pathlib.Path(tempfile.mkdtemp(prefix="heraldd-sdk-py39-"))
    proc = subprocess.Popen([str(build / "server" / "heraldd"), "--listen_address=127.0.0.1:0",
                             f"--data_dir={data}", f"--address_file={data / 'address'}",
                             "--allow_loopback_targets=true",
                             "--metrics_address=", "--shutdown_grace_period=2s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not (data / "address").exists() or not (data / "address").read_text().strip():
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("heraldd did not start")
            time.sleep(0.02)
        address = (data / "address").read_text().strip()
        token = (data / "admin.token").read_text().strip()
        with herald.Client(address, token=token) as client:
            check(client.get_server_info().caller.name == "bootstrap-admin", "server info")
            for i in range(3):
                client.create_policy(policy={
                    "project_id": 1, "name": f"py39-{i}", "event_types": ["PUSH_ARTIFACT"],
                    "targets": [{"type": "TARGET_TYPE_HTTP", "address": "http://127.0.0.1:9/"}]})
            check(len(list(client.list_policies(project_id=1, page_size=2))) == 3, "pager")
            ack = client.publish_event(event={
                "event_type": "PUSH_ARTIFACT", "project_id": 1,
                "repository": {"namespace": "library", "name": "busybox"},
                "resources": [{"digest": "sha256:" + "a" * 64}]}, request_id="py39")
            check(ack.deliveries_created == 3, "publish")
            try:
                client.get_policy(id=999)
                check(False, "NotFound expected")
            except errors.NotFound as e:
                check(e.reason == "NOT_FOUND", "reason")

        async def aio() -> Tuple[str, int]:
            async with herald.aio.Client(address, token=token) as client:
                info = await client.get_server_info()
                names = [p.name async for p in client.list_policies(page_size=1)]
                return info.caller.name, len(names)

        check(asyncio.run(aio()) == ("bootstrap-admin", 3), "aio")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    print(f"Python {sys.version.split()[0]}, herald-client {herald.__version__} at "
          f"{pathlib.Path(herald.__file__).parent}")
    signature_vectors()
    payload_vectors()
    against_heraldd()
    print(f"compat: {checks} passed, 0 failed")


if __name__ == "__main__":
    main()
