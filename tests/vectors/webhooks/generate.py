#!/usr/bin/env python3
"""Writes the Standard Webhooks signature vectors in this directory.

Every signature comes from the reference Python library, `standardwebhooks`
(pinned to REFERENCE_VERSION below; tests/requirements.txt and
sdk/python/tests/requirements.txt install it), never from herald. Each case is
also checked against the reference verifier with its clock set to the case's
`now`: valid cases must pass and invalid ones must be refused.

    python3 tests/vectors/webhooks/generate.py          # rewrite the files
    python3 tests/vectors/webhooks/generate.py --check  # fail if they differ

See README.md here for the file format.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.metadata
import json
import pathlib
import sys
from typing import Any, Dict, List, Optional
from unittest import mock

import standardwebhooks.webhooks as reference

REFERENCE_VERSION = "1.1.0"
HERE = pathlib.Path(__file__).resolve().parent
CASES_DIR = HERE.parent / "cases"
TOLERANCE = 300

# The test vector of the Standard Webhooks specification and its reference
# libraries' tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'


def key_bytes(label: str, n: int = 32) -> bytes:
    """Deterministic key material: SHA-256 chained until n bytes."""
    out = b""
    block = label.encode()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:n]


def whsec(label: str, n: int = 32) -> str:
    return "whsec_" + base64.b64encode(key_bytes(label, n)).decode()


OLD = whsec("herald-vectors/rotation/old")
NEW = whsec("herald-vectors/rotation/new", 48)
OTHER = whsec("herald-vectors/other")
S24 = whsec("herald-vectors/24-bytes", 24)
S64 = whsec("herald-vectors/64-bytes", 64)
# 25 bytes: the padded base64 ends in "==", which is dropped here.
S25_UNPADDED = whsec("herald-vectors/unpadded", 25).rstrip("=")


def sign(secret: str, msg_id: str, timestamp: str, body: str) -> str:
    webhook = reference.Webhook(secret)
    try:
        when = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.timezone.utc)
    except (ValueError, OverflowError):
        # Beyond datetime's range (a millisecond timestamp): the reference's
        # sign() takes a datetime, so use its HMAC on the same content.
        mac = reference.hmac_data(webhook._whsecret,
                                  f"{msg_id}.{timestamp}.{body}".encode())
        return "v1," + base64.b64encode(mac).decode()
    return webhook.sign(msg_id, when, body)


def sign_all(secrets: List[str], msg_id: str, timestamp: str, body: str) -> str:
    """One v1 entry per secret, space-separated, in order (key rotation)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def reference_accepts(case: Dict[str, Any]) -> bool:
    """Runs the reference verifier with its clock at case["now"]."""
    now = datetime.datetime.fromtimestamp(case["now"], tz=datetime.timezone.utc)

    class FrozenDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz: Optional[datetime.tzinfo] = None) -> "FrozenDatetime":
            return cls.fromtimestamp(now.timestamp(), tz=tz)

    headers = {}
    for name, key in (("webhook-id", "id"), ("webhook-timestamp", "timestamp"),
                      ("webhook-signature", "header")):
        if case[key] is not None:
            headers[name] = case[key]
    for secret in case["secrets"]:
        try:
            with mock.patch.object(reference, "datetime", FrozenDatetime):
                reference.Webhook(secret).verify(case["body"].encode(), headers,
                                                 json_parse=False)
            return True
        except Exception:  # the reference raises ValueError etc. on junk too
            continue
    return False


def read_case_body(name: str) -> str:
    return (CASES_DIR / name).read_bytes().decode("utf-8")


