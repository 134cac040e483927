// Receiving herald webhooks: Standard Webhooks signature verification and
// typed parsing of Harbor's Default and CloudEvents payloads. Depends only on
// node:crypto, so endpoints can import "@herald/client/webhooks" without
// loading gRPC.
import { createHmac, timingSafeEqual } from "node:crypto";

// ---- verification ------------------------------------------------------------

/** Why a webhook was refused by verify(). */
export type WebhookVerificationCode =
  | "missing_header"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "no_matching_signature";

/** verify() refused the request: answer it with 4xx and do not process it. */
export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationCode;
  constructor(code: WebhookVerificationCode, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}

/**
 * Request headers, as Node's `req.headers` (IncomingHttpHeaders), a fetch
 * `Headers` object, or a plain object (names matched case-insensitively).
 */
export type HeadersLike =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * A signing secret: "whsec_<base64>" as set on the policy target, the base64
 * alone, or the raw key bytes.
 */
export type WebhookSecret = string | Uint8Array;

/** Options of verify(). */
export interface VerifyOptions {
  /**
   * How far webhook-timestamp may be from now, in either direction, in
   * seconds (default 300, as the Standard Webhooks reference libraries).
   */
  toleranceSeconds?: number;
  /** The current time, for tests (default: Date.now()). */
  now?: Date | number;
}

/** What a verified webhook is. */
export interface VerifiedWebhook {
  /** The webhook-id header: stable across retries; use it to drop duplicates. */
  id: string;
  /** The webhook-timestamp header: when this attempt was signed. */
  timestamp: Date;
}

const SECRET_PREFIX = "whsec_";
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function headerValue(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    const v = (headers as { get(name: string): string | null }).get(name);
    return v ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let v = record[name];
  if (v === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : record[key];
  }
  if (v === undefined) return undefined;
  return typeof v === "string" ? v : v.join(" ");
}

/** Decodes a signing secret into its key bytes. Throws TypeError when malformed. */
export function secretKey(secret: WebhookSecret): Buffer {
  if (typeof secret !== "string") {
    if (secret.length === 0) throw new TypeError("webhook secret is empty");
    return Buffer.from(secret);
  }
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (b64.length === 0 || !BASE64.test(b64)) {
    throw new TypeError('webhook secret must be "whsec_" followed by base64');
  }
  return Buffer.from(b64, "base64");
}

function toBytes(payload: string | Uint8Array): Buffer {
  return typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

function hmac(key: Buffer, id: string, timestamp: string, payload: Buffer): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(payload).digest();
}

/**
 * Computes the webhook-signature header value ("v1,<base64>") herald sends
 * for a payload: for testing your endpoint.
 */
export function sign(secret: WebhookSecret, id: string, timestamp: number | Date, payload: string | Uint8Array): string {
  const ts = String(typeof timestamp === "number" ? Math.floor(timestamp) : Math.floor(timestamp.getTime() / 1000));
  return `v1,${hmac(secretKey(secret), id, ts, toBytes(payload)).toString("base64")}`;
}

/**
 * Verifies a Standard Webhooks signature. Pass the raw body exactly as
 * received (not re-serialized JSON), the request headers, and the signing
 * secret(s) of the target: during a rotation pass both the new and the old
 * secret (herald also sends a signature per live secret). The webhook is
 * accepted when any v1 signature in webhook-signature matches any secret,
 * compared in constant time, and webhook-timestamp is within
 * toleranceSeconds of now in either direction.
 *
 * Throws WebhookVerificationError when the request must be refused, and
 * TypeError when a secret is malformed.
 */
export function verify(
  payload: string | Uint8Array,
  headers: HeadersLike,
  secrets: WebhookSecret | readonly WebhookSecret[],
  options: VerifyOptions = {},
): VerifiedWebhook {
  const keys = (Array.isArray(secrets) ? secrets : [secrets as WebhookSecret]).map(secretKey);
  if (keys.length === 0) throw new TypeError("verify: no secret given");
  const id = headerValue(headers, "webhook-id");
  const timestamp = headerValue(headers, "webhook-timestamp");
  const signatures = headerValue(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      "missing_header",
      "missing webhook-id, webhook-timestamp or webhook-signature header",
    );
  }
  if (!/^[0-9]{1,15}$/.test(timestamp)) {
    throw new WebhookVerificationError("invalid_timestamp", "webhook-timestamp is not Unix seconds");
  }
  const ts = Number(timestamp);
  const nowMs = options.now === undefined ? Date.now() : typeof options.now === "number" ? options.now : options.now.getTime();
  const now = Math.floor(nowMs / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (ts < now - tolerance) {
    throw new WebhookVerificationError("timestamp_too_old", "webhook-timestamp is too old");
  }
  if (ts > now + tolerance) {
    throw new WebhookVerificationError("timestamp_too_new", "webhook-timestamp is in the future");
  }
  const body = toBytes(payload);
  const expected = keys.map((key) => hmac(key, id, timestamp, body));
  let matched = false;
  for (const entry of signatures.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    const b64 = entry.slice(comma + 1);
    if (!BASE64.test(b64)) continue;
    const got = Buffer.from(b64, "base64");
    for (const want of expected) {
      // Every candidate is compared (no early exit) so timing does not tell
      // which secret or position matched.
      if (got.length === want.length && timingSafeEqual(got, want)) matched = true;
    }
  }
  if (!matched) {
    throw new WebhookVerificationError("no_matching_signature", "no signature matches the secret(s)");
  }
  return { id, timestamp: new Date(ts * 1000) };
}

