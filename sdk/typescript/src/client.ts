// HeraldClient: a typed, promise-based client for herald's gRPC API over
// @grpc/grpc-js. One channel serves the four services; every call carries
// the bearer token and a deadline; safe calls are retried on UNAVAILABLE;
// lists are async iterators across pages; watchTasks resumes by itself.
import { once } from "node:events";

import * as grpc from "@grpc/grpc-js";

import {
  CancelledError,
  errorFromStatus,
  HeraldError,
  toHeraldError,
  UnavailableError,
} from "./errors.js";
import {
  AdminServiceClient,
  AdminServiceService,
  CreateTokenRequest,
  type CreateTokenResponse,
  type GetServerInfoResponse,
  ListTokensRequest,
  type ListTokensResponse,
  type Settings,
  type Token,
  UpdateSettingsRequest,
} from "./gen/herald/v1/admin_service.js";
import type { Execution, Task, TaskUpdate } from "./gen/herald/v1/delivery.js";
import {
  DeliveryServiceClient,
  DeliveryServiceService,
  ListExecutionsRequest,
  type ListExecutionsResponse,
  RecoverFailedRequest,
  type RecoverFailedResponse,
  WatchTasksRequest,
  type WatchTasksResponse,
} from "./gen/herald/v1/delivery_service.js";
import {
  EventServiceClient,
  EventServiceService,
  type EventAck,
  PublishEventRequest,
  PublishEventsRequest,
} from "./gen/herald/v1/event_service.js";
import type { Policy } from "./gen/herald/v1/policy.js";
import {
  PolicyServiceClient,
  PolicyServiceService,
  CreatePolicyRequest,
  type ListEventTypesResponse,
  ListPoliciesRequest,
  type ListPoliciesResponse,
  UpdatePolicyRequest,
} from "./gen/herald/v1/policy_service.js";
import { Paginator } from "./pagination.js";
import { sleep, type Input } from "./util.js";

/** The SDK version, sent in the user agent. */
export const VERSION = "0.1.0";

/** TLS settings. Without rootCerts the system roots are trusted. */
export interface TlsOptions {
  /** PEM CA certificates to trust instead of the system roots. */
  rootCerts?: string | Buffer;
  /** PEM client certificate chain, for mutual TLS (with privateKey). */
  certChain?: string | Buffer;
  /** PEM client private key, for mutual TLS (with certChain). */
  privateKey?: string | Buffer;
  /** The name to verify the server certificate against, when it differs from the address host. */
  serverName?: string;
}

/** How calls that are safe to repeat are retried on UNAVAILABLE. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 6). 1 disables retries. */
  maxAttempts: number;
  /** Delay before the first retry in ms (default 250); doubles each retry. */
  initialBackoffMs: number;
  /** Largest delay between attempts in ms (default 4000). */
  maxBackoffMs: number;
  /** Called before each retry, e.g. for logging. */
  onRetry?: (info: RetryInfo) => void;
}

/** What RetryOptions.onRetry is told. */
export interface RetryInfo {
  /** The full method, e.g. "/herald.v1.PolicyService/GetPolicy". */
  method: string;
  /** The attempt that failed, starting at 1. */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** Why the attempt failed. */
  error: HeraldError;
}

