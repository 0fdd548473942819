/**
 * What an operation needs from its driver, and the machinery shared by both generations'
 * operations: the runtime (send a call, sleep, read the clocks), poll pacing, deadlines, the
 * polling loop and paging. The operations never touch fetch, timers or Date themselves: the
 * fetch driver (client.ts) is one runtime, a scripted one in a unit test is another.
 */

import { APIStatusError, NotFoundError, type OpenHandsError, ProtocolError, RateLimitError, ServerError, TransportError, WaitTimeoutError } from "../errors.js";
import { type ApiRequest, type Call, describe } from "../http.js";
import type { Conversation, ConversationResult, Event, SentMessage } from "../models.js";

export interface Runtime {
  send<T>(call: Call<T>): Promise<T>;
  sleep(ms: number): Promise<void>;
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall clock, epoch milliseconds. */
  wallNow(): number;
}

/** ``rt`` with every request bounded by ``deadline``: attempts shrink to fit, retries stop at it. */
export function bounded(rt: Runtime, deadline: number): Runtime {
  return {
    send: (call) => {
      const current = call.request.deadline;
      if (current !== undefined && current <= deadline) return rt.send(call);
      return rt.send({ request: { ...call.request, deadline }, parse: call.parse });
    },
    sleep: (ms) => rt.sleep(ms),
    now: () => rt.now(),
    wallNow: () => rt.wallNow(),
  };
}

export interface PollPolicy {
  intervalMs: number;
  maxIntervalMs: number;
  factor: number;
}

export const CLOUD_POLL: PollPolicy = { intervalMs: 3000, maxIntervalMs: 15_000, factor: 1.5 };
export const SELF_HOSTED_POLL: PollPolicy = { intervalMs: 1000, maxIntervalMs: 5000, factor: 1.5 };

export function nextInterval(poll: PollPolicy, current: number): number {
  return Math.min(poll.maxIntervalMs, current * poll.factor);
}

/** Errors a polling loop rides out; authentication, permission and "no such thing" end it. */
export function isTransient(error: unknown): error is OpenHandsError {
  return error instanceof TransportError || error instanceof ServerError || error instanceof RateLimitError || error instanceof ProtocolError;
}

/**
 * Run ``look`` every poll interval until it returns something other than null. Each look's
 * requests are bounded by ``deadline``; a transient failure counts as "not yet". When the
 * deadline passes, ``timedOut(lastError)`` is thrown.
 */
export async function until<T>(
  rt: Runtime,
  look: (rt: Runtime) => Promise<T | null>,
  options: { deadline: number; poll: PollPolicy; timedOut: (error: OpenHandsError | null) => Error; firstDelayMs?: number },
): Promise<T> {
  let interval = options.poll.intervalMs;
  let lastError: OpenHandsError | null = null;
  if (options.firstDelayMs && options.firstDelayMs > 0) await rt.sleep(options.firstDelayMs);
  const inner = bounded(rt, options.deadline);
  for (;;) {
    try {
      const found = await look(inner);
      lastError = null;
      if (found !== null) return found;
    } catch (error) {
      if (!isTransient(error)) throw error;
      lastError = error;
    }
    const remaining = options.deadline - rt.now();
    if (remaining <= 0) throw options.timedOut(lastError);
    await rt.sleep(Math.min(interval, remaining));
    interval = nextInterval(options.poll, interval);
  }
}

/**
 * Every item of a cursor-paged listing, each once: pages may be short or empty while
 * ``next_page_id`` is set, and 1.x's merged paging can repeat an item at a boundary (CONTRACT
 * §2.2), so only a null ``next_page_id`` ends it, items are de-duplicated, and a page id seen
 * twice stops with an error instead of spinning.
 */
export async function* uniquePages<P extends { next_page_id: string | null }, I>(
  rt: Runtime,
  fetchPage: (pageId: string | null) => Call<P>,
  items: (page: P) => I[],
  key: (item: I) => string,
): AsyncGenerator<I, void, undefined> {
  const seen = new Set<string>();
  const pagesSeen = new Set<string>();
  let pageId: string | null = null;
  for (;;) {
    const call = fetchPage(pageId);
    const page = await rt.send(call);
    for (const item of items(page)) {
      const id = key(item);
      if (seen.has(id)) continue;
      seen.add(id);
      yield item;
    }
    if (page.next_page_id === null) return;
    if (pagesSeen.has(page.next_page_id)) {
      throw new ProtocolError(`${describe(call.request)} returned page id ${JSON.stringify(page.next_page_id)} twice; stopping to avoid a loop`);
    }
    pagesSeen.add(page.next_page_id);
    pageId = page.next_page_id;
  }
}

