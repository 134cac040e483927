"""Runs every recipe of docs/debugging.md, in order and verbatim, in one
shell, against a real heraldd with the real grpcurl."""

import os
import re
import subprocess

from conftest import ROOT, Heraldd, grpcurl_path

DOC = ROOT / "docs" / "debugging.md"


def recipes():
    text = DOC.read_text()
    found = re.findall(r"<!-- recipe: (\w+) -->\s*```sh\n(.*?)```", text, re.S)
    assert found, "docs/debugging.md has no recipes"
    return found


def test_every_recipe_runs():
    # Fast retries, so the recipe's failing delivery becomes final quickly.
    heraldd = Heraldd(extra_args=["--delivery_backoff_scale=0.0001"])
    try:
        run_recipes(heraldd)
    finally:
        assert heraldd.stop() == 0


def run_recipes(heraldd):
    env = dict(os.environ)
    env["ADDR"] = heraldd.address
    env["TOKEN"] = heraldd.admin_token
    env["PATH"] = f"{os.path.dirname(grpcurl_path())}:{env['PATH']}"
    outputs = {}
    state = ""
    for name, script in recipes():
        # Variables set by earlier recipes (POLICY, EXECUTION, TASK) carry over.
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c",
             state + script + "\ndeclare -p POLICY EXECUTION TASK 2>/dev/null || true"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"recipe {name}:\n{result.stdout}\n{result.stderr}"
        outputs[name] = result.stdout + result.stderr
        state = "".join(line + "\n" for line in result.stdout.splitlines()
                        if line.startswith("declare -- "))

    assert "herald.v1.DeliveryService.WatchTasks" in outputs["services"]
    assert '"status": "SERVING"' in outputs["health"]
    assert '"name": "bootstrap-admin"' in outputs["whoami"]
    assert '"name": "debug-recipe"' in outputs["policy"]
    assert outputs["publish"].count('"deliveries_created": 1') == 3
    assert '"payload":' in outputs["executions"]
    # The stream stays open until -max-time (updates only if tasks still move).
    assert "DeadlineExceeded" in outputs["watch"] or '"updates"' in outputs["watch"]
    assert "attempt 1 of 3" in outputs["log"]
    assert '"status": "TASK_STATUS_PENDING"' in outputs["redeliver"]
    assert '"done": true' in outputs["redeliver"]
    assert '"webhook_job_max_retry": 5' in outputs["settings"]
    assert "Code: InvalidArgument" in outputs["errors"]
    assert "policy.name" in outputs["errors"]