/** Options of `new HeraldClient(...)`. */
export interface HeraldClientOptions {
  /** The server, "host:port", e.g. "127.0.0.1:7070". */
  address: string;
  /** The access token, sent as "authorization: Bearer <token>". */
  token?: string;
  /** Connect over TLS: `true` for the system roots, or the certificates to use. */
  tls?: true | TlsOptions;
  /** Connect over plaintext (local development). Exactly one of tls and insecure must be set. */
  insecure?: boolean;
  /** Default deadline of unary calls in ms (default 10000). Streams have none unless given per call. */
  deadlineMs?: number;
  /** Retry settings for safe calls, or false to never retry. */
  retry?: Partial<RetryOptions> | false;
  /** Extra @grpc/grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

/** Per-call options, accepted by every method as the last argument. */
export interface CallOptions {
  /** This call's deadline in ms from now (overrides the client default). */
  deadlineMs?: number;
  /** Cancels the call (and any pending retry); it then rejects with CancelledError. */
  signal?: AbortSignal;
  /** Extra metadata sent with the call. */
  metadata?: Record<string, string>;
  /** Set false to disable retries for this call. */
  retry?: boolean;
}

/** Options of HeraldClient.watchTasks. */
export interface WatchOptions extends Omit<CallOptions, "deadlineMs" | "retry"> {
  /**
   * Consecutive failed (re)connections tolerated before the iterator throws
   * the UNAVAILABLE error (default 10). Receiving an update, or a stream that
   * stayed up for 10 s, resets the count.
   */
  maxReconnects?: number;
  /** Called before each reconnection. */
  onReconnect?: (info: { attempt: number; delayMs: number; cursor: string; error: HeraldError }) => void;
}

/** One acknowledgement of HeraldClient.publishEvents. */
export interface PublishResult {
  /** The position of the event in the stream, from 1. */
  sequence: number;
  /** The request_id sent with the event, echoed. */
  requestId: string;
  /** The acknowledgement; undefined when the event was refused. */
  ack: EventAck | undefined;
  /** Why the event was refused (e.g. InvalidArgumentError); the stream goes on. */
  error: HeraldError | undefined;
}

interface MethodDef<Req, Res> {
  path: string;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (value: Buffer) => Res;
}

const DEFAULT_RETRY: RetryOptions = { maxAttempts: 6, initialBackoffMs: 250, maxBackoffMs: 4000 };

/** The typed generated stubs, sharing the client's channel, for callback-style use. */
export interface RawStubs {
  policies: PolicyServiceClient;
  events: EventServiceClient;
  deliveries: DeliveryServiceClient;
  admin: AdminServiceClient;
}

/**
 * A client of one herald server. Create one per process and reuse it; call
 * close() when done.
 *
 * ```ts
 * const client = new HeraldClient({ address: "127.0.0.1:7070", token, insecure: true });
 * for await (const p of client.listPolicies({ projectId: 1 })) console.log(p.name);
 * ```
 */
export class HeraldClient {
  readonly address: string;
  private readonly token: string | undefined;
  private readonly deadlineMs: number;
  private readonly retry: RetryOptions;
  private readonly base: grpc.Client;
  private readonly credentials: grpc.ChannelCredentials;
  private rawStubs: RawStubs | undefined;

  constructor(options: HeraldClientOptions) {
    if (!options.address) throw new TypeError("HeraldClient: address is required");
    if (options.tls && options.insecure) {
      throw new TypeError("HeraldClient: set either tls or insecure, not both");
    }
    if (!options.tls && !options.insecure) {
      throw new TypeError("HeraldClient: set tls (true or TlsOptions) or insecure: true");
    }
    this.address = options.address;
    this.token = options.token;
    this.deadlineMs = options.deadlineMs ?? 10_000;
    this.retry =
      options.retry === false
        ? { ...DEFAULT_RETRY, maxAttempts: 1 }
        : { ...DEFAULT_RETRY, ...(options.retry ?? {}) };
    const channelOptions: grpc.ChannelOptions = {
      "grpc.primary_user_agent": `herald-typescript/${VERSION}`,
      ...(options.channelOptions ?? {}),
    };
    if (options.insecure) {
      this.credentials = grpc.credentials.createInsecure();
    } else {
      const tls: TlsOptions = options.tls === true || options.tls === undefined ? {} : options.tls;
      if (Boolean(tls.certChain) !== Boolean(tls.privateKey)) {
        throw new TypeError("HeraldClient: tls.certChain and tls.privateKey go together");
      }
      this.credentials = grpc.credentials.createSsl(
        tls.rootCerts === undefined ? null : Buffer.from(tls.rootCerts),
        tls.privateKey === undefined ? null : Buffer.from(tls.privateKey),
        tls.certChain === undefined ? null : Buffer.from(tls.certChain),
      );
      if (tls.serverName) {
        channelOptions["grpc.ssl_target_name_override"] = tls.serverName;
        channelOptions["grpc.default_authority"] = tls.serverName;
      }
    }
    this.base = new grpc.Client(this.address, this.credentials, channelOptions);
  }