// ---- payload types -------------------------------------------------------------

/** Harbor's event types, as in payloads and policies. */
export type HarborEventType =
  | "PUSH_ARTIFACT"
  | "PULL_ARTIFACT"
  | "DELETE_ARTIFACT"
  | "QUOTA_EXCEED"
  | "QUOTA_WARNING"
  | "SCANNING_FAILED"
  | "SCANNING_STOPPED"
  | "SCANNING_COMPLETED"
  | "REPLICATION"
  | "TAG_RETENTION";

/** The CloudEvents "type" of each Harbor event type. */
export const CLOUDEVENTS_TYPES: Readonly<Record<HarborEventType, string>> = Object.freeze({
  PUSH_ARTIFACT: "harbor.artifact.pushed",
  PULL_ARTIFACT: "harbor.artifact.pulled",
  DELETE_ARTIFACT: "harbor.artifact.deleted",
  QUOTA_EXCEED: "harbor.quota.exceeded",
  QUOTA_WARNING: "harbor.quota.warned",
  SCANNING_FAILED: "harbor.scan.failed",
  SCANNING_STOPPED: "harbor.scan.stopped",
  SCANNING_COMPLETED: "harbor.scan.completed",
  REPLICATION: "harbor.replication.status.changed",
  TAG_RETENTION: "harbor.tag_retention.finished",
});

const HARBOR_TYPE_OF_CE: ReadonlyMap<string, HarborEventType> = new Map(
  Object.entries(CLOUDEVENTS_TYPES).map(([k, v]) => [v, k as HarborEventType]),
);

// Field names below are the payload's own (Harbor's JSON), so the objects are
// exactly what the body holds.

/** A scanner, e.g. Trivy. */
export interface Scanner {
  name: string;
  vendor: string;
  version: string;
}

/** Vulnerability counts of a report. */
export interface VulnerabilitySummary {
  total: number;
  fixable: number;
  /** Counts per severity, e.g. {"High": 2}. */
  summary: Record<string, number>;
}

/** Harbor's NativeReportSummary: one vulnerability report. */
export interface ScanReportSummary {
  report_id: string;
  scan_status: string;
  severity: string;
  /** Seconds. */
  duration: number;
  /** null when the scan did not complete. */
  summary: VulnerabilitySummary | null;
  /** RFC 3339. */
  start_time: string;
  /** RFC 3339. */
  end_time: string;
  scanner?: Scanner;
  complete_percent: number;
}

/** The summary of an SBOM scan. */
export interface SbomOverview {
  start_time?: string;
  end_time?: string;
  /** Seconds. */
  duration?: number;
  sbom_repository?: string;
  sbom_digest?: string;
  scan_status?: string;
  report_id?: string;
  scanner?: Scanner;
}

/** One artifact of an event. */
export interface Resource {
  digest?: string;
  tag?: string;
  resource_url?: string;
  /** Keyed by report MIME type. */
  scan_overview?: Record<string, ScanReportSummary>;
  sbom_overview?: SbomOverview;
}

/** The repository of an event. */
export interface Repository {
  /** Unix seconds; absent for QUOTA_* and SCANNING_* events. */
  date_created?: number;
  name: string;
  namespace: string;
  repo_full_name: string;
  repo_type: string;
}

/** One side of a replication. */
export interface ReplicationResource {
  registry_name?: string;
  registry_type: string;
  endpoint: string;
  provider?: string;
  namespace?: string;
}

/** An artifact of a replication or retention result. */
export interface ArtifactInfo {
  type: string;
  status: string;
  name_tag: string;
  references: string[] | null;
  fail_reason?: string;
}

/** The replication task whose status changed. */
export interface Replication {
  harbor_hostname?: string;
  job_status?: string;
  description?: string;
  artifact_type?: string;
  authentication_type?: string;
  override_mode?: boolean;
  trigger_type?: string;
  policy_creator?: string;
  /** Unix seconds. */
  execution_timestamp?: number;
  src_resource?: ReplicationResource;
  dest_resource?: ReplicationResource;
  successful_artifact?: ArtifactInfo[];
  failed_artifact?: ArtifactInfo[];
  execution_id?: number;
  task_id?: number;
}

