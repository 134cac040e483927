"""herald.webhooks on the shared vectors: tests/vectors/webhooks (signatures)
and tests/vectors/cases (Default and CloudEvents bodies of every type)."""

from __future__ import annotations

import base64
import dataclasses
import json
import pathlib
import re
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest

from herald import webhooks
from herald.webhooks import WebhookParseError, WebhookVerificationError

from conftest import VECTORS, cases

SIGNATURE_VECTORS = sorted((VECTORS / "webhooks").glob("*.json"))


def load(path: pathlib.Path) -> Dict[str, Any]:
    data: Dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def vector_headers(v: Dict[str, Any]) -> Dict[str, str]:
    headers = {}
    for name, key in (("webhook-id", "id"), ("webhook-timestamp", "timestamp"),
                      ("webhook-signature", "header")):
        if v[key] is not None:
            headers[name] = v[key]
    return headers


def test_there_are_signature_vectors() -> None:
    names = {p.stem for p in SIGNATURE_VECTORS}
    assert len(names) >= 25
    for required in ("valid_spec_vector", "invalid_tampered_body", "invalid_wrong_secret",
                     "invalid_expired_timestamp", "invalid_future_timestamp",
                     "valid_rotation_old_secret", "valid_rotation_new_secret",
                     "valid_receiver_several_secrets", "invalid_malformed_no_comma",
                     "valid_several_signatures_one_valid"):
        assert required in names


@pytest.mark.parametrize("path", SIGNATURE_VECTORS, ids=lambda p: p.stem)
def test_verify_signature_vector(path: pathlib.Path) -> None:
    v = load(path)

    def call() -> None:
        webhooks.verify(v["body"].encode("utf-8"), vector_headers(v), v["secrets"],
                        tolerance=v["tolerance_seconds"], now=v["now"])
    if v["valid"]:
        call()
        # The same with a Webhook object, a str body and the headers as an
        # ASGI-style list of byte pairs in another case.
        hook = webhooks.Webhook(v["secrets"], tolerance=v["tolerance_seconds"])
        hook.verify(v["body"], [(k.upper().encode(), val.encode())
                                for k, val in vector_headers(v).items()], now=v["now"])
    else:
        with pytest.raises(WebhookVerificationError) as info:
            call()
        assert info.value.reason == v["error"], path.stem


@pytest.mark.parametrize("path", [p for p in SIGNATURE_VECTORS if load(p)["sign_check"]],
                         ids=lambda p: p.stem)
def test_sign_matches_vector(path: pathlib.Path) -> None:
    v = load(path)
    header = " ".join(webhooks.sign(s, v["id"], int(v["timestamp"]), v["body"])
                      for s in v["signed_with"])
    assert header == v["header"]


def test_verify_single_secret_per_case() -> None:
    """A receiver holding only `secret` (the first) gets the same verdict on
    single-secret cases."""
    for path in SIGNATURE_VECTORS:
        v = load(path)
        if len(v["secrets"]) != 1:
            continue
        try:
            webhooks.verify(v["body"], vector_headers(v), v["secret"],
                            tolerance=v["tolerance_seconds"], now=v["now"])
            ok = True
        except WebhookVerificationError:
            ok = False
        assert ok == v["valid"], path.stem


def test_tolerance_uses_the_current_time_by_default() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    now = int(datetime.now(timezone.utc).timestamp())
    body = b'{"type":"PUSH_ARTIFACT"}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
               "webhook-signature": webhooks.sign(secret, "msg_1", now, body)}
    webhooks.verify(body, headers, secret)
    old = dict(headers, **{"webhook-timestamp": str(now - 3600),
                           "webhook-signature": webhooks.sign(secret, "msg_1", now - 3600, body)})
    with pytest.raises(WebhookVerificationError) as info:
        webhooks.verify(body, old, secret)
    assert info.value.reason == "timestamp_too_old"
    webhooks.verify(body, old, secret, tolerance=7200)