  /** Closes the channel; pending calls fail. */
  close(): void {
    this.base.close();
  }

  /**
   * Waits until the channel is connected (or the deadline passes). Calls do
   * not need this; it is for failing fast at startup.
   */
  waitForReady(deadlineMs = this.deadlineMs): Promise<void> {
    return new Promise((resolve, reject) => {
      this.base.waitForReady(Date.now() + deadlineMs, (err) =>
        err
          ? reject(new UnavailableError({ code: grpc.status.UNAVAILABLE, message: err.message, cause: err }))
          : resolve(),
      );
    });
  }

  /** The generated @grpc/grpc-js stubs on this client's channel. */
  get raw(): RawStubs {
    if (!this.rawStubs) {
      const opts = { channelOverride: this.base.getChannel() };
      this.rawStubs = {
        policies: new PolicyServiceClient(this.address, this.credentials, opts),
        events: new EventServiceClient(this.address, this.credentials, opts),
        deliveries: new DeliveryServiceClient(this.address, this.credentials, opts),
        admin: new AdminServiceClient(this.address, this.credentials, opts),
      };
    }
    return this.rawStubs;
  }

  // ---- PolicyService -----------------------------------------------------

  /**
   * Creates a policy. With a requestId the call is idempotent (the same key
   * within 24 h returns the original policy) and is retried on UNAVAILABLE.
   */
  async createPolicy(request: Input<CreatePolicyRequest>, options?: CallOptions): Promise<Policy> {
    const res = await this.unary(
      PolicyServiceService.createPolicy,
      CreatePolicyRequest.fromPartial(request),
      options,
      Boolean(request.requestId),
    );
    return required(res.policy, "policy");
  }

  /** Returns one policy (secrets are never returned). */
  async getPolicy(id: number, options?: CallOptions): Promise<Policy> {
    const res = await this.unary(PolicyServiceService.getPolicy, { id }, options, true);
    return required(res.policy, "policy");
  }

  /**
   * Lists policies, newest first, across pages:
   * `for await (const p of client.listPolicies({ projectId: 1 }))`. Use
   * `.byPage()` for the pages and their totalSize.
   */
  listPolicies(request: Input<ListPoliciesRequest> = {}, options?: CallOptions): Paginator<Policy, ListPoliciesResponse> {
    return new Paginator(
      request.pageToken ?? "",
      (pageToken) =>
        this.unary(
          PolicyServiceService.listPolicies,
          ListPoliciesRequest.fromPartial({ ...request, pageToken }),
          options,
          true,
        ),
      (res) => res.policies,
    );
  }

  /** Changes the fields named in updateMask (all set fields when omitted). Not retried. */
  async updatePolicy(request: Input<UpdatePolicyRequest>, options?: CallOptions): Promise<Policy> {
    const res = await this.unary(PolicyServiceService.updatePolicy, UpdatePolicyRequest.fromPartial(request), options, false);
    return required(res.policy, "policy");
  }

  /** Deletes a policy with its executions, tasks and logs. Not retried. */
  async deletePolicy(id: number, options?: CallOptions): Promise<void> {
    await this.unary(PolicyServiceService.deletePolicy, { id }, options, false);
  }

  /** The supported event types, target types and payload formats. */
  listEventTypes(options?: CallOptions): Promise<ListEventTypesResponse> {
    return this.unary(PolicyServiceService.listEventTypes, {}, options, true);
  }

  // ---- EventService ------------------------------------------------------

  /**
   * Publishes one event and resolves with its acknowledgement once it is
   * durable. With a requestId it is idempotent and retried on UNAVAILABLE.
   */
  async publishEvent(request: Input<PublishEventRequest>, options?: CallOptions): Promise<EventAck> {
    const res = await this.unary(
      EventServiceService.publishEvent,
      PublishEventRequest.fromPartial(request),
      options,
      Boolean(request.requestId),
    );
    return required(res.ack, "ack");
  }

