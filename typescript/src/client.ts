/**
 * OpenHandsAPI: the unified interface over both generations, and the thin fetch driver that
 * runs the operations (ops/) — the only place that touches the network or the clock.
 *
 * The driver sends each call with the client's keys, a per-attempt timeout, the caller's
 * AbortSignal and ``redirect: "manual"`` (a redirect is an error, never followed with the key);
 * retries as retry.ts decides; and masks the keys in every text made from an answer.
 */

import { isCloud, resolveSettings } from "./config.js";
import { detectVersion, unspokenVersion } from "./detect.js";
import { type HistoryDownload, historyDownload } from "./download.js";

export type { HistoryDownload } from "./download.js";

import { AbortError, APIConnectionError, APIStatusError, APITimeoutError, InvalidInputError, OpenHandsError, ProtocolError } from "./errors.js";
import { type ApiRequest, type ApiResponse, BULK_FACTOR, type Call, describe, redact } from "./http.js";
import type { ApiVersion, Conversation, ConversationResult, Event, SentMessage } from "./models.js";
import { CLOUD_POLL, type Generation, type GenerationContext, type NewConversation, type PollPolicy, type Runtime, SELF_HOSTED_POLL } from "./ops/runtime.js";
import { OwnedByOtherGeneration, V0Generation } from "./ops/v0.js";
import { V1Generation } from "./ops/v1.js";
import { RequestBudget, SELF_HOSTED_BURST, SELF_HOSTED_RATE } from "./pacing.js";
import { check, isConcurrencyLimit } from "./parsing.js";
import { type FailureKind, RetryPolicy } from "./retry.js";
import * as v0 from "./routes/v0.js";
import * as v1 from "./routes/v1.js";

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_WAIT_TIMEOUT_MS = 30 * 60_000;
export const DEFAULT_START_TIMEOUT_MS = 300_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export interface ClientOptions {
  /** Bearer key (OpenHands Cloud). Default: OPENHANDS_API_KEY, then OPENHANDS_CLOUD_API_KEY (Node). */
  apiKey?: string | null;
  /** Default: OPENHANDS_BASE_URL, then OPENHANDS_CLOUD_API_URL (Node), then https://app.all-hands.dev. */
  baseUrl?: string | null;
  /** X-Session-API-Key of a self-hosted server started with SESSION_API_KEY. Default: OPENHANDS_SESSION_API_KEY. */
  sessionApiKey?: string | null;
  /** Budget of one request attempt (whole answer), ms. Default 30 s. */
  timeoutMs?: number;
  /** Retries of one request (429, 502/503/504, connection failures where safe). Default 3. */
  maxRetries?: number;
  /** "auto" (default) detects the generation once; "v0" / "v1" force it. */
  apiVersion?: "auto" | ApiVersion;
  /** A fetch implementation (default: the platform's). */
  fetch?: typeof fetch;
  /** Send keys over plain http:// to a host that is not this machine. Default false. */
  allowInsecureHttp?: boolean;
  /** How long starting compute may take (a V1 start task, a V0 restart), ms. Default 5 min. */
  startTimeoutMs?: number;
  /** Polling pace of waits, ms (default 1 s growing to 5 s self-hosted, 3 s to 15 s on Cloud). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** The largest answer read into memory, bytes (default 32 MiB; 16 times that for a whole history). */
  maxResponseBytes?: number;
  /**
   * The client's own request budget, shared by all its calls: true (default) paces at a
   * self-hosted server's 10 requests a second (none for Cloud, whose 429s carry Retry-After),
   * false none, a number that many requests a second.
   */
  throttle?: boolean | number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateOptions extends CallOptions {
  /** The first message (``initialUserMsg`` is the V0 name of the same thing). */
  prompt?: string;
  initialUserMsg?: string;
  repository?: string;
  /** ``selectedBranch`` is the V0 name of the same thing. */
  branch?: string;
  selectedBranch?: string;
  gitProvider?: string;
  title?: string;
  conversationInstructions?: string;
  imageUrls?: string[];
  /** Other create fields of the generation (CONTRACT §3.3, §6.1), passed through as they are. */
  options?: Record<string, unknown>;
}

export interface WaitOptions extends CallOptions {
  timeoutMs?: number;
  /** The receipt of sendMessage: wait for the answer to that message, not the previous turn. */
  after?: SentMessage;
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Called with a snapshot (outcome in_progress, runtime and agent state) after each poll that found the turn still going. */
  onProgress?: (snapshot: ConversationResult) => void;
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");
const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

function failureKind(error: unknown): FailureKind {
  // Node's fetch (undici) says why in ``cause.code``; a browser cannot tell: assume it was sent.
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause !== null && typeof cause === "object"; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && CONNECT_CODES.has(code)) return "connect";
    cause = (cause as { cause?: unknown }).cause;
  }
  return "disconnected";
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError("The operation was aborted (its AbortSignal fired)", signal.reason);
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class OpenHandsAPI {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** The setting: "auto", "v0" or "v1". The detected version is ``await api.apiVersion()``. */
  readonly apiVersionSetting: "auto" | ApiVersion;
  /** The raw V0 routes (``/api/conversations…``), each one request. */
  readonly v0: RawRoutes<typeof v0>;
  /** The raw V1 routes (``/api/v1/…``), each one request. */
  readonly v1: RawRoutes<typeof v1>;

  readonly #apiKey: string | null;
  readonly #sessionApiKey: string | null;
  readonly #fetch: typeof fetch;
  readonly #retry: RetryPolicy;
  readonly #budget: RequestBudget | null;
  readonly #maxResponseBytes: number;
  readonly #context: GenerationContext;
  readonly #generations: { v0: V0Generation; v1: V1Generation };
  #detecting: Promise<Generation> | null = null;

  constructor(options: ClientOptions = {}) {
    const settings = resolveSettings(options);
    this.baseUrl = settings.baseUrl;
    this.#apiKey = settings.apiKey;
    this.#sessionApiKey = settings.sessionApiKey;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new InvalidInputError("timeoutMs must be a positive number of milliseconds");
    this.#retry = new RetryPolicy({ maxRetries: options.maxRetries ?? 3 });
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const throttle = options.throttle ?? true;
    if (throttle === true) this.#budget = isCloud(settings.baseUrl) ? null : new RequestBudget(SELF_HOSTED_RATE, SELF_HOSTED_BURST);
    else if (throttle === false) this.#budget = null;
    else if (typeof throttle === "number" && throttle > 0) this.#budget = new RequestBudget(throttle, Math.max(1, Math.floor(throttle)));
    else throw new InvalidInputError("throttle must be true, false or a number of requests per second > 0");
    this.maxRetries = this.#retry.maxRetries;
    this.apiVersionSetting = options.apiVersion ?? "auto";
    if (!["auto", "v0", "v1"].includes(this.apiVersionSetting)) throw new InvalidInputError('apiVersion must be "auto", "v0" or "v1"');
    const platformFetch = options.fetch ?? globalThis.fetch;
    if (typeof platformFetch !== "function") throw new InvalidInputError("No fetch available: pass options.fetch");
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const defaultPoll = isCloud(this.baseUrl) ? CLOUD_POLL : SELF_HOSTED_POLL;
    const intervalMs = options.pollIntervalMs ?? defaultPoll.intervalMs;
    const poll: PollPolicy = {
      intervalMs,
      maxIntervalMs: Math.max(intervalMs, options.maxPollIntervalMs ?? defaultPoll.maxIntervalMs),
      factor: defaultPoll.factor,
    };
    this.#context = {
      baseUrl: this.baseUrl,
      poll,
      startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      maxResends: this.#retry.maxRetries,
      requestTimeoutMs: this.timeoutMs,
      created: new Set(),
      inFlight: [],
    };
    this.#generations = { v0: new V0Generation(this.#context), v1: new V1Generation(this.#context) };
    this.v0 = rawRoutes(v0, (call, signal) => this.#send(call, signal));
    this.v1 = rawRoutes(v1, (call, signal) => this.#send(call, signal));
  }

  /** What JSON.stringify shows: the settings, never a key. */
  toJSON(): Record<string, unknown> {
    return {
      baseUrl: this.baseUrl,
      apiVersion: this.apiVersionSetting,
      apiKey: this.#apiKey ? "***" : null,
      sessionApiKey: this.#sessionApiKey ? "***" : null,
      timeoutMs: this.timeoutMs,
      maxRetries: this.maxRetries,
    };
  }

  [INSPECT](): string {
    return `OpenHandsAPI ${JSON.stringify(this.toJSON())}`;
  }

  toString(): string {
    return this[INSPECT]();
  }

  // ------------------------------------------------------------------ the fetch driver

  #secrets(): string[] {
    return [this.#apiKey, this.#sessionApiKey].filter((s): s is string => Boolean(s));
  }

  #headers(request: ApiRequest): Record<string, string> {
    const headers: Record<string, string> = { accept: request.stream ? "*/*" : "application/json" };
    if (request.json !== undefined) headers["content-type"] = "application/json";
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    if (this.#sessionApiKey) headers["x-session-api-key"] = this.#sessionApiKey;
    return headers;
  }

  #url(request: ApiRequest): string {
    const url = new URL(this.baseUrl + request.path);
    for (const [key, value] of request.params ?? []) url.searchParams.append(key, value);
    return url.toString();
  }

  /** One attempt: the answer, or a typed transport error. */
  async #attempt(request: ApiRequest, signal: AbortSignal | undefined): Promise<ApiResponse> {
    const now = performance.now();
    const budget = Math.min(this.timeoutMs, request.deadline === undefined ? Number.POSITIVE_INFINITY : request.deadline - now);
    const what = describe(request);
    if (budget <= 0) throw new APITimeoutError(`${what} timed out (the operation's time ran out)`, { ...request, requestSent: false });
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), budget);
    const onAbort = () => timeout.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#fetch(this.#url(request), {
        method: request.method,
        headers: this.#headers(request),
        body: request.json === undefined ? null : JSON.stringify(request.json),
        redirect: "manual",
        signal: timeout.signal,
      });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        headers[key.toLowerCase()] = value;
      });
      const streamed = request.stream === true && response.status >= 200 && response.status < 300;
      if (streamed) clearTimeout(timer); // a download may take longer than one answer's budget
      return {
        status: response.status,
        headers,
        text: streamed ? "" : await this.#readText(response, request),
        body: streamed ? response.body : null,
        receivedAt: Date.now(),
        secrets: this.#secrets(),
      };
    } catch (error) {
      if (error instanceof OpenHandsError) throw error; // an answer refused as it came (too large)
      if (signal?.aborted) throw abortError(signal);
      if (timeout.signal.aborted) throw new APITimeoutError(`${what} timed out after ${Math.round(budget)} ms`, { ...request, requestSent: true });
      const kind = failureKind(error);
      const reason = redact(
        error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}` : String(error),
        this.#secrets(),
      );
      throw new APIConnectionError(
        kind === "connect" ? `${what}: could not connect to ${this.baseUrl} (${reason})` : `${what}: the connection failed before a full answer (${reason})`,
        { ...request, requestSent: kind !== "connect", cause: error },
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The body as text, read up to the client's cap: an answer larger than any the API sends is
   * refused as it comes (also one that a compressed body inflates to), not held in memory.
   */
  async #readText(response: Response, request: ApiRequest): Promise<string> {
    if (!response.body) return "";
    const limit = this.#maxResponseBytes * (request.bulk ? BULK_FACTOR : 1);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let size = 0;
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw new ProtocolError(`${describe(request)} answered more than ${limit} bytes; no answer of the API is that large`, {
          statusCode: response.status,
          method: request.method,
          path: request.path,
        });
      }
      text += decoder.decode(value, { stream: true });
    }
  }

  /** Send a call with retries (retry.ts decides), then parse its answer. */
  async #send<T>(call: Call<T>, signal?: AbortSignal): Promise<T> {
    const request = call.request;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw abortError(signal);
      const pace = this.#budget?.reserve(performance.now()) ?? 0;
      if (pace > 0) await abortableSleep(pace, signal);
      let response: ApiResponse;
      try {
        response = await this.#attempt(request, signal);
      } catch (error) {
        if (!(error instanceof APIConnectionError)) throw error;
        const kind: FailureKind = error instanceof APITimeoutError ? "read_timeout" : error.requestSent ? "disconnected" : "connect";
        const delay = this.#retry.delayAfterFailure(attempt, request, kind, Math.random(), performance.now());
        if (delay === null) throw error;
        await abortableSleep(delay, signal);
        continue;
      }
      const delay = this.#retry.delayAfterResponse(attempt, request, response.status, response.headers, {
        concurrencyLimited: isConcurrencyLimit(response),
        rand: Math.random(),
        now: performance.now(),
        wallNow: Date.now(),
      });
      if (delay !== null) {
        await response.body?.cancel().catch(() => undefined);
        await abortableSleep(delay, signal);
        continue;
      }
      return call.parse(response);
    }
  }

  #runtime(signal: AbortSignal | undefined): Runtime {
    return {
      send: (call) => this.#send(call, signal),
      sleep: (ms) => abortableSleep(ms, signal),
      now: () => performance.now(),
      wallNow: () => Date.now(),
    };
  }

  // ------------------------------------------------------------------ generation

  /** The generation this client speaks: detected once (shared by concurrent first calls). */
  async #generation(signal: AbortSignal | undefined): Promise<Generation> {
    if (this.apiVersionSetting !== "auto") return this.#generations[this.apiVersionSetting];
    if (this.#detecting === null) {
      // Detection runs without the caller's signal: a caller who gives up does not stop it for
      // the others waiting on it. A failure is not kept: the next call detects again.
      const detecting = detectVersion(this.#runtime(undefined), isCloud(this.baseUrl)).then((version) => this.#generations[version]);
      this.#detecting = detecting;
      detecting.catch(() => {
        if (this.#detecting === detecting) this.#detecting = null;
      });
    }
    const detecting = this.#detecting;
    if (!signal) return detecting;
    return Promise.race([
      detecting,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(abortError(signal));
        signal.addEventListener("abort", () => reject(abortError(signal)), { once: true });
      }),
    ]);
  }

  /** "v0" or "v1": the generation the server speaks (detected on first use with "auto"). */
  async apiVersion(options: CallOptions = {}): Promise<ApiVersion> {
    return (await this.#generation(options.signal)).version;
  }

  /** Run an operation on the client's generation; a V1 conversation seen through V0 routes is handed over. */
  async #run<T>(signal: AbortSignal | undefined, op: (generation: Generation, rt: Runtime) => Promise<T>): Promise<T> {
    const generation = await this.#generation(signal);
    const rt = this.#runtime(signal);
    try {
      return await op(generation, rt);
    } catch (error) {
      if (error instanceof OwnedByOtherGeneration) return op(this.#generations.v1, rt);
      if (this.apiVersionSetting !== "auto" && error instanceof APIStatusError && (error.statusCode === 404 || error.statusCode === 405)) {
        // A forced generation whose own listing route is missing too: the server does not
        // speak it, which says more than the route's 404. Only a status tells that: a web page
        // or a garbled answer may come after a create was made.
        const unspoken = await unspokenVersion(rt, generation.version);
        if (unspoken !== null) throw unspoken;
      }
      throw error;
    }
  }

  // ------------------------------------------------------------------ the unified interface

  /**
   * Start a conversation with a first message, optionally on a repository. Returns once the
   * server accepted it (V1: once its start task is READY); ``wait()`` follows it. Never sent
   * twice on a lost answer.
   */
  async createConversation(options: CreateOptions): Promise<Conversation> {
    const request: NewConversation = {
      prompt: oneOf(options.prompt, options.initialUserMsg, "prompt", "initialUserMsg"),
      repository: options.repository ?? null,
      branch: oneOf(options.branch, options.selectedBranch, "branch", "selectedBranch") ?? null,
      gitProvider: options.gitProvider ?? null,
      title: options.title ?? null,
      conversationInstructions: options.conversationInstructions ?? null,
      imageUrls: options.imageUrls ?? null,
      options: options.options ?? {},
    };
    return this.#run(options.signal, (g, rt) => g.create(rt, request));
  }

  /** The conversation with its current outcome; NotFoundError if there is no such id. */
  async getConversation(conversationId: string, options: CallOptions = {}): Promise<Conversation> {
    return (await this.#run(options.signal, (g, rt) => g.observe(rt, conversationId))).conversation;
  }

  /** Every conversation, newest first, following the server's paging to the end. */
  async *listConversations(options: CallOptions & { pageSize?: number } = {}): AsyncGenerator<Conversation, void, undefined> {
    const generation = await this.#generation(options.signal);
    yield* generation.iterConversations(this.#runtime(options.signal), options.pageSize ?? (generation.version === "v0" ? 20 : 100));
  }

  /**
   * Wait until the agent's turn has an outcome (finished, waiting for you, failed …). On V0 the
   * outcome comes from the agent's state, not ``status`` (which stays RUNNING). WaitTimeoutError
   * after ``timeoutMs`` (default 30 min): the conversation may still be running.
   */
  async wait(conversationId: string, options: WaitOptions = {}): Promise<ConversationResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new InvalidInputError("timeoutMs must be a positive number of milliseconds");
    const base = this.#context.poll;
    const intervalMs = options.pollIntervalMs ?? base.intervalMs;
    const poll: PollPolicy = {
      intervalMs,
      maxIntervalMs: Math.max(intervalMs, options.maxPollIntervalMs ?? options.pollIntervalMs ?? base.maxIntervalMs),
      factor: base.factor,
    };
    return this.#run(options.signal, (g, rt) => g.wait(rt, conversationId, { timeoutMs, after: options.after ?? null, poll, onProgress: options.onProgress }));
  }

  /** The seed client's name for ``wait`` with a fixed poll interval; ``final.status`` is the outcome, ``final.url`` the page. */
  async pollUntilTerminal(conversationId: string, options: CallOptions & { timeoutMs?: number; pollIntervalMs?: number } = {}): Promise<ConversationResult> {
    const pollIntervalMs = options.pollIntervalMs ?? 30_000;
    return this.wait(conversationId, {
      timeoutMs: options.timeoutMs ?? 20 * 60_000,
      pollIntervalMs,
      maxPollIntervalMs: pollIntervalMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** The outcome now, the agent's final message and the PRs it opened (no waiting). */
  async result(conversationId: string, options: CallOptions = {}): Promise<ConversationResult> {
    return this.#run(options.signal, (g, rt) => g.result(rt, conversationId));
  }

  /**
   * Send a follow-up. A stopped V0 runtime is restarted first; a paused V1 sandbox is resumed
   * first unless ``resume: false`` (then ConflictError). Pass the receipt to ``wait({ after })``.
   */
  async sendMessage(conversationId: string, message: string, options: CallOptions & { resume?: boolean } = {}): Promise<SentMessage> {
    return this.#run(options.signal, (g, rt) => g.sendMessage(rt, conversationId, message, { resume: options.resume ?? true }));
  }

  /** Send a follow-up and wait for the agent's answer to it. */
  async sendAndWait(conversationId: string, message: string, options: WaitOptions = {}): Promise<ConversationResult> {
    const sent = await this.sendMessage(conversationId, message, options.signal ? { signal: options.signal } : {});
    return this.wait(sent.conversationId, { ...options, after: sent });
  }

  /** Every event, oldest first (or newest first with ``reverse``). */
  async *events(conversationId: string, options: CallOptions & { reverse?: boolean; pageSize?: number } = {}): AsyncGenerator<Event, void, undefined> {
    const generation = await this.#generation(options.signal);
    const rt = this.#runtime(options.signal);
    const iterate = { reverse: options.reverse ?? false, pageSize: options.pageSize ?? 100 };
    try {
      yield* generation.iterEvents(rt, conversationId, iterate);
    } catch (error) {
      if (!(error instanceof OwnedByOtherGeneration)) throw error;
      yield* this.#generations.v1.iterEvents(rt, conversationId, iterate);
    }
  }

  /** Stop the conversation's compute (V0 ``/stop``; V1 pauses the sandbox); ``resume()`` starts it again. */
  async stop(conversationId: string, options: CallOptions = {}): Promise<void> {
    return this.#run(options.signal, (g, rt) => g.stop(rt, conversationId));
  }

  async resume(conversationId: string, options: CallOptions = {}): Promise<void> {
    return this.#run(options.signal, (g, rt) => g.resume(rt, conversationId));
  }

  /** Delete it and its compute; false if there was no such conversation. */
  async deleteConversation(conversationId: string, options: CallOptions = {}): Promise<boolean> {
    return this.#run(options.signal, (g, rt) => g.delete(rt, conversationId));
  }

  async setTitle(conversationId: string, title: string, options: CallOptions = {}): Promise<void> {
    return this.#run(options.signal, (g, rt) => g.setTitle(rt, conversationId, title));
  }

  /**
   * The conversation's full history as a stream: V1's zip (meta.json + one file per event), or
   * V0's trajectory as JSON (V0 has no zip). In Node, ``downloadHistoryToFile`` from
   * "openhands-api/node" writes it to a file.
   */
  async downloadHistory(conversationId: string, options: CallOptions = {}): Promise<HistoryDownload> {
    return this.#run(options.signal, async (generation, rt) => {
      const request = generation.historyRequest(conversationId);
      const response = await rt.send<ApiResponse>({
        request,
        parse: (answer) => {
          check(request, answer);
          return answer;
        },
      });
      const fallbackName = generation.version === "v0" ? `trajectory_${conversationId}.json` : `conversation_${conversationId}.zip`;
      return historyDownload(request, response, fallbackName);
    });
  }
}

function oneOf<T>(a: T | undefined, b: T | undefined, nameA: string, nameB: string): T | undefined {
  if (a !== undefined && b !== undefined && a !== b) throw new InvalidInputError(`Give ${nameA} or ${nameB}, not both`);
  return a ?? b;
}

// ---------------------------------------------------------------------------- raw routes

type RouteFunction = (...args: never[]) => Call<unknown>;
type CallResult<F> = F extends (...args: never[]) => Call<infer T> ? T : never;

/** Each route of a route module as a method that sends it: ``api.v1.getConversations([id])``. */
export type RawRoutes<M> = {
  [K in keyof M as M[K] extends RouteFunction ? K : never]: M[K] extends (...args: infer A) => Call<unknown>
    ? (...args: [...A, options?: CallOptions]) => Promise<CallResult<M[K]>>
    : never;
};

function rawRoutes<M extends object>(module: M, send: (call: Call<unknown>, signal: AbortSignal | undefined) => Promise<unknown>): RawRoutes<M> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(module)) {
    if (typeof fn !== "function" || !/^(get|list|create|update|delete|start|stop|send|search|count|pause|resume|users|probe|read|git)/.test(name)) continue;
    if (name.endsWith("Body")) continue;
    out[name] = async (...args: unknown[]) => {
      // A trailing ``{ signal }`` beyond the route's own parameters is the call's options.
      const last = args[args.length - 1];
      const isOptions =
        args.length > (fn as (...a: unknown[]) => unknown).length &&
        last !== null &&
        typeof last === "object" &&
        Object.keys(last).every((key) => key === "signal") &&
        Object.keys(last).length === 1;
      const callArgs = isOptions ? args.slice(0, -1) : args;
      const call = (fn as (...a: unknown[]) => unknown)(...callArgs);
      if (call === null || typeof call !== "object" || !("request" in call)) throw new OpenHandsError(`${name} is not a route`);
      return send(call as Call<unknown>, isOptions ? (last as CallOptions).signal : undefined);
    };
  }
  return out as RawRoutes<M>;
}