/** What a generation's operations need to know about the client that runs them. */
export interface GenerationContext {
  baseUrl: string;
  poll: PollPolicy;
  startTimeoutMs: number;
  /** How often a create that provably never arrived may be sent again. */
  maxResends: number;
  /** The whole-answer budget of one request: how long a lost request may still be on its way. */
  requestTimeoutMs: number;
  /** Conversations this client created: a lookup must not mistake one for the lost create's. */
  created: Set<string>;
  /** Fingerprints of this client's creates now in flight. */
  inFlight: Array<{ fingerprint: string }>;
}

// ---------------------------------------------------------------------------- exactly-once helpers

/** How far back (ms, client clock) a lookup looks when the server's answers carry no Date. */
export const LOOKUP_WINDOW_MS = 600_000;
/** Margin for a Date stamped by another clock than created_at. */
export const CLOCK_MARGIN_MS = 60_000;
/** A lost create is believed absent only after the lookup has looked this long. */
export const ABSENCE_SETTLE_MS = 5000;
/** A lookup whose own reads all failed for this long stops. */
export const SILENT_LOOKUP_LIMIT_MS = 10_000;

/**
 * Whether a failed create may nevertheless have been carried out, so that it must be looked up
 * before it is sent again: the connection broke after sending, the server failed (5xx), or the
 * answer was garbled (HTML, cut JSON).
 */
export function isAmbiguous(error: unknown): error is OpenHandsError {
  if (error instanceof TransportError) return error.requestSent;
  if (error instanceof ProtocolError) return true;
  return error instanceof APIStatusError && error.statusCode >= 500;
}

/** How long a lookup must have looked before it may believe a failed create absent. */
export function absenceSettle(error: OpenHandsError, requestTimeoutMs: number): number {
  if (error instanceof TransportError || (error instanceof APIStatusError && [502, 503, 504].includes(error.statusCode))) {
    return Math.max(requestTimeoutMs, ABSENCE_SETTLE_MS);
  }
  return 0;
}

/** Internal: a lookup could not tell whether a lost create happened. */
export class CreateUndecided extends Error {}

export function undecided(error: OpenHandsError, howToLook: string): OpenHandsError {
  error.addSentence(`The conversation may have been created: ${howToLook} before trying again (openhands-api could not tell)`);
  return error;
}

export function notFound(conversationId: string, method: string, path: string): NotFoundError {
  return new NotFoundError(`Conversation ${conversationId} does not exist (unknown id, or deleted)`, { statusCode: 404, method, path });
}

export function waitTimedOut(conversationId: string, timeoutMs: number, last: ConversationResult | null, error: OpenHandsError | null): WaitTimeoutError {
  let state = last ? `last seen: ${last.outcome}` : "no answer yet";
  if (error !== null) state += `; last error: ${error.message}`;
  return new WaitTimeoutError(
    `Conversation ${conversationId} did not reach an outcome within ${timeoutMs / 1000}s (${state}). It may still be running: wait again, or stop it.`,
    { conversationId, timeoutMs, last },
  );
}

/** The operations every API generation offers (the unified interface's back end). */
export interface Generation {
  readonly version: "v0" | "v1";
  create(rt: Runtime, request: NewConversation): Promise<Conversation>;
  observe(rt: Runtime, conversationId: string): Promise<ConversationResult>;
  result(rt: Runtime, conversationId: string): Promise<ConversationResult>;
  wait(rt: Runtime, conversationId: string, options: WaitSettings): Promise<ConversationResult>;
  sendMessage(rt: Runtime, conversationId: string, message: string, options: { resume: boolean }): Promise<SentMessage>;
  iterConversations(rt: Runtime, pageSize: number): AsyncGenerator<Conversation, void, undefined>;
  iterEvents(rt: Runtime, conversationId: string, options: { reverse: boolean; pageSize: number }): AsyncGenerator<Event, void, undefined>;
  stop(rt: Runtime, conversationId: string): Promise<void>;
  resume(rt: Runtime, conversationId: string): Promise<void>;
  delete(rt: Runtime, conversationId: string): Promise<boolean>;
  setTitle(rt: Runtime, conversationId: string, title: string): Promise<void>;
  /** The history as a request whose answer is streamed: V1's zip, V0's trajectory JSON. */
  historyRequest(conversationId: string): ApiRequest;
}

/** How one wait runs: its budget, the receipt it waits after, its pace, who follows it. */
export interface WaitSettings {
  timeoutMs: number;
  after: SentMessage | null;
  poll: PollPolicy;
  /** Called with a snapshot (outcome in_progress) after each poll that found the turn still going. */
  onProgress?: ((snapshot: ConversationResult) => void) | undefined;
}

/** A create request in the unified vocabulary; each generation builds its own body. */
export interface NewConversation {
  prompt: string | null | undefined;
  repository?: string | null;
  branch?: string | null;
  gitProvider?: string | null;
  title?: string | null;
  conversationInstructions?: string | null;
  imageUrls?: string[] | null;
  options?: Record<string, unknown>;
}