  /**
   * Publishes a stream of events over one PublishEvents call and yields one
   * result per event, in order. A refused event yields a result with `error`
   * and the stream goes on. Writes respect flow control, so a large or
   * endless source is never buffered without bound. Not retried: on an
   * UNAVAILABLE error re-send the unacknowledged events with the same
   * requestIds.
   *
   * ```ts
   * for await (const r of client.publishEvents(events)) if (r.error) console.error(r.error);
   * ```
   */
  async *publishEvents(
    events: Iterable<Input<PublishEventsRequest>> | AsyncIterable<Input<PublishEventsRequest>>,
    options?: CallOptions,
  ): AsyncGenerator<PublishResult, void, undefined> {
    const def = EventServiceService.publishEvents;
    const call = this.base.makeBidiStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      this.metadata(options),
      this.streamCallOptions(options),
    );
    const unlink = linkAbort(options?.signal, () => call.cancel());
    // The writer feeds the source into the call, waiting for "drain" when the
    // transport is full; it stops when the reader below stops.
    const stop = new AbortController();
    let writeError: unknown;
    void (async () => {
      try {
        for await (const e of events) {
          if (stop.signal.aborted) return;
          if (!call.write(PublishEventsRequest.fromPartial(e))) {
            await once(call, "drain", { signal: stop.signal });
          }
        }
        if (!stop.signal.aborted) call.end();
      } catch (e) {
        if (stop.signal.aborted) return;
        writeError = e;
        call.cancel();
      }
    })();
    try {
      for await (const res of messages(call)) {
        yield {
          sequence: res.sequence,
          requestId: res.requestId,
          ack: res.error ? undefined : res.ack,
          error: res.error ? errorFromStatus(res.error) : undefined,
        };
      }
    } catch (e) {
      if (writeError !== undefined) throw writeError;
      throw toHeraldError(e);
    } finally {
      stop.abort();
      unlink();
      call.cancel();
    }
    if (writeError !== undefined) throw writeError;
  }

  // ---- DeliveryService ---------------------------------------------------

  /** Lists a policy's executions, newest first, across pages. */
  listExecutions(
    request: Input<ListExecutionsRequest>,
    options?: CallOptions,
  ): Paginator<Execution, ListExecutionsResponse> {
    return new Paginator(
      request.pageToken ?? "",
      (pageToken) =>
        this.unary(
          DeliveryServiceService.listExecutions,
          ListExecutionsRequest.fromPartial({ ...request, pageToken }),
          options,
          true,
        ),
      (res) => res.executions,
    );
  }

  /** Returns one execution with its rendered payload and task counts. */
  async getExecution(id: number, options?: CallOptions): Promise<Execution> {
    const res = await this.unary(DeliveryServiceService.getExecution, { id }, options, true);
    return required(res.execution, "execution");
  }

  /** Returns an execution's tasks (always one). */
  async listTasks(executionId: number, options?: CallOptions): Promise<Task[]> {
    const res = await this.unary(DeliveryServiceService.listTasks, { executionId }, options, true);
    return res.tasks;
  }

  /** Returns a task's log: one line per attempt. */
  async getTaskLog(taskId: number, options?: CallOptions): Promise<string> {
    const res = await this.unary(DeliveryServiceService.getTaskLog, { taskId }, options, true);
    return res.log;
  }

  /** Starts a new attempt cycle for a final task (same payload and webhook-id). Not retried. */
  async redeliverTask(taskId: number, options?: CallOptions): Promise<Task> {
    const res = await this.unary(DeliveryServiceService.redeliverTask, { taskId }, options, false);
    return required(res.task, "task");
  }

  /** Redelivers the task of an execution. Not retried. */
  async redeliverExecution(executionId: number, options?: CallOptions): Promise<Execution> {
    const res = await this.unary(DeliveryServiceService.redeliverExecution, { executionId }, options, false);
    return required(res.execution, "execution");
  }

