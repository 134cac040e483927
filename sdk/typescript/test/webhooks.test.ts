// The receiver helper on the shared vectors: tests/vectors/webhooks (Standard
// Webhooks signatures) and every Default and CloudEvents body of
// tests/vectors/cases.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import {
  CLOUDEVENTS_TYPES,
  parse,
  sign,
  verify,
  verifyAndParse,
  WebhookParseError,
  WebhookVerificationError,
  type HarborEventType,
} from "@herald/client/webhooks";

import { VECTORS } from "./helpers.js";

interface SignatureVector {
  description: string;
  secret: string;
  secrets: string[];
  id: string | null;
  timestamp: string | null;
  body: string;
  header: string | null;
  signed_with: string[];
  sign_check: boolean;
  now: number;
  tolerance_seconds: number;
  valid: boolean;
  error: string | null;
}

const SIG_DIR = join(VECTORS, "webhooks");
const signatureVectors: [string, SignatureVector][] = readdirSync(SIG_DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => [f.slice(0, -5), JSON.parse(readFileSync(join(SIG_DIR, f), "utf8")) as SignatureVector]);

function headersOf(v: SignatureVector): Record<string, string> {
  const h: Record<string, string> = {};
  if (v.id !== null) h["webhook-id"] = v.id;
  if (v.timestamp !== null) h["webhook-timestamp"] = v.timestamp;
  if (v.header !== null) h["webhook-signature"] = v.header;
  return h;
}

describe("verify on tests/vectors/webhooks", () => {
  test("the vectors are there and cover every kind of case", () => {
    const names = signatureVectors.map(([n]) => n);
    assert.ok(names.length >= 20, `only ${names.length} vectors`);
    for (const wanted of [
      "valid_spec_vector",
      "invalid_tampered_body",
      "invalid_wrong_secret",
      "invalid_expired_timestamp",
      "valid_rotation_old_secret",
      "valid_rotation_new_secret",
      "valid_receiver_several_secrets",
    ]) {
      assert.ok(names.includes(wanted), `missing vector ${wanted}`);
    }
  });

  for (const [name, v] of signatureVectors) {
    test(`${name}: ${v.description}`, () => {
      const run = () =>
        verify(v.body, headersOf(v), v.secrets, { now: v.now * 1000, toleranceSeconds: v.tolerance_seconds });
      if (v.valid) {
        const got = run();
        assert.equal(got.id, v.id);
        assert.equal(got.timestamp.getTime(), Number(v.timestamp) * 1000);
      } else {
        assert.throws(run, (e: unknown) => {
          assert.ok(e instanceof WebhookVerificationError, `not a WebhookVerificationError: ${String(e)}`);
          assert.equal(e.code, v.error);
          return true;
        });
      }
    });

    if (v.sign_check) {
      test(`${name}: sign() produces the sender's header`, () => {
        const header = v.signed_with.map((s) => sign(s, v.id!, Number(v.timestamp), v.body)).join(" ");
        assert.equal(header, v.header);
      });
    }
  }

  test("a fetch Headers object and an IncomingHttpHeaders-style record both work", () => {
    const [, v] = signatureVectors.find(([n]) => n === "valid_spec_vector")!;
    const opts = { now: v.now * 1000 };
    const fetchHeaders = new Headers({
      "Webhook-Id": v.id!,
      "Webhook-Timestamp": v.timestamp!,
      "Webhook-Signature": v.header!,
    });
    assert.equal(verify(v.body, fetchHeaders, v.secret, opts).id, v.id);
    const mixedCase = { "Webhook-Id": v.id!, "WEBHOOK-TIMESTAMP": v.timestamp!, "webhook-signature": [v.header!] };
    assert.equal(verify(Buffer.from(v.body), mixedCase, [v.secret], opts).id, v.id);
  });

  test("the default tolerance is 5 minutes, both ways", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const now = 1_700_000_000;
    const at = (ts: number) => ({
      "webhook-id": "msg_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": sign(secret, "msg_1", ts, "{}"),
    });
    verify("{}", at(now - 300), secret, { now: now * 1000 });
    verify("{}", at(now + 300), secret, { now: new Date(now * 1000) });
    assert.throws(() => verify("{}", at(now - 301), secret, { now: now * 1000 }), /too old/);
    assert.throws(() => verify("{}", at(now + 301), secret, { now: now * 1000 }), /future/);
  });

  test("a malformed secret is a TypeError, not a verification failure", () => {
    assert.throws(() => verify("{}", {}, "whsec_not base64!"), TypeError);
    assert.throws(() => verify("{}", {}, []), TypeError);
  });
});

// ---- parse -------------------------------------------------------------------

interface CaseFile {
  event: {
    event_type: HarborEventType;
    project_id: string;
    operator?: string;
    occur_time?: string;
    request_id?: string;
  };
  cloudevents: { id: string; policy_id: number };
}

const CASES_DIR = join(VECTORS, "cases");
const caseNames = readdirSync(CASES_DIR)
  .filter((f) => f.endsWith(".case.json"))
  .map((f) => f.slice(0, -".case.json".length))
  .sort();

