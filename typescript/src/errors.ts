/**
 * The exception tree of openhands-api (the same tree as the Python package's):
 *
 *   OpenHandsError
 *   ├── ConfigurationError          missing/invalid settings (bad base URL, insecure http)
 *   │   └── MissingAPIKeyError      no API key where one is required (OpenHands Cloud)
 *   ├── InvalidInputError           refused before anything was sent
 *   ├── TransportError              no usable HTTP response
 *   │   └── APIConnectionError      could not connect, or the connection broke
 *   │       └── APITimeoutError     a request timed out
 *   ├── APIStatusError              the server answered with an error status
 *   │   ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
 *   │   ├── NotFoundError 404, ConflictError 409, GoneError 410, UnprocessableEntityError 422
 *   │   ├── RateLimitError 429
 *   │   │   └── ConcurrencyLimitError  Cloud's CONCURRENCY_LIMIT_REACHED: never retried
 *   │   └── ServerError 5xx
 *   ├── ProtocolError               an answer that is not what the API promises (HTML, bad JSON)
 *   ├── NotSupportedError           the server's API generation cannot do this
 *   ├── ConversationStartError      a V1 start task ended in ERROR (or a V0 restart failed)
 *   ├── WaitTimeoutError            a wait ran out of time; the conversation may still be running
 *   └── AbortError                  the caller's AbortSignal fired
 *
 * Messages say what happened and what to do, and never contain a secret: the fetch driver
 * masks the client's keys before any text made from an answer gets here.
 */

export class OpenHandsError extends Error {
  override name = "OpenHandsError";
  /** What else is known, added on the way out (e.g. "the conversation may have been created"). */
  readonly notes: string[] = [];

  addSentence(sentence: string): void {
    this.notes.push(sentence);
    this.message = [this.message, sentence].map(asSentence).join(" ");
  }
}

function asSentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export class ConfigurationError extends OpenHandsError {
  override name = "ConfigurationError";
}

export class MissingAPIKeyError extends ConfigurationError {
  override name = "MissingAPIKeyError";
}

export class InvalidInputError extends OpenHandsError {
  override name = "InvalidInputError";
}

export interface RequestInfo {
  method?: string;
  path?: string;
}

export class TransportError extends OpenHandsError {
  override name = "TransportError";
  readonly method: string;
  readonly path: string;
  /** False only when the request provably never left (connection refused, DNS failure). */
  readonly requestSent: boolean;

  constructor(message: string, options: RequestInfo & { requestSent: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.method = options.method ?? "";
    this.path = options.path ?? "";
    this.requestSent = options.requestSent;
  }
}

export class APIConnectionError extends TransportError {
  override name = "APIConnectionError";
}

export class APITimeoutError extends APIConnectionError {
  override name = "APITimeoutError";
}

export interface StatusErrorOptions extends RequestInfo {
  statusCode: number;
  body?: unknown;
  detail?: string | null;
  serverMessage?: string | null;
  headers?: Record<string, string>;
}

export class APIStatusError extends OpenHandsError {
  override name = "APIStatusError";
  readonly statusCode: number;
  readonly method: string;
  readonly path: string;
  /** The decoded JSON body when there was one, else the start of the text. */
  readonly body: unknown;
  /** The human-readable message found in the body (or a short dump of it). */
  readonly detail: string | null;
  /** Only the server's own sentence; null when the body had none. */
  readonly serverMessage: string | null;
  readonly headers: Record<string, string>;

  constructor(message: string, options: StatusErrorOptions) {
    super(message);
    this.statusCode = options.statusCode;
    this.method = options.method ?? "";
    this.path = options.path ?? "";
    this.body = options.body ?? null;
    this.detail = options.detail ?? null;
    this.serverMessage = options.serverMessage ?? null;
    this.headers = options.headers ?? {};
  }
}

export class BadRequestError extends APIStatusError {
  override name = "BadRequestError";
}
export class AuthenticationError extends APIStatusError {
  override name = "AuthenticationError";
}
export class PermissionDeniedError extends APIStatusError {
  override name = "PermissionDeniedError";
}
export class NotFoundError extends APIStatusError {
  override name = "NotFoundError";
}
export class ConflictError extends APIStatusError {
  override name = "ConflictError";
}
export class GoneError extends APIStatusError {
  override name = "GoneError";
}
export class UnprocessableEntityError extends APIStatusError {
  override name = "UnprocessableEntityError";
}

export class RateLimitError extends APIStatusError {
  override name = "RateLimitError";
  /** The server's Retry-After hint in seconds, if any. */
  readonly retryAfter: number | null;

  constructor(message: string, options: StatusErrorOptions & { retryAfter?: number | null }) {
    super(message, options);
    this.retryAfter = options.retryAfter ?? null;
  }
}

export class ConcurrencyLimitError extends RateLimitError {
  override name = "ConcurrencyLimitError";
  readonly limit: number | null;
  readonly current: number | null;

  constructor(message: string, options: StatusErrorOptions & { limit: number | null; current: number | null }) {
    super(message, { ...options, retryAfter: null });
    this.limit = options.limit;
    this.current = options.current;
  }
}

export class ServerError extends APIStatusError {
  override name = "ServerError";
}

export class ProtocolError extends OpenHandsError {
  override name = "ProtocolError";
  readonly statusCode: number | null;
  readonly method: string;
  readonly path: string;

  constructor(message: string, options: RequestInfo & { statusCode?: number | null } = {}) {
    super(message);
    this.statusCode = options.statusCode ?? null;
    this.method = options.method ?? "";
    this.path = options.path ?? "";
  }
}

export class NotSupportedError extends OpenHandsError {
  override name = "NotSupportedError";
}

export class ConversationStartError extends OpenHandsError {
  override name = "ConversationStartError";
  readonly startTaskId: string | null;
  readonly conversationId: string | null;
  readonly detail: string | null;

  constructor(message: string, options: { startTaskId?: string | null; conversationId?: string | null; detail?: string | null } = {}) {
    super(message);
    this.startTaskId = options.startTaskId ?? null;
    this.conversationId = options.conversationId ?? null;
    this.detail = options.detail ?? null;
  }
}

export class WaitTimeoutError extends OpenHandsError {
  override name = "WaitTimeoutError";
  readonly conversationId: string;
  readonly timeoutMs: number;
  /** The last result observed (outcome in_progress), when one was. */
  readonly last: unknown;

  constructor(message: string, options: { conversationId: string; timeoutMs: number; last?: unknown }) {
    super(message);
    this.conversationId = options.conversationId;
    this.timeoutMs = options.timeoutMs;
    this.last = options.last ?? null;
  }
}

/** The caller's AbortSignal fired; ``reason`` is the signal's reason. */
export class AbortError extends OpenHandsError {
  override name = "AbortError";
  readonly reason: unknown;

  constructor(message: string, reason?: unknown) {
    super(message);
    this.reason = reason;
  }
}
