"""/metrics on a real heraldd, scraped over HTTP and parsed with the
Prometheus client library's own text parser."""

import json
import time
import subprocess
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conftest import Heraldd, grpcurl_path


def scrape(address: str) -> dict:
    body = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read()
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            key = s.name + json.dumps(s.labels, sort_keys=True)
            samples[key] = s.value
    return samples


def test_metrics_count_publishes_and_rejections(tmp_path):
    server = Heraldd(extra_args=["--metrics_address=127.0.0.1:0",
                                 f"--metrics_address_file={tmp_path}/metrics",
                                 "--delivery_backoff_scale=0.0001"])
    try:
        metrics_address = (tmp_path / "metrics").read_text().strip()
        token = server.admin_token
        call = lambda method, body: subprocess.run(
            [grpcurl_path(), "-plaintext", "-H", f"authorization: Bearer {token}",
             "-d", json.dumps(body), server.address, method],
            capture_output=True, text=True, timeout=30)
        event = {"event_type": "PUSH_ARTIFACT", "project_id": 1,
                 "repository": {"namespace": "library", "name": "busybox"},
                 "resources": [{"digest": "sha256:" + "a" * 64, "tag": "v1"}]}
        assert call("herald.v1.PolicyService/CreatePolicy", {"policy": {
            "project_id": 1, "name": "m", "event_types": ["PUSH_ARTIFACT"],
            "targets": [{"type": "TARGET_TYPE_HTTP",
                         "address": "http://127.0.0.1:9/x"}]}}).returncode == 0
        for _ in range(3):
            assert call("herald.v1.EventService/PublishEvent",
                        {"event": event}).returncode == 0
        bad = dict(event, event_type="NOPE")
        assert call("herald.v1.EventService/PublishEvent",
                    {"event": bad}).returncode != 0

        samples = scrape(metrics_address)
        assert samples['herald_events_published_total{}'] == 3
        assert samples['herald_deliveries_created_total{}'] == 3
        assert samples['herald_events_rejected_total{"reason": "INVALID_FIELD"}'] == 1
        assert 'herald_grpc_calls_in_flight{}' in samples

        # The three deliveries go to a closed port: three attempts each,
        # then a final failure, all counted while heraldd runs.
        deadline = time.time() + 30
        while time.time() < deadline:
            samples = scrape(metrics_address)
            failed = samples.get('herald_deliveries_finished_total'
                                 '{"outcome": "failed", "target_type": "http"}', 0)
            if failed >= 3:
                break
            time.sleep(0.2)
        assert failed == 3
        attempts = sum(v for k, v in samples.items()
                       if k.startswith("herald_delivery_attempts_total{"))
        assert attempts == 9
        assert samples['herald_attempt_duration_seconds_count{"target_type": "http"}'] == 9
        assert 'herald_queue_tasks{"state": "pending"}' in samples
    finally:
        assert server.stop() == 0