  /**
   * Redelivers every finally failed task of a policy or project in a time
   * window, yielding progress; the last message has done=true. Not retried.
   */
  async *recoverFailed(
    request: Input<RecoverFailedRequest>,
    options?: CallOptions,
  ): AsyncGenerator<RecoverFailedResponse, void, undefined> {
    const def = DeliveryServiceService.recoverFailed;
    const call = this.base.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      RecoverFailedRequest.fromPartial(request),
      this.metadata(options),
      this.streamCallOptions(options),
    );
    const unlink = linkAbort(options?.signal, () => call.cancel());
    try {
      yield* messages(call);
    } catch (e) {
      throw toHeraldError(e);
    } finally {
      unlink();
      call.cancel();
    }
  }

  /**
   * Follows task changes live. The returned watch is an async iterator of
   * TaskUpdates that reconnects by itself on UNAVAILABLE (server restart,
   * consumer too slow), resuming after the last cursor it yielded, so no
   * update is missed or repeated. Stop it with `break`, `watch.close()` or
   * an AbortSignal.
   *
   * ```ts
   * for await (const u of client.watchTasks({ policyId })) console.log(u.task?.status);
   * ```
   */
  watchTasks(request: Input<WatchTasksRequest> = {}, options: WatchOptions = {}): TaskWatch {
    return new TaskWatch(this, WatchTasksRequest.fromPartial(request), options);
  }

  // ---- AdminService ------------------------------------------------------

  /** The server-wide delivery settings. */
  async getSettings(options?: CallOptions): Promise<Settings> {
    const res = await this.unary(AdminServiceService.getSettings, {}, options, true);
    return required(res.settings, "settings");
  }

  /** Changes the settings named in updateMask (every set field when omitted). Not retried. */
  async updateSettings(request: Input<UpdateSettingsRequest>, options?: CallOptions): Promise<Settings> {
    const res = await this.unary(
      AdminServiceService.updateSettings,
      UpdateSettingsRequest.fromPartial(request),
      options,
      false,
    );
    return required(res.settings, "settings");
  }

  /** Creates a token; the response's secret is shown only here. Not retried. */
  createToken(request: Input<CreateTokenRequest>, options?: CallOptions): Promise<CreateTokenResponse> {
    return this.unary(AdminServiceService.createToken, CreateTokenRequest.fromPartial(request), options, false);
  }

  /** Lists tokens (never their secrets), oldest first, across pages. */
  listTokens(request: Input<ListTokensRequest> = {}, options?: CallOptions): Paginator<Token, ListTokensResponse> {
    return new Paginator(
      request.pageToken ?? "",
      (pageToken) =>
        this.unary(
          AdminServiceService.listTokens,
          ListTokensRequest.fromPartial({ ...request, pageToken }),
          options,
          true,
        ),
      (res) => res.tokens,
    );
  }

  /** Revokes a token at once. Revoking twice is not an error, so it is retried. */
  async revokeToken(id: number, options?: CallOptions): Promise<void> {
    await this.unary(AdminServiceService.revokeToken, { id }, options, true);
  }

  /** The server version, store and the caller's own identity and role. */
  getServerInfo(options?: CallOptions): Promise<GetServerInfoResponse> {
    return this.unary(AdminServiceService.getServerInfo, {}, options, true);
  }

  // ---- plumbing ----------------------------------------------------------

  /** @internal Metadata of a call: the bearer token and the caller's extras. */
  metadata(options?: { metadata?: Record<string, string> }): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    for (const [k, v] of Object.entries(options?.metadata ?? {})) md.set(k, v);
    return md;
  }

  private streamCallOptions(options?: CallOptions): grpc.CallOptions {
    return options?.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  }

  /** @internal The channel's generic client, for TaskWatch. */
  get grpcClient(): grpc.Client {
    return this.base;
  }

  /** @internal The retry settings. */
  get retryOptions(): RetryOptions {
    return this.retry;
  }

  /**
   * One unary call with the deadline covering every attempt; when
   * `idempotent`, UNAVAILABLE is retried with exponential backoff and jitter.
   */
  private async unary<Req, Res>(
    def: MethodDef<Req, Res>,
    request: Req,
    options: CallOptions | undefined,
    idempotent: boolean,
  ): Promise<Res> {
    const deadline = Date.now() + (options?.deadlineMs ?? this.deadlineMs);
    const maxAttempts = idempotent && options?.retry !== false ? Math.max(1, this.retry.maxAttempts) : 1;
    const signal = options?.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw cancelled(signal);
      try {
        return await this.unaryOnce(def, request, options, deadline);
      } catch (e) {
        const err = toHeraldError(e);
        if (!(err instanceof UnavailableError) || attempt >= maxAttempts) throw err;
        const delayMs = Math.max(err.retryDelayMs ?? 0, backoff(this.retry, attempt));
        if (Date.now() + delayMs >= deadline) throw err;
        this.retry.onRetry?.({ method: def.path, attempt, delayMs, error: err });
        await sleep(delayMs, signal);
      }
    }
  }

  private unaryOnce<Req, Res>(
    def: MethodDef<Req, Res>,
    request: Req,
    options: CallOptions | undefined,
    deadline: number,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let unlink = (): void => undefined;
      const call = this.base.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        this.metadata(options),
        { deadline },
        (err, res) => {
          unlink();
          if (err) reject(toHeraldError(err));
          else if (res === undefined) reject(new HeraldError({ code: grpc.status.INTERNAL, message: "empty response" }));
          else resolve(res);
        },
      );
      unlink = linkAbort(options?.signal, () => call.cancel());
    });
  }
}