/** A tag or scope selector of a retention rule. */
export interface RetentionSelector {
  kind: string;
  decoration: string;
  pattern: string;
  extras: string;
}

/** One rule of a tag retention policy. */
export interface RetentionRule {
  template?: string;
  params?: Record<string, unknown>;
  tag_selectors?: RetentionSelector[];
  scope_selectors?: Record<string, RetentionSelector[]>;
}

/** A finished tag retention run. */
export interface Retention {
  total: number;
  retained: number;
  harbor_hostname?: string;
  project_name?: string;
  retention_policy_id?: number;
  retention_rule?: RetentionRule[];
  result?: string;
  deleted_artifact?: ArtifactInfo[];
}

/** Harbor's event_data: every block any event type may carry. */
export interface EventData {
  resources?: Resource[];
  repository?: Repository;
  replication?: Replication;
  retention?: Retention;
  scan?: { scan_type?: string };
  custom_attributes?: Record<string, string>;
}

/** event_data of PUSH_ARTIFACT, PULL_ARTIFACT and DELETE_ARTIFACT. */
export interface ArtifactEventData extends EventData {
  resources: Resource[];
  repository: Repository;
}
/** event_data of QUOTA_EXCEED and QUOTA_WARNING; custom_attributes.Details is the message. */
export interface QuotaEventData extends EventData {
  repository: Repository;
  custom_attributes: Record<string, string> & { Details?: string };
}
/** event_data of SCANNING_FAILED, SCANNING_STOPPED and SCANNING_COMPLETED. */
export interface ScanningEventData extends EventData {
  resources: Resource[];
  repository: Repository;
}
/** event_data of REPLICATION. */
export interface ReplicationEventData extends EventData {
  replication: Replication;
}
/** event_data of TAG_RETENTION. */
export interface RetentionEventData extends EventData {
  retention: Retention;
}

/** The event data type of each event type. */
export interface EventDataByType {
  PUSH_ARTIFACT: ArtifactEventData;
  PULL_ARTIFACT: ArtifactEventData;
  DELETE_ARTIFACT: ArtifactEventData;
  QUOTA_EXCEED: QuotaEventData;
  QUOTA_WARNING: QuotaEventData;
  SCANNING_FAILED: ScanningEventData;
  SCANNING_STOPPED: ScanningEventData;
  SCANNING_COMPLETED: ScanningEventData;
  REPLICATION: ReplicationEventData;
  TAG_RETENTION: RetentionEventData;
}

/** The CloudEvents context attributes of a CloudEvents body. */
export interface CloudEventAttributes {
  specversion: string;
  id: string;
  /** "/projects/<project id>/webhook/policies/<policy id>". */
  source: string;
  /** e.g. "harbor.artifact.pushed". */
  type: string;
  datacontenttype?: string;
  /** RFC 3339. */
  time?: string;
  /** The producer's request id, when set. */
  requestid?: string;
  /** Every other top-level attribute (extensions), operator included. */
  extensions: Record<string, unknown>;
}

/** A parsed webhook payload of one event type. */
export interface WebhookEventOf<T extends HarborEventType> {
  /** Which body format it came in. */
  format: "default" | "cloudevents";
  /** Harbor's event type (for CloudEvents, mapped from the CloudEvents type). */
  type: T;
  /** When the event happened (occur_at, or the CloudEvents time). */
  occurAt: Date;
  /** Who caused it; "" when unknown. */
  operator: string;
  /** event_data (Default) or data (CloudEvents). */
  data: EventDataByType[T];
  /** The CloudEvents attributes; undefined for Default bodies. */
  cloudEvent: CloudEventAttributes | undefined;
  /** The whole body, as parsed JSON. */
  raw: Record<string, unknown>;
}

/**
 * A parsed webhook payload: a union discriminated by `type`, so
 * `if (e.type === "PUSH_ARTIFACT") e.data.resources[0].digest` type-checks.
 */
export type WebhookEvent = { [T in HarborEventType]: WebhookEventOf<T> }[HarborEventType];

/** parse() could not read the body. */
export class WebhookParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookParseError";
  }
}

// ---- parsing -------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isHarborType(t: unknown): t is HarborEventType {
  return typeof t === "string" && Object.prototype.hasOwnProperty.call(CLOUDEVENTS_TYPES, t);
}

