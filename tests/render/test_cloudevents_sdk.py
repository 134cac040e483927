"""herald's CloudEvents bodies, read by the CloudEvents Python SDK.

Every golden vector's CloudEvents body (tests/vectors/cases/*.cloudevents.json)
is parsed as an HTTP request in structured content mode, with both the SDK's
current API (cloudevents.core) and its 1.x-compatible API (cloudevents.v1),
and its attributes are checked against the case's event: what a receiver
written with the SDK sees.
"""

import datetime
import json
import pathlib

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_http as v1_from_http

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "vectors" / "cases"
CASES = sorted(p.name[: -len(".case.json")] for p in VECTORS.glob("*.case.json"))
HEADERS = {"content-type": "application/cloudevents+json"}

CE_TYPES = {
    "PUSH_ARTIFACT": "harbor.artifact.pushed",
    "PULL_ARTIFACT": "harbor.artifact.pulled",
    "DELETE_ARTIFACT": "harbor.artifact.deleted",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "SCANNING_FAILED": "harbor.scan.failed",
    "SCANNING_STOPPED": "harbor.scan.stopped",
    "SCANNING_COMPLETED": "harbor.scan.completed",
    "REPLICATION": "harbor.replication.status.changed",
    "TAG_RETENTION": "harbor.tag_retention.finished",
}


def load(name):
    case = json.loads((VECTORS / f"{name}.case.json").read_text())
    body = (VECTORS / f"{name}.cloudevents.json").read_bytes()
    default = json.loads((VECTORS / f"{name}.default.json").read_bytes())
    return case, body, default


def expected_time(case):
    occur = datetime.datetime.fromisoformat(
        case["event"]["occur_time"].replace("Z", "+00:00"))
    return occur.replace(microsecond=0)


def test_there_are_cases():
    assert len(CASES) >= 12


@pytest.mark.parametrize("name", CASES)
def test_structured_mode_parses_with_the_sdk(name):
    case, body, default = load(name)
    event = case["event"]
    ce = from_http(HTTPMessage(headers=HEADERS, body=body), JSONFormat())

    assert ce.get_specversion() == "1.0"
    assert ce.get_id() == case["cloudevents"]["id"]
    assert ce.get_source() == (
        f"/projects/{event['project_id']}/webhook/policies/"
        f"{case['cloudevents']['policy_id']}")
    assert ce.get_type() == CE_TYPES[event["event_type"]]
    assert ce.get_datacontenttype() == "application/json"
    assert ce.get_time() == expected_time(case)
    assert ce.get_time().utcoffset() == datetime.timedelta(0)
    assert ce.get_extension("operator") == event.get("operator", "")
    assert ce.get_extension("requestid") == event.get("request_id", "")
    assert ce.get_subject() is None and ce.get_dataschema() is None
    # data is exactly the Default payload's event_data.
    assert ce.get_data() == default["event_data"]


@pytest.mark.parametrize("name", CASES)
def test_v1_compatible_api_reads_the_same_event(name):
    case, body, default = load(name)
    ce = v1_from_http(HEADERS, body)
    assert ce["specversion"] == "1.0"
    assert ce["id"] == case["cloudevents"]["id"]
    assert ce["type"] == CE_TYPES[case["event"]["event_type"]]
    assert ce["operator"] == case["event"].get("operator", "")
    assert ce["requestid"] == case["event"].get("request_id", "")
    assert ce.data == default["event_data"]


def test_key_order_is_harbors():
    _, body, _ = load("doc_pull_artifact")
    keys = list(json.loads(body))
    assert keys == ["specversion", "id", "source", "type", "datacontenttype",
                    "time", "data", "operator", "requestid"]