/**
 * A running WatchTasks subscription: an async iterable of TaskUpdates that
 * resumes from its last cursor on UNAVAILABLE. Iterate it once.
 */
export class TaskWatch implements AsyncIterable<TaskUpdate> {
  private lastCursor: string;
  private current: grpc.ClientReadableStream<WatchTasksResponse> | undefined;
  private closed = false;

  /** @internal */
  constructor(
    private readonly client: HeraldClient,
    private readonly request: WatchTasksRequest,
    private readonly options: WatchOptions,
  ) {
    this.lastCursor = request.cursor;
  }

  /** The cursor of the last update yielded; pass it as `cursor` to resume later. */
  get cursor(): string {
    return this.lastCursor;
  }

  /** Ends the watch; a pending iteration finishes without error. */
  close(): void {
    this.closed = true;
    this.current?.cancel();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TaskUpdate, void, undefined> {
    const def = DeliveryServiceService.watchTasks;
    const grpcClient = this.client.grpcClient;
    const retry = this.client.retryOptions;
    const maxReconnects = this.options.maxReconnects ?? 10;
    const signal = this.options.signal;
    let failures = 0;
    while (!this.closed) {
      if (signal?.aborted) throw cancelled(signal);
      const request: WatchTasksRequest = { ...this.request, cursor: this.lastCursor };
      const call = grpcClient.makeServerStreamRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        this.client.metadata(this.options),
        {},
      );
      this.current = call;
      const started = Date.now();
      const unlink = linkAbort(signal, () => call.cancel());
      try {
        for await (const res of messages(call)) {
          for (const update of res.updates) {
            failures = 0;
            this.lastCursor = update.cursor;
            yield update;
          }
        }
        return; // the server ended the stream
      } catch (e) {
        const err = toHeraldError(e);
        if (this.closed && err instanceof CancelledError) return;
        if (signal?.aborted) throw cancelled(signal);
        if (!(err instanceof UnavailableError)) throw err;
        if (Date.now() - started > 10_000) failures = 0;
        failures++;
        if (failures > maxReconnects) throw err;
        const delayMs = Math.max(err.retryDelayMs ?? 0, backoff(retry, failures));
        this.options.onReconnect?.({ attempt: failures, delayMs, cursor: this.lastCursor, error: err });
        await sleep(delayMs, signal);
      } finally {
        unlink();
        call.cancel();
        this.current = undefined;
      }
    }
  }
}

// ---- helpers ---------------------------------------------------------------

/** A grpc-js response stream as a typed async iterable. */
function messages<T>(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): AsyncIterable<T> {
  return call as AsyncIterable<T>;
}

function backoff(retry: RetryOptions, attempt: number): number {
  const ceiling = Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** (attempt - 1));
  // "Equal jitter": half fixed, half random, so retries never bunch up at 0.
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function cancelled(signal: AbortSignal): CancelledError {
  return new CancelledError({
    code: grpc.status.CANCELLED,
    message: "call cancelled by the caller",
    cause: signal.reason,
  });
}

function linkAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    onAbort();
    return () => undefined;
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) {
    throw new HeraldError({ code: grpc.status.INTERNAL, message: `response has no ${field}` });
  }
  return value;
}
