/**
 * The retry decision: given what happened to attempt N of a request, wait how long — or stop.
 *
 * Rules (CONTRACT §1.4; the same as the Python package's protocol/retry.py):
 * - A request that never left (connection refused, DNS) may always be resent.
 * - A request that may have reached the server (timeout, reset) is resent only when idempotent:
 *   a create or a message is not; the operation layer finds out whether it happened.
 * - 429 is retried for every request (the limiter answers before the handler runs), except
 *   Cloud's CONCURRENCY_LIMIT_REACHED, which no wait will fix.
 * - 502/503/504 are retried for idempotent requests only.
 * - Retry-After (seconds or an HTTP date) and X-RateLimit-Reset are honoured, capped at
 *   maxRetryAfterMs; otherwise exponential backoff with jitter. Never past the deadline.
 *
 * Pure functions: the driver supplies the clock readings and the random number.
 */

import type { ApiRequest } from "./http.js";

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * How a request failed without an answer, as far as the client can tell (the Python package's
 * names). The first three mean nothing was sent; the others that the server may have it.
 * fetch tells less than a socket library: the driver maps a refused connection to ``connect``,
 * its own answer timeout to ``read_timeout`` and any other failure to ``disconnected``.
 */
export type FailureKind = "connect" | "connect_timeout" | "pool_timeout" | "write" | "read_timeout" | "disconnected";

const NOTHING_SENT: ReadonlySet<FailureKind> = new Set(["connect", "connect_timeout", "pool_timeout"]);

export function requestSent(failure: FailureKind): boolean {
  return !NOTHING_SENT.has(failure);
}

export class RetryPolicy {
  readonly maxRetries: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;

  constructor(options: { maxRetries?: number; initialDelayMs?: number; maxDelayMs?: number; maxRetryAfterMs?: number } = {}) {
    this.maxRetries = options.maxRetries ?? 3;
    this.initialDelayMs = options.initialDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    if (!(this.maxRetries >= 0) || !Number.isInteger(this.maxRetries)) {
      throw new RangeError("maxRetries must be an integer >= 0");
    }
  }

  /** Exponential backoff with "equal jitter": half fixed, half random. */
  backoff(attempt: number, rand: number): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** attempt);
    return base / 2 + (rand * base) / 2;
  }

  /** Milliseconds to wait before retrying after a transport failure, or null to give up. */
  delayAfterFailure(attempt: number, request: ApiRequest, failure: FailureKind, rand: number, now: number): number | null {
    if (attempt >= this.maxRetries) return null;
    if (requestSent(failure) && !request.idempotent) return null;
    return withinDeadline(this.backoff(attempt, rand), request, now);
  }

  /** Milliseconds to wait before retrying after an HTTP answer, or null to keep it. */
  delayAfterResponse(
    attempt: number,
    request: ApiRequest,
    status: number,
    headers: Record<string, string>,
    options: { concurrencyLimited: boolean; rand: number; now: number; wallNow: number | null },
  ): number | null {
    if (!RETRYABLE_STATUSES.has(status) || attempt >= this.maxRetries) return null;
    if (status === 429 && options.concurrencyLimited) return null;
    if (status !== 429 && !request.idempotent) return null;
    const hint = serverDelayHint(headers, options.wallNow);
    const delay = hint !== null ? Math.min(hint, this.maxRetryAfterMs) : this.backoff(attempt, options.rand);
    return withinDeadline(delay, request, options.now);
  }
}

function withinDeadline(delay: number, request: ApiRequest, now: number): number | null {
  if (request.deadline !== undefined && now + delay >= request.deadline) return null;
  return delay;
}

const HTTP_DATE_MONTH = /\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\b/i;

/**
 * Retry-After in milliseconds: delta-seconds, or an HTTP date measured from ``wallNow`` (epoch
 * ms, supplied by the driver); null if absent, garbled, or a date with no ``wallNow``.
 */
export function parseRetryAfter(value: string | undefined, wallNow: number | null): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (!text) return null;
  if (/^[0-9]+(\.[0-9]+)?$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its month and has a clock time (IMF-fixdate, RFC 850, asctime); Date.parse
  // would also take an ISO date or a bare number, which the Python client refuses as garbled.
  if (!HTTP_DATE_MONTH.test(text) || !/\d{1,2}:\d{2}/.test(text)) return null;
  const when = Date.parse(text);
  if (Number.isNaN(when) || wallNow === null) return null;
  return Math.max(0, when - wallNow);
}

/** The server's own "come back in" hint: Retry-After, else X-RateLimit-Reset (epoch s). */
export function serverDelayHint(headers: Record<string, string>, wallNow: number | null): number | null {
  const lowered: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) lowered[key.toLowerCase()] = value;
  const retryAfter = parseRetryAfter(lowered["retry-after"], wallNow);
  if (retryAfter !== null) return retryAfter;
  const reset = lowered["x-ratelimit-reset"];
  if (reset === undefined) return null;
  const resetAt = Number(reset);
  if (!Number.isFinite(resetAt)) return null;
  // Some servers send seconds-until-reset rather than an epoch; both read sensibly here.
  if (resetAt <= 1e9) return Math.max(0, resetAt * 1000);
  return wallNow === null ? null : Math.max(0, resetAt * 1000 - wallNow);
}