def build() -> Dict[str, Dict[str, Any]]:
    cases: Dict[str, Dict[str, Any]] = {}

    def add(name: str, description: str, *, secrets: List[str], msg_id: Optional[str],
            timestamp: Optional[str], body: str, header: Optional[str] = None,
            signed_with: Optional[List[str]] = None, now: Optional[int] = None,
            error: Optional[str] = None) -> None:
        """signed_with: header = sign_all(signed_with, msg_id, timestamp, body)."""
        if header is None and signed_with is not None:
            assert msg_id is not None and timestamp is not None
            header = sign_all(signed_with, msg_id, timestamp, body)
        sign_check = (signed_with is not None and header is not None
                      and msg_id is not None and timestamp is not None
                      and header == sign_all(signed_with, msg_id, timestamp, body))
        if now is None:
            now = int(timestamp) if timestamp and timestamp.isdigit() else SPEC_TIMESTAMP
        case = {
            "description": description,
            "secret": secrets[0],
            "secrets": secrets,
            "id": msg_id,
            "timestamp": timestamp,
            "body": body,
            "header": header,
            "signed_with": signed_with if sign_check else [],
            "sign_check": sign_check,
            "now": now,
            "tolerance_seconds": TOLERANCE,
            "valid": error is None,
            "error": error,
        }
        accepted = reference_accepts(case)
        if accepted != case["valid"]:
            raise SystemExit(f"{name}: the reference library "
                             f"{'accepts' if accepted else 'refuses'} it")
        assert name not in cases, name
        cases[name] = case

    ts = str(SPEC_TIMESTAMP)
    # ---- valid ----
    add("valid_spec_vector",
        "The Standard Webhooks specification's own test vector; the header must be "
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        signed_with=[SPEC_SECRET])
    assert cases["valid_spec_vector"]["header"] == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "reference library changed"
    add("valid_default_payload",
        "A Harbor Default body as herald sends it (tests/vectors/cases/"
        "doc_push_artifact.default.json), Content-Type application/json",
        secrets=[OLD], msg_id="msg_2Yw0XGzYQ3gU8bJt1kVhX6nP", timestamp="1680501894",
        body=read_case_body("doc_push_artifact.default.json"), signed_with=[OLD])
    add("valid_cloudevents_payload",
        "A CloudEvents body (tests/vectors/cases/doc_push_artifact.cloudevents.json); "
        "webhook-id equals the CloudEvents id",
        secrets=[NEW], msg_id="66e18103-09c1-41f6-982f-37df223f3eeb",
        timestamp="1680501894",
        body=read_case_body("doc_push_artifact.cloudevents.json"), signed_with=[NEW])
    add("valid_non_ascii_body",
        "The body is signed as UTF-8 bytes; it holds non-ASCII text and Go's "
        "\\u003c escapes",
        secrets=[S24], msg_id="msg_unicode", timestamp="1700000000",
        body='{"operator":"zoë","note":"\\u003cb\\u003e \\u0026 ✓ 😀"}',
        signed_with=[S24])
    add("valid_empty_body", "An empty body is signed like any other",
        secrets=[S64], msg_id="msg_empty", timestamp="1700000000", body="",
        signed_with=[S64])
    add("valid_secret_64_bytes", "The longest secret the spec allows (64 bytes)",
        secrets=[S64], msg_id="msg_long_key", timestamp="1700000001",
        body='{"type":"PULL_ARTIFACT"}', signed_with=[S64])
    add("valid_secret_unpadded",
        "A secret whose base64 has its '=' padding removed decodes to the same key",
        secrets=[S25_UNPADDED], msg_id="msg_unpadded", timestamp="1700000002",
        body='{"type":"DELETE_ARTIFACT"}', signed_with=[S25_UNPADDED])
    add("valid_secret_without_prefix",
        "A secret given as bare base64, without the whsec_ prefix, is the same key",
        secrets=[OTHER[len("whsec_"):]], msg_id="msg_no_prefix",
        timestamp="1700000003", body='{"type":"QUOTA_WARNING"}', signed_with=[OTHER])
    add("valid_rotation_new_secret",
        "During a secret rotation the sender signs with the new and the old secret "
        "(two v1 entries); a receiver that already has the new one accepts",
        secrets=[NEW], msg_id="msg_rotation", timestamp="1700000100",
        body='{"type":"PUSH_ARTIFACT"}', signed_with=[NEW, OLD])
    add("valid_rotation_old_secret",
        "The same rotated message; a receiver that still has the old secret accepts",
        secrets=[OLD], msg_id="msg_rotation", timestamp="1700000100",
        body='{"type":"PUSH_ARTIFACT"}', signed_with=[NEW, OLD])
    add("valid_receiver_several_secrets",
        "The receiver accepts several secrets (old and new) and the sender signs "
        "with the new one only",
        secrets=[OLD, NEW], msg_id="msg_receiver_rotation", timestamp="1700000200",
        body='{"type":"SCANNING_COMPLETED"}', signed_with=[NEW])
    body = '{"type":"REPLICATION"}'
    good = sign(OLD, "msg_mixed", "1700000300", body)
    add("valid_several_signatures_one_valid",
        "Entries of other versions (v1a, v2) and a v1 entry under an unknown secret "
        "are skipped; the one valid v1 entry is enough",
        secrets=[OLD], msg_id="msg_mixed", timestamp="1700000300", body=body,
        header=" ".join([sign(OTHER, "msg_mixed", "1700000300", body),
                         "v1a," + base64.b64encode(key_bytes("ed25519-ish", 64)).decode(),
                         "v2," + good[3:], good]))
    add("valid_tolerance_edge_past",
        "Sent exactly tolerance_seconds (300) before the receiver's clock: accepted",
        secrets=[OLD], msg_id="msg_edge_past", timestamp="1700000400",
        body='{"type":"TAG_RETENTION"}', signed_with=[OLD], now=1700000400 + TOLERANCE)
    add("valid_tolerance_edge_future",
        "Sent exactly tolerance_seconds (300) after the receiver's clock: accepted",
        secrets=[OLD], msg_id="msg_edge_future", timestamp="1700000500",
        body='{"type":"TAG_RETENTION"}', signed_with=[OLD], now=1700000500 - TOLERANCE)

    # ---- invalid ----
    spec_header = sign(SPEC_SECRET, SPEC_ID, ts, SPEC_BODY)
    add("invalid_tampered_body", "The body was changed after signing (one digit)",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts,
        body='{"test": 2432232315}', header=spec_header,
        error="no_matching_signature")
    add("invalid_tampered_id", "The webhook-id was changed after signing",
        secrets=[SPEC_SECRET], msg_id="msg_p5jXN8AQM9LWM0D4loKWxJeK", timestamp=ts,
        body=SPEC_BODY, header=spec_header, error="no_matching_signature")
    add("invalid_tampered_timestamp",
        "The webhook-timestamp was changed after signing (still within tolerance)",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=str(SPEC_TIMESTAMP + 1),
        body=SPEC_BODY, header=spec_header, now=SPEC_TIMESTAMP,
        error="no_matching_signature")
    add("invalid_wrong_secret", "Signed with another secret than the receiver's",
        secrets=[OTHER], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        signed_with=[SPEC_SECRET], error="no_matching_signature")
    add("invalid_expired_timestamp",
        "Correctly signed, but sent 301 s before the receiver's clock "
        "(tolerance 300 s): a replay",
        secrets=[OLD], msg_id="msg_expired", timestamp="1700000600",
        body='{"type":"PUSH_ARTIFACT"}', signed_with=[OLD],
        now=1700000600 + TOLERANCE + 1, error="timestamp_too_old")
    add("invalid_future_timestamp",
        "Correctly signed, but sent 301 s after the receiver's clock",
        secrets=[OLD], msg_id="msg_future", timestamp="1700000700",
        body='{"type":"PUSH_ARTIFACT"}', signed_with=[OLD],
        now=1700000700 - TOLERANCE - 1, error="timestamp_too_new")
    add("invalid_timestamp_in_milliseconds",
        "The sender put milliseconds in webhook-timestamp (signed that way): far in "
        "the future",
        secrets=[OLD], msg_id="msg_millis", timestamp="1700000800000",
        body='{"type":"PUSH_ARTIFACT"}', signed_with=[OLD], now=1700000800,
        error="timestamp_too_new")
    add("invalid_timestamp_not_a_number", "webhook-timestamp is not an integer",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp="yesterday", body=SPEC_BODY,
        header=spec_header, error="invalid_timestamp")
    add("invalid_several_signatures_none_valid",
        "Two v1 entries, each under a secret the receiver does not have",
        secrets=[OTHER], msg_id="msg_rotation", timestamp="1700000100",
        body='{"type":"PUSH_ARTIFACT"}', signed_with=[NEW, OLD],
        error="no_matching_signature")
    add("invalid_malformed_no_comma",
        "A signature entry without the 'v1,' separator",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        header=spec_header.replace(",", ""), error="no_matching_signature")
    add("invalid_malformed_not_base64", "The signature is not base64",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        header="v1,!!not*base64!!", error="no_matching_signature")
    add("invalid_malformed_truncated", "The signature lost its last characters",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        header=spec_header[:-5], error="no_matching_signature")
    add("invalid_unsupported_version_only",
        "The right HMAC under an unknown version tag (v2) and a v1a entry: no v1 "
        "entry, nothing to check",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        header="v2," + spec_header[3:] + " v1a," + spec_header[3:],
        error="no_matching_signature")
    add("invalid_empty_signature_header", "webhook-signature is present but empty",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        header="", error="missing_header")
    add("invalid_missing_signature_header", "No webhook-signature header",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=ts, body=SPEC_BODY,
        header=None, error="missing_header")
    add("invalid_missing_id_header", "No webhook-id header",
        secrets=[SPEC_SECRET], msg_id=None, timestamp=ts, body=SPEC_BODY,
        header=spec_header, error="missing_header")
    add("invalid_missing_timestamp_header", "No webhook-timestamp header",
        secrets=[SPEC_SECRET], msg_id=SPEC_ID, timestamp=None, body=SPEC_BODY,
        header=spec_header, error="missing_header")
    return cases


def render(case: Dict[str, Any]) -> str:
    return json.dumps(case, indent=2, ensure_ascii=False) + "\n"


def main(argv: List[str]) -> int:
    got = importlib.metadata.version("standardwebhooks")
    if got != REFERENCE_VERSION:
        print(f"generate.py needs standardwebhooks=={REFERENCE_VERSION}, found {got}",
              file=sys.stderr)
        return 2
    check = "--check" in argv[1:]
    cases = build()
    stale = []
    wanted = {f"{name}.json" for name in cases}
    for path in sorted(HERE.glob("*.json")):
        if path.name not in wanted:
            stale.append(f"{path.name}: not generated")
            if not check:
                path.unlink()
    for name, case in cases.items():
        path = HERE / f"{name}.json"
        text = render(case)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(f"{path.name}: differs")
        if not check:
            path.write_text(text, encoding="utf-8")
    if check and stale:
        print("webhook vectors are out of date (run tests/vectors/webhooks/generate.py):\n  "
              + "\n  ".join(stale), file=sys.stderr)
        return 1
    print(f"{len(cases)} webhook signature vectors "
          f"{'up to date' if check else 'written'} in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
