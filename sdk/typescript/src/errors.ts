// Typed errors: every failed call rejects with a HeraldError subclass chosen
// by the gRPC status code, carrying the google.rpc.Status details herald puts
// in the grpc-status-details-bin trailer (ErrorInfo reason and metadata,
// BadRequest field violations, RetryInfo, ResourceInfo).
import { Metadata, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

import { Status } from "./gen/google/rpc/status.js";
import { BadRequest, ErrorInfo, ResourceInfo, RetryInfo } from "./gen/google/rpc/error_details.js";
import type { Any } from "./gen/google/protobuf/any.js";

/** The domain of herald's google.rpc.ErrorInfo. */
export const ERROR_DOMAIN = "herald.dev";

/** One invalid request field, from google.rpc.BadRequest. */
export interface FieldViolation {
  /** Path to the field, e.g. "policy.targets[0].address". */
  readonly field: string;
  /** Why the value is invalid. */
  readonly description: string;
}

/** A decoded entry of google.rpc.Status.details. */
export type ErrorDetail =
  | { readonly type: "google.rpc.ErrorInfo"; readonly value: ErrorInfo }
  | { readonly type: "google.rpc.BadRequest"; readonly value: BadRequest }
  | { readonly type: "google.rpc.RetryInfo"; readonly value: RetryInfo }
  | { readonly type: "google.rpc.ResourceInfo"; readonly value: ResourceInfo }
  | { readonly type: string; readonly value: Uint8Array };

/** What a HeraldError is built from. */
export interface HeraldErrorInit {
  code: GrpcStatus;
  message: string;
  details?: readonly ErrorDetail[];
  trailers?: Metadata;
  cause?: unknown;
}

/**
 * The base class of every error the client raises for a failed call.
 * Branch on the subclass (or `code`) and on `reason`, never on `message`.
 */
export class HeraldError extends Error {
  /** The gRPC status code, e.g. `status.NOT_FOUND` (5). */
  readonly code: GrpcStatus;
  /** The code's name, e.g. "NOT_FOUND". */
  readonly codeName: string;
  /** The ErrorInfo reason, e.g. "TOKEN_INVALID" (see herald.v1.ErrorReason); "" when absent. */
  readonly reason: string;
  /** The ErrorInfo domain, "herald.dev" for herald's own errors; "" when absent. */
  readonly domain: string;
  /** The ErrorInfo metadata, e.g. {resource: "policy", id: "7"} for NOT_FOUND. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The BadRequest field violations (INVALID_ARGUMENT); empty otherwise. */
  readonly fieldViolations: readonly FieldViolation[];
  /** The server's suggested retry delay in milliseconds (RetryInfo), if any. */
  readonly retryDelayMs: number | undefined;
  /** Every decoded status detail, unknown ones as raw bytes. */
  readonly details: readonly ErrorDetail[];
  /** The call's trailing metadata, when the error came from the server. */
  readonly trailers: Metadata;

  constructor(init: HeraldErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.codeName = GrpcStatus[init.code] ?? `CODE_${init.code}`;
    this.details = init.details ?? [];
    this.trailers = init.trailers ?? new Metadata();
    let reason = "";
    let domain = "";
    let metadata: Record<string, string> = {};
    const violations: FieldViolation[] = [];
    let retryDelayMs: number | undefined;
    for (const d of this.details) {
      if (d.type === "google.rpc.ErrorInfo") {
        const info = d.value as ErrorInfo;
        if (reason === "") {
          reason = info.reason;
          domain = info.domain;
          metadata = { ...info.metadata };
        }
      } else if (d.type === "google.rpc.BadRequest") {
        for (const v of (d.value as BadRequest).fieldViolations) {
          violations.push({ field: v.field, description: v.description });
        }
      } else if (d.type === "google.rpc.RetryInfo") {
        const delay = (d.value as RetryInfo).retryDelay;
        if (delay) retryDelayMs = delay.seconds * 1000 + Math.floor(delay.nanos / 1e6);
      }
    }
    this.reason = reason;
    this.domain = domain;
    this.metadata = Object.freeze(metadata);
    this.fieldViolations = Object.freeze(violations);
    this.retryDelayMs = retryDelayMs;
  }
}

/** CANCELLED: the call was cancelled, usually by the caller (AbortSignal). */
export class CancelledError extends HeraldError {}
/** UNKNOWN. */
export class UnknownError extends HeraldError {}
/** INVALID_ARGUMENT: see `fieldViolations` for the fields. */
export class InvalidArgumentError extends HeraldError {}
/** DEADLINE_EXCEEDED: the call did not finish within its deadline. */
export class DeadlineExceededError extends HeraldError {}
/** NOT_FOUND: `metadata.resource` and `metadata.id` name what was missing. */
export class NotFoundError extends HeraldError {}
/** ALREADY_EXISTS, e.g. reason NAME_TAKEN. */
export class AlreadyExistsError extends HeraldError {}
/** PERMISSION_DENIED: reason ROLE_NOT_ALLOWED or PROJECT_NOT_ALLOWED. */
export class PermissionDeniedError extends HeraldError {}
/** RESOURCE_EXHAUSTED, e.g. reason RATE_LIMITED. */
export class ResourceExhaustedError extends HeraldError {}
/** FAILED_PRECONDITION, e.g. reason TASK_NOT_FINAL. */
export class FailedPreconditionError extends HeraldError {}
/** ABORTED. */
export class AbortedError extends HeraldError {}
/** OUT_OF_RANGE, e.g. reason CURSOR_EXPIRED for a watch cursor. */
export class OutOfRangeError extends HeraldError {}
/** UNIMPLEMENTED: the server does not implement this RPC (yet). */
export class UnimplementedError extends HeraldError {}
/** INTERNAL. */
export class InternalError extends HeraldError {}
/** UNAVAILABLE: the server or its store is unreachable; safe calls are retried. */
export class UnavailableError extends HeraldError {}
/** DATA_LOSS. */
export class DataLossError extends HeraldError {}
/** UNAUTHENTICATED: reason TOKEN_MISSING or TOKEN_INVALID. */
export class UnauthenticatedError extends HeraldError {}

const CLASSES: Partial<Record<GrpcStatus, new (init: HeraldErrorInit) => HeraldError>> = {
  [GrpcStatus.CANCELLED]: CancelledError,
  [GrpcStatus.UNKNOWN]: UnknownError,
  [GrpcStatus.INVALID_ARGUMENT]: InvalidArgumentError,
  [GrpcStatus.DEADLINE_EXCEEDED]: DeadlineExceededError,
  [GrpcStatus.NOT_FOUND]: NotFoundError,
  [GrpcStatus.ALREADY_EXISTS]: AlreadyExistsError,
  [GrpcStatus.PERMISSION_DENIED]: PermissionDeniedError,
  [GrpcStatus.RESOURCE_EXHAUSTED]: ResourceExhaustedError,
  [GrpcStatus.FAILED_PRECONDITION]: FailedPreconditionError,
  [GrpcStatus.ABORTED]: AbortedError,
  [GrpcStatus.OUT_OF_RANGE]: OutOfRangeError,
  [GrpcStatus.UNIMPLEMENTED]: UnimplementedError,
  [GrpcStatus.INTERNAL]: InternalError,
  [GrpcStatus.UNAVAILABLE]: UnavailableError,
  [GrpcStatus.DATA_LOSS]: DataLossError,
  [GrpcStatus.UNAUTHENTICATED]: UnauthenticatedError,
};

/** Builds the HeraldError subclass for a status code. */
export function makeError(init: HeraldErrorInit): HeraldError {
  const Class = CLASSES[init.code] ?? HeraldError;
  return new Class(init);
}

/** Decodes the entries of google.rpc.Status.details; unknown types stay raw. */
export function decodeDetails(anys: readonly Any[]): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const any of anys) {
    const type = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
    try {
      switch (type) {
        case "google.rpc.ErrorInfo":
          out.push({ type, value: ErrorInfo.decode(any.value) });
          continue;
        case "google.rpc.BadRequest":
          out.push({ type, value: BadRequest.decode(any.value) });
          continue;
        case "google.rpc.RetryInfo":
          out.push({ type, value: RetryInfo.decode(any.value) });
          continue;
        case "google.rpc.ResourceInfo":
          out.push({ type, value: ResourceInfo.decode(any.value) });
          continue;
      }
    } catch {
      // A detail that does not decode is kept as raw bytes below.
    }
    out.push({ type, value: new Uint8Array(any.value) });
  }
  return out;
}

