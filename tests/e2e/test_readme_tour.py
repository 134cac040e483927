"""Runs the README's grpcurl tour, verbatim, against a real heraldd with
the real grpcurl, and checks what a new user would see."""

import json
import os
import re
import subprocess

from conftest import ROOT, grpcurl_path


def tour_script() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- tour-begin -->\s*```sh\n(.*?)```\s*<!-- tour-end -->",
                      readme, re.S)
    assert block, "README.md lost its tour block"
    return block.group(1)


def test_readme_tour(heraldd):
    env = dict(os.environ)
    env["ADDR"] = heraldd.address
    env["TOKEN"] = heraldd.admin_token
    env["PATH"] = f"{os.path.dirname(grpcurl_path())}:{env['PATH']}"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", tour_script()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout

    for service in ("herald.v1.AdminService", "herald.v1.DeliveryService",
                    "herald.v1.EventService", "herald.v1.PolicyService",
                    "grpc.health.v1.Health"):
        assert service in out
    assert "rpc CreatePolicy ( .herald.v1.CreatePolicyRequest )" in out
    assert '"status": "SERVING"' in out
    assert '"name": "ci-notify"' in out
    assert '"has_auth_header": true' in out
    assert "receiver-secret" not in out
    assert '"deliveries_created": 1' in out
    assert '"total_size": "1"' in out


def test_health_is_describable_through_reflection(heraldd):
    out = subprocess.run(
        [grpcurl_path(), "-plaintext", heraldd.address, "describe",
         "grpc.health.v1.Health"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "rpc Check ( .grpc.health.v1.HealthCheckRequest )" in out.stdout


def test_invalid_policy_is_refused_naming_the_field(heraldd):
    out = subprocess.run(
        [grpcurl_path(), "-plaintext", "-H",
         f"authorization: Bearer {heraldd.admin_token}", "-d",
         json.dumps({"policy": {"project_id": 1, "name": "bad",
                                "event_types": ["PUSH_ARTIFACT"],
                                "targets": [{"type": "TARGET_TYPE_HTTP",
                                             "address": "example.com/hook"}]}}),
         heraldd.address, "herald.v1.PolicyService/CreatePolicy"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "Code: InvalidArgument" in out.stderr
    assert "policy.targets[0].address" in out.stderr


def test_no_token_is_unauthenticated(heraldd):
    out = subprocess.run(
        [grpcurl_path(), "-plaintext", "-d", "{}", heraldd.address,
         "herald.v1.PolicyService/ListPolicies"],
        capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "Code: Unauthenticated" in out.stderr