def test_malformed_secrets_are_refused_without_echoing_them() -> None:
    headers = {"webhook-id": "a", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
    bad_secrets: List[Any] = ["whsec_sup3r-s3cret!", "whsec_", "", []]
    for bad in bad_secrets:
        with pytest.raises(ValueError) as info:
            webhooks.verify(b"", headers, bad, now=1)
        assert "sup3r" not in str(info.value)


def test_verify_agrees_with_the_reference_library() -> None:
    """Random-ish messages signed by the reference library verify here, and
    ours verify there."""
    from standardwebhooks import Webhook as Reference  # pinned in requirements.txt

    secret = "whsec_" + base64.b64encode(bytes(range(7, 47))).decode()
    ref = Reference(secret)
    when = datetime.now(timezone.utc).replace(microsecond=0)
    for i, body in enumerate(['{"a":1}', '{"operator":"zoë ✓"}', "", "x" * 5000]):
        msg_id = f"msg_{i}"
        sig = ref.sign(msg_id, when, body)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
                   "webhook-signature": sig}
        webhooks.verify(body.encode(), headers, secret)
        assert webhooks.sign(secret, msg_id, when, body) == sig
        ref.verify(body, headers, json_parse=False)


def test_vectors_are_up_to_date() -> None:
    """generate.py (with the pinned reference library) reproduces every file."""
    result = subprocess.run([sys.executable, str(VECTORS / "webhooks" / "generate.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------
# parse() on the golden payloads

DEFAULT_CASES = cases("default")
CLOUDEVENTS_CASES = cases("cloudevents")
KINDS = {
    "PUSH_ARTIFACT": webhooks.ArtifactEvent, "PULL_ARTIFACT": webhooks.ArtifactEvent,
    "DELETE_ARTIFACT": webhooks.ArtifactEvent, "QUOTA_EXCEED": webhooks.QuotaEvent,
    "QUOTA_WARNING": webhooks.QuotaEvent, "SCANNING_FAILED": webhooks.ScanningEvent,
    "SCANNING_STOPPED": webhooks.ScanningEvent, "SCANNING_COMPLETED": webhooks.ScanningEvent,
    "REPLICATION": webhooks.ReplicationEvent, "TAG_RETENTION": webhooks.TagRetentionEvent,
}


def case_input(path: pathlib.Path) -> Dict[str, Any]:
    return load(path.with_name(path.name.split(".")[0] + ".case.json"))


def unix(text: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 time of a case file, truncated to microseconds."""
    if not text:
        return None
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", text.replace("Z", "+00:00"))
    text = re.sub(r"\.(\d{1,5})(?=[+-])", lambda m: "." + m.group(1).ljust(6, "0"), text)
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_every_event_type_has_default_and_cloudevents_vectors() -> None:
    seen = {load(p)["type"] for p in DEFAULT_CASES}
    assert seen == set(webhooks.EVENT_TYPES)
    assert len(CLOUDEVENTS_CASES) == len(DEFAULT_CASES)


def check_against_case(event: webhooks.WebhookEvent, case: Dict[str, Any]) -> None:
    """The parsed event says what the case's input event says."""
    src = case["event"]
    assert event.type == src["event_type"]
    assert isinstance(event, KINDS[event.type])
    assert event.operator == src.get("operator", "")
    occur = unix(src.get("occur_time")) or datetime.fromtimestamp(0, timezone.utc)
    assert event.occur_at == occur.replace(microsecond=0)
    assert event.custom_attributes == src.get("custom_attributes", {})
    if isinstance(event, (webhooks.ArtifactEvent, webhooks.QuotaEvent, webhooks.ScanningEvent)):
        repo = src.get("repository")
        if repo is not None:
            assert event.repository is not None
            assert event.repository.name == repo.get("name", "")
            assert event.repository.namespace == repo.get("namespace", "")
        assert [r.digest for r in event.resources] == [
            r.get("digest", "") for r in src.get("resources", [])]
        for got, want in zip(event.resources, src.get("resources", [])):
            assert set(got.scan_overview) == set(want.get("scan_overview", {}))
            for mime, report in want.get("scan_overview", {}).items():
                assert got.scan_overview[mime].scan_status == report.get("scan_status", "")
                assert got.scan_overview[mime].severity == report.get("severity", "")
                start = unix(report.get("start_time"))
                if start is not None and start.year == 1:
                    start = None  # Go's zero time
                assert got.scan_overview[mime].start_time == start
                summary = report.get("summary")
                if summary is None:
                    assert got.scan_overview[mime].summary is None
                else:
                    s = got.scan_overview[mime].summary
                    assert s is not None
                    assert s.total == int(summary.get("total", 0))
                    assert s.severity_counts == {
                        k: int(n) for k, n in summary.get("severity_counts", {}).items()}
            if "sbom_overview" in want:
                assert got.sbom_overview is not None
                assert got.sbom_overview.sbom_digest == want["sbom_overview"].get("sbom_digest")
    if isinstance(event, webhooks.QuotaEvent):
        assert event.details == src["custom_attributes"]["Details"]
    if isinstance(event, webhooks.ScanningEvent):
        assert event.scan_type == src.get("scan", {}).get("scan_type", "")
    if isinstance(event, webhooks.ReplicationEvent):
        rep = src.get("replication", {})
        assert event.replication.job_status == rep.get("job_status", "")
        assert event.replication.trigger_type == rep.get("trigger_type", "")
        assert [a.name_tag for a in event.replication.successful_artifacts] == [
            a.get("name_tag", "") for a in rep.get("successful_artifacts", [])]
        assert [a.fail_reason for a in event.replication.failed_artifacts] == [
            a.get("fail_reason", "") for a in rep.get("failed_artifacts", [])]
        if rep.get("src_resource"):
            assert event.replication.src_resource is not None
            assert event.replication.src_resource.endpoint == rep["src_resource"].get("endpoint", "")
    if isinstance(event, webhooks.TagRetentionEvent):
        ret = src.get("retention", {})
        assert event.retention.total == int(ret.get("total", 0))
        assert event.retention.retained == int(ret.get("retained", 0))
        assert [r.template for r in event.retention.retention_rules] == [
            r.get("template", "") for r in ret.get("retention_rules", [])]
        assert [a.name_tag for a in event.retention.deleted_artifacts] == [
            a.get("name_tag", "") for a in ret.get("deleted_artifacts", [])]


@pytest.mark.parametrize("path", DEFAULT_CASES, ids=lambda p: p.name.split(".")[0])
def test_parse_default(path: pathlib.Path) -> None:
    body = path.read_bytes()
    event = webhooks.parse(body, "application/json")
    assert event.cloudevent is None
    assert event.data == load(path).get("event_data", {})
    check_against_case(event, case_input(path))


@pytest.mark.parametrize("path", CLOUDEVENTS_CASES, ids=lambda p: p.name.split(".")[0])
def test_parse_cloudevents(path: pathlib.Path) -> None:
    body = path.read_bytes()
    event = webhooks.parse(body, "application/cloudevents+json; charset=utf-8")
    case = case_input(path)
    ce = event.cloudevent
    assert ce is not None
    assert ce.specversion == "1.0"
    assert ce.id == case["cloudevents"]["id"]
    assert ce.type == webhooks.CLOUDEVENTS_TYPES[event.type]
    assert ce.project_id == int(case["event"]["project_id"])
    assert ce.policy_id == int(case["cloudevents"]["policy_id"])
    assert ce.requestid == case["event"].get("request_id", "")
    assert ce.datacontenttype == "application/json"
    check_against_case(event, case)
    # The same event as its Default body, apart from the envelope.
    default = webhooks.parse(path.with_name(path.name.replace(".cloudevents.", ".default.")).read_bytes(),
                             "application/json")
    assert dataclasses.replace(event, cloudevent=None) == default
    # Without a Content-Type the format is recognised from the body.
    assert webhooks.parse(body) == event


HARBOR_DOC = sorted((VECTORS / "harbor_doc").glob("*.json"))


@pytest.mark.parametrize("path", HARBOR_DOC, ids=lambda p: p.name)
def test_parse_harbor_documentation_examples(path: pathlib.Path) -> None:
    event = webhooks.parse(path.read_bytes())
    assert event.type in webhooks.EVENT_TYPES
    assert isinstance(event, KINDS[event.type])
    assert (event.cloudevent is not None) == ("cloudevents" in path.name)


def test_parse_details() -> None:
    body = (VECTORS / "cases" / "vulnerability_scan_full.default.json").read_bytes()
    event = webhooks.parse(body, "application/json")
    assert isinstance(event, webhooks.ScanningEvent)
    reports = event.resources[0].scan_overview
    full = reports["application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"]
    assert full.summary == webhooks.VulnerabilitySummary(
        total=42, fixable=40,
        severity_counts={"Critical": 2, "High": 5, "Low": 10, "Medium": 20, "Unknown": 5})
    assert full.start_time == datetime(2024, 1, 2, 3, 2, 59, 0, tzinfo=timezone.utc)
    assert full.end_time == datetime(2024, 1, 2, 3, 4, 4, 900000, tzinfo=timezone.utc)
    assert full.scanner == webhooks.Scanner("Trivy", "Aqua Security", "v0.48.0")
    running = reports["application/vnd.security.vulnerability.report; version=1.1"]
    assert running.summary is None and running.start_time is None  # Go's zero time
    assert event.repository is not None
    assert event.repository.date_created == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)

    retention = webhooks.parse((VECTORS / "cases" / "retention_params.default.json").read_bytes())
    assert isinstance(retention, webhooks.TagRetentionEvent)
    rule = retention.retention.retention_rules[0]
    assert rule.params["latestPushedK"] == 10 and rule.params["big"] == 1e21
    assert rule.scope_selectors["namespace"][0].decoration == "nsMatches"
    assert rule.scope_selectors["repository"] == []

    hostile = webhooks.parse((VECTORS / "cases" / "hostile_strings.default.json").read_bytes())
    assert isinstance(hostile, webhooks.ArtifactEvent)
    assert hostile.operator.startswith('ev"il\\ <op> & co')
    assert hostile.custom_attributes["a\u0000"] == "NUL"


def test_unknown_event_types_degrade_to_unknown_event() -> None:
    event = webhooks.parse(b'{"type":"NEW_THING","occur_at":5,"operator":"x",'
                           b'"event_data":{"whatever":[1]}}', "application/json")
    assert isinstance(event, webhooks.UnknownEvent)
    assert event.type == "NEW_THING" and event.data == {"whatever": [1]}
    ce = webhooks.parse(b'{"specversion":"1.0","id":"1","source":"/s","type":"harbor.new.thing",'
                        b'"time":"2024-01-01T00:00:00Z","data":{}}',
                        "application/cloudevents+json")
    assert isinstance(ce, webhooks.UnknownEvent) and ce.type == "harbor.new.thing"


@pytest.mark.parametrize("body,content_type", [
    (b"not json", "application/json"),
    (b"[1,2]", "application/json"),
    (b'{"occur_at":1}', "application/json"),
    (b'{"type":"PUSH_ARTIFACT","occur_at":"yesterday"}', "application/json"),
    (b'{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"digest":5}]}}', "application/json"),
    (b'{"type":"PUSH_ARTIFACT"}', "application/cloudevents+json"),
    (b'{"type":"PUSH_ARTIFACT"}', "text/plain"),
])
def test_parse_refuses_what_is_not_a_payload(body: bytes, content_type: str) -> None:
    with pytest.raises(WebhookParseError):
        webhooks.parse(body, content_type)


def test_webhook_receive_verifies_then_parses() -> None:
    secret = "whsec_" + base64.b64encode(b"r" * 24).decode()
    body = (VECTORS / "cases" / "doc_replication.cloudevents.json").read_bytes()
    now = 1_700_000_000
    headers = {"Webhook-Id": "e3005250", "Webhook-Timestamp": str(now),
               "Webhook-Signature": webhooks.sign(secret, "e3005250", now, body),
               "Content-Type": "application/cloudevents+json"}
    event = webhooks.Webhook(secret).receive(body, headers, now=now)
    assert isinstance(event, webhooks.ReplicationEvent)
    assert event.replication.job_status == "Success"
    with pytest.raises(WebhookVerificationError):
        webhooks.Webhook(secret).receive(body + b" ", headers, now=now)