/** Converts a google.rpc.Status (e.g. PublishEventsResponse.error) to a HeraldError. */
export function errorFromStatus(s: Status, trailers?: Metadata): HeraldError {
  return makeError({
    code: s.code as GrpcStatus,
    message: s.message,
    details: decodeDetails(s.details),
    ...(trailers ? { trailers } : {}),
  });
}

function isServiceError(e: unknown): e is ServiceError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "number" &&
    (e as { metadata?: unknown }).metadata instanceof Metadata
  );
}

/**
 * Converts what @grpc/grpc-js rejects with into a HeraldError, decoding the
 * grpc-status-details-bin trailer. HeraldErrors pass through unchanged.
 */
export function toHeraldError(e: unknown): HeraldError {
  if (e instanceof HeraldError) return e;
  if (!isServiceError(e)) {
    const message = e instanceof Error ? e.message : String(e);
    return makeError({ code: GrpcStatus.UNKNOWN, message, cause: e });
  }
  const trailers = e.metadata;
  let details: ErrorDetail[] = [];
  let message = e.details || e.message;
  const bin = trailers.get("grpc-status-details-bin");
  if (bin.length > 0 && Buffer.isBuffer(bin[0])) {
    try {
      const s = Status.decode(bin[0]);
      details = decodeDetails(s.details);
      if (s.message) message = s.message;
    } catch {
      // Undecodable details: keep the plain status.
    }
  }
  return makeError({ code: e.code, message, details, trailers, cause: e });
}