describe("parse on tests/vectors/cases", () => {
  test("every event type has a case", () => {
    const types = new Set(
      caseNames.map((n) => (JSON.parse(readFileSync(join(CASES_DIR, `${n}.case.json`), "utf8")) as CaseFile).event.event_type),
    );
    assert.deepEqual([...types].sort(), Object.keys(CLOUDEVENTS_TYPES).sort());
  });

  for (const name of caseNames) {
    const c = JSON.parse(readFileSync(join(CASES_DIR, `${name}.case.json`), "utf8")) as CaseFile;
    const occur = c.event.occur_time ? Math.floor(Date.parse(c.event.occur_time) / 1000) : undefined;

    test(`${name}.default.json`, () => {
      const body = readFileSync(join(CASES_DIR, `${name}.default.json`));
      const e = parse(body, "application/json");
      const raw = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      assert.equal(e.format, "default");
      assert.equal(e.type, c.event.event_type);
      assert.equal(e.operator, c.event.operator ?? "");
      if (occur !== undefined) assert.equal(e.occurAt.getTime(), occur * 1000);
      assert.deepEqual(e.data, raw["event_data"]);
      assert.equal(e.cloudEvent, undefined);
      assert.deepEqual(parse(body.toString("utf8")), e, "format detection without a Content-Type");
      checkTyped(e);
    });

    test(`${name}.cloudevents.json`, () => {
      const body = readFileSync(join(CASES_DIR, `${name}.cloudevents.json`), "utf8");
      const e = parse(body, "application/cloudevents+json; charset=utf-8");
      const raw = JSON.parse(body) as Record<string, unknown>;
      assert.equal(e.format, "cloudevents");
      assert.equal(e.type, c.event.event_type);
      assert.equal(e.operator, c.event.operator ?? "");
      assert.ok(e.cloudEvent);
      assert.equal(e.cloudEvent.id, c.cloudevents.id);
      assert.equal(e.cloudEvent.type, CLOUDEVENTS_TYPES[c.event.event_type]);
      assert.equal(e.cloudEvent.source, `/projects/${c.event.project_id}/webhook/policies/${c.cloudevents.policy_id}`);
      assert.equal(e.cloudEvent.specversion, "1.0");
      assert.equal(e.cloudEvent.extensions["operator"], raw["operator"]);
      if (c.event.request_id !== undefined) assert.equal(e.cloudEvent.requestid, c.event.request_id);
      if (occur !== undefined) assert.equal(Math.floor(e.occurAt.getTime() / 1000), occur);
      assert.deepEqual(e.data, raw["data"]);
      assert.deepEqual(parse(body), e, "format detection without a Content-Type");
      checkTyped(e);
    });
  }

  test("bodies that are not herald payloads are refused", () => {
    const bad: [string, string | undefined][] = [
      ["not json", "application/json"],
      ["[1]", "application/json"],
      ['{"type":"NEW_THING","occur_at":1,"event_data":{}}', "application/json"],
      ['{"type":"PUSH_ARTIFACT","occur_at":"x","event_data":{}}', "application/json"],
      ['{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"repository":{}}}', "application/json"],
      ['{"specversion":"0.3","id":"a","source":"s","type":"harbor.artifact.pushed","data":{}}', "application/cloudevents+json"],
      ['{"specversion":"1.0","id":"a","source":"s","type":"com.example","time":"2024-01-01T00:00:00Z","data":{}}', undefined],
      ['{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{}}', "text/plain"],
    ];
    for (const [body, ct] of bad) {
      assert.throws(() => parse(body, ct), WebhookParseError, body);
    }
  });
});

/** Uses the narrowed types, so a type regression fails the build. */
function checkTyped(e: ReturnType<typeof parse>): void {
  switch (e.type) {
    case "PUSH_ARTIFACT":
    case "PULL_ARTIFACT":
    case "DELETE_ARTIFACT":
      assert.equal(typeof e.data.repository.name, "string");
      assert.ok(Array.isArray(e.data.resources));
      break;
    case "QUOTA_EXCEED":
    case "QUOTA_WARNING":
      assert.equal(typeof e.data.custom_attributes.Details, "string");
      break;
    case "SCANNING_FAILED":
    case "SCANNING_STOPPED":
    case "SCANNING_COMPLETED":
      assert.ok(Array.isArray(e.data.resources));
      assert.equal(typeof e.data.repository.repo_full_name, "string");
      break;
    case "REPLICATION":
      assert.equal(typeof e.data.replication, "object");
      break;
    case "TAG_RETENTION":
      assert.equal(typeof e.data.retention.total, "number");
      break;
  }
}

describe("verifyAndParse", () => {
  test("verifies, then parses with the Content-Type of the headers", () => {
    const [, v] = signatureVectors.find(([n]) => n === "valid_cloudevents_payload")!;
    const got = verifyAndParse(
      v.body,
      { ...headersOf(v), "content-type": "application/cloudevents+json" },
      v.secrets,
      { now: v.now * 1000 },
    );
    assert.equal(got.id, v.id);
    assert.equal(got.event.format, "cloudevents");
    const tampered = v.body.replace("harbor", "h4rbor");
    assert.throws(
      () => verifyAndParse(tampered, headersOf(v), v.secrets, { now: v.now * 1000 }),
      WebhookVerificationError,
    );
  });
});