const REQUIRED_BLOCKS: Readonly<Record<HarborEventType, readonly (keyof EventData)[]>> = {
  PUSH_ARTIFACT: ["resources", "repository"],
  PULL_ARTIFACT: ["resources", "repository"],
  DELETE_ARTIFACT: ["resources", "repository"],
  QUOTA_EXCEED: ["repository", "custom_attributes"],
  QUOTA_WARNING: ["repository", "custom_attributes"],
  SCANNING_FAILED: ["resources", "repository"],
  SCANNING_STOPPED: ["resources", "repository"],
  SCANNING_COMPLETED: ["resources", "repository"],
  REPLICATION: ["replication"],
  TAG_RETENTION: ["retention"],
};

function checkData(type: HarborEventType, data: unknown): EventData {
  if (!isObject(data)) throw new WebhookParseError("event data is not an object");
  for (const block of REQUIRED_BLOCKS[type]) {
    const v = data[block];
    const ok = block === "resources" ? Array.isArray(v) : isObject(v);
    if (!ok) throw new WebhookParseError(`${type} event without ${block}`);
  }
  return data as EventData;
}

function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/**
 * Parses a webhook body into a typed event. The format is chosen by the
 * Content-Type ("application/cloudevents+json" for CloudEvents,
 * "application/json" for Default); without one it is detected from the
 * body. Throws WebhookParseError for a body that is not a herald/Harbor
 * payload of a known event type. Verify the signature first.
 */
export function parse(payload: string | Uint8Array, contentType?: string | null): WebhookEvent {
  const text = typeof payload === "string" ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new WebhookParseError(`body is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(body)) throw new WebhookParseError("body is not a JSON object");
  const media = mediaType(contentType);
  let cloudevents: boolean;
  if (media === "application/cloudevents+json") cloudevents = true;
  else if (media === "application/json") cloudevents = false;
  else if (media === "") cloudevents = "specversion" in body;
  else throw new WebhookParseError(`unsupported content type ${JSON.stringify(contentType)}`);
  return cloudevents ? parseCloudEvent(body) : parseDefault(body);
}

function parseDefault(body: Record<string, unknown>): WebhookEvent {
  const { type, occur_at: occurAt, operator, event_data: data } = body;
  if (!isHarborType(type)) throw new WebhookParseError(`unknown event type ${JSON.stringify(type)}`);
  if (typeof occurAt !== "number") throw new WebhookParseError("occur_at is not a number");
  return {
    format: "default",
    type,
    occurAt: new Date(occurAt * 1000),
    operator: typeof operator === "string" ? operator : "",
    data: checkData(type, data),
    cloudEvent: undefined,
    raw: body,
  } as WebhookEvent;
}

const CE_ATTRIBUTES = new Set(["specversion", "id", "source", "type", "datacontenttype", "time", "requestid", "data", "subject", "dataschema"]);

function parseCloudEvent(body: Record<string, unknown>): WebhookEvent {
  const { specversion, id, source, type: ceType, datacontenttype, time, requestid, data } = body;
  if (specversion !== "1.0") throw new WebhookParseError(`unsupported CloudEvents specversion ${JSON.stringify(specversion)}`);
  if (typeof id !== "string" || typeof source !== "string" || typeof ceType !== "string") {
    throw new WebhookParseError("CloudEvent without id, source or type");
  }
  const type = HARBOR_TYPE_OF_CE.get(ceType);
  if (type === undefined) throw new WebhookParseError(`unknown CloudEvents type ${JSON.stringify(ceType)}`);
  if (time !== undefined && typeof time !== "string") throw new WebhookParseError("CloudEvents time is not a string");
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!CE_ATTRIBUTES.has(k)) extensions[k] = v;
  const occurAt = time === undefined ? new Date(NaN) : new Date(time);
  if (Number.isNaN(occurAt.getTime())) throw new WebhookParseError("CloudEvents time is missing or not RFC 3339");
  const attributes: CloudEventAttributes = { specversion, id, source, type: ceType, extensions };
  if (typeof datacontenttype === "string") attributes.datacontenttype = datacontenttype;
  if (time !== undefined) attributes.time = time;
  if (typeof requestid === "string") attributes.requestid = requestid;
  return {
    format: "cloudevents",
    type,
    occurAt,
    operator: typeof body["operator"] === "string" ? body["operator"] : "",
    data: checkData(type, data),
    cloudEvent: attributes,
    raw: body,
  } as WebhookEvent;
}

/** What verifyAndParse() returns. */
export interface ReceivedWebhook extends VerifiedWebhook {
  event: WebhookEvent;
}

/**
 * verify() then parse(), taking the Content-Type from the headers: the one
 * call a webhook endpoint needs.
 */
export function verifyAndParse(
  payload: string | Uint8Array,
  headers: HeadersLike,
  secrets: WebhookSecret | readonly WebhookSecret[],
  options: VerifyOptions = {},
): ReceivedWebhook {
  const verified = verify(payload, headers, secrets, options);
  return { ...verified, event: parse(payload, headerValue(headers, "content-type")) };
}
