/**
 * Reading answers: every answer becomes a result or a typed error, here and only here.
 *
 * {@link check} raises the typed error for an error status (or a redirect, never followed);
 * {@link errorFromResponse} reads OpenHands' many error shapes (CONTRACT §2.1, §5.1) into one
 * ``detail`` and picks the class by status. {@link decodeJson} refuses anything that is not
 * JSON (an HTML page with 200 is never success). No I/O.
 */

import * as errors from "./errors.js";
import { type ApiRequest, type ApiResponse, type Call, contentType, describe, isJson, preview, redact } from "./http.js";
import { parseRetryAfter } from "./retry.js";

export function decodeJson(response: ApiResponse, request: ApiRequest): unknown {
  if (!isJson(response)) {
    const type = contentType(response);
    const kind = type.includes("html") || response.text.trimStart().startsWith("<") ? "an HTML page" : `a ${type || "untyped"} body`;
    throw new errors.ProtocolError(
      `${describe(request)} answered ${response.status} with ${kind} where JSON was expected ` +
        `(${JSON.stringify(preview(response.text, response.secrets, 80))}). Is the base URL an OpenHands API server, and is the server healthy?`,
      { statusCode: response.status, method: request.method, path: request.path },
    );
  }
  try {
    return JSON.parse(response.text);
  } catch {
    throw new errors.ProtocolError(
      `${describe(request)} answered ${response.status} with invalid JSON (${JSON.stringify(preview(response.text, response.secrets, 80))})`,
      { statusCode: response.status, method: request.method, path: request.path },
    );
  }
}

type StatusClass = new (message: string, options: errors.StatusErrorOptions) => errors.APIStatusError;

const CLASS_BY_STATUS: Record<number, StatusClass> = {
  400: errors.BadRequestError,
  401: errors.AuthenticationError,
  403: errors.PermissionDeniedError,
  404: errors.NotFoundError,
  409: errors.ConflictError,
  410: errors.GoneError,
  422: errors.UnprocessableEntityError,
};

const HINTS: Partial<Record<number, string>> = {
  401:
    "Check the API key (apiKey or OPENHANDS_API_KEY); for a self-hosted server started with SESSION_API_KEY, " +
    "pass sessionApiKey or set OPENHANDS_SESSION_API_KEY.",
  403: "The key is valid but not allowed to do this.",
  429: "Too many requests: slow down and try again shortly.",
};

function bodyOf(response: ApiResponse): unknown {
  if (isJson(response)) {
    try {
      return JSON.parse(response.text);
    } catch {
      // fall through to the text
    }
  }
  return preview(response.text, response.secrets, 300);
}

function isPage(body: string, response: ApiResponse): boolean {
  return !isJson(response) && (contentType(response).includes("html") || body.trimStart().startsWith("<"));
}

function validationItem(item: unknown): string {
  if (item === null || typeof item !== "object") return String(item);
  const record = item as Record<string, unknown>;
  const loc = Array.isArray(record.loc) ? record.loc.filter((part) => part !== "body" && part !== "query").join(".") : "";
  const msg = typeof record.msg === "string" ? record.msg : "invalid";
  return loc ? `${loc}: ${msg}` : msg;
}

/** The server's own sentence in any of OpenHands' error shapes; null when there is none. */
export function serverMessageOf(body: unknown, response: ApiResponse): string | null {
  if (typeof body === "string") return isPage(body, response) || !body ? null : body;
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const detail = record.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map(validationItem).join("; ") || "validation failed";
    if (detail !== null && typeof detail === "object") {
      const inner = (detail as Record<string, unknown>).message ?? (detail as Record<string, unknown>).error;
      if (typeof inner === "string") return inner;
    }
    for (const key of ["message", "error"]) {
      const value = record[key];
      if (typeof value === "string" && value) return value;
    }
  }
  return null;
}

function concurrencyLimit(body: unknown): { limit: number | null; current: number | null } | null {
  if (body === null || typeof body !== "object") return null;
  const detail = (body as Record<string, unknown>).detail;
  if (detail !== null && typeof detail === "object" && (detail as Record<string, unknown>).error === "CONCURRENCY_LIMIT_REACHED") {
    const { limit, current } = detail as Record<string, unknown>;
    return {
      limit: typeof limit === "number" ? limit : null,
      current: typeof current === "number" ? current : null,
    };
  }
  return null;
}

export function isConcurrencyLimit(response: ApiResponse): boolean {
  return response.status === 429 && concurrencyLimit(bodyOf(response)) !== null;
}

function scrub(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return redact(value, secrets);
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]));
  }
  return value;
}

/** The typed error for an error status. */
export function errorFromResponse(request: ApiRequest, response: ApiResponse): errors.APIStatusError {
  const status = response.status;
  const body = bodyOf(response);
  const message = serverMessageOf(body, response);
  let detail: string;
  if (message !== null) detail = message;
  else if (typeof body === "string") detail = isPage(body, response) ? "an HTML page instead of an API answer" : "(empty body)";
  else detail = JSON.stringify(body).slice(0, 300);
  const secrets = response.secrets;
  const options: errors.StatusErrorOptions = {
    statusCode: status,
    method: request.method,
    path: request.path,
    body: scrub(body, secrets),
    detail: redact(detail, secrets),
    serverMessage: message === null ? null : redact(message, secrets),
    headers: scrub(response.headers, secrets) as Record<string, string>,
  };
  const prefix = `${describe(request)} failed with HTTP ${status}: ${options.detail}`.replace(/[. ]+$/, "");
  if (status === 429) {
    const concurrency = concurrencyLimit(body);
    if (concurrency !== null) {
      return new errors.ConcurrencyLimitError(
        `${prefix}. Too many conversations are running (${concurrency.current} of ${concurrency.limit} allowed): ` +
          "stop, pause or delete one, then try again. Not retried automatically.",
        { ...options, ...concurrency },
      );
    }
    return new errors.RateLimitError(`${prefix}. ${HINTS[429]}`, {
      ...options,
      retryAfter: (() => {
        const ms = parseRetryAfter(response.headers["retry-after"], response.receivedAt);
        return ms === null ? null : ms / 1000;
      })(),
    });
  }
  const cls = CLASS_BY_STATUS[status] ?? (status >= 500 ? errors.ServerError : errors.APIStatusError);
  const hint = HINTS[status] ?? (status >= 500 ? "The server failed; try again later." : undefined);
  return new cls(hint ? `${prefix}. ${hint}` : `${prefix}.`, options);
}

/**
 * Raise the typed error for an error status, or for a redirect. Redirects are never followed:
 * following one to another host would hand it the API key.
 */
export function check(request: ApiRequest, response: ApiResponse): void {
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.location ?? "";
    let where = location;
    try {
      const target = new URL(location);
      where = `${target.protocol}//${target.host}${target.pathname}`;
    } catch {
      // a relative location: shown as it is
    }
    throw new errors.ProtocolError(
      `${describe(request)} was redirected (HTTP ${response.status}) to ${where || "nowhere"}; redirects are not followed, ` +
        "so that the API key never goes to another address. Set the base URL to the address the server redirects to.",
      { statusCode: response.status, method: request.method, path: request.path },
    );
  }
  // A browser's fetch with redirect: "manual" hides the redirect as an opaque answer (status 0).
  if (response.status === 0) {
    throw new errors.ProtocolError(`${describe(request)} was redirected; redirects are not followed`, {
      statusCode: 0,
      method: request.method,
      path: request.path,
    });
  }
  if (response.status >= 400) throw errorFromResponse(request, response);
}

/** A call whose successful answer is JSON handed to ``convert``. */
export function jsonCall<T>(request: ApiRequest, convert: (value: unknown) => T): Call<T> {
  return {
    request,
    parse(response) {
      check(request, response);
      return convert(decodeJson(response, request));
    },
  };
}

export function shapeError(request: ApiRequest, what: string): errors.ProtocolError {
  return new errors.ProtocolError(`${describe(request)} answered with JSON of an unexpected shape (${what})`, {
    method: request.method,
    path: request.path,
  });
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A JSON object whose ``required`` keys are present (unknown keys are kept). */
export function objectCall<T extends Json>(request: ApiRequest, required: readonly string[] = []): Call<T> {
  return jsonCall(request, (value) => {
    if (!isObject(value)) throw shapeError(request, "body: expected an object");
    for (const key of required) if (!(key in value)) throw shapeError(request, `${key}: missing`);
    return value as T;
  });
}

export function expectBool(request: ApiRequest): Call<boolean> {
  return jsonCall(request, (value) => {
    if (typeof value === "boolean") return value;
    if (isObject(value) && typeof value.success === "boolean") return value.success;
    throw new errors.ProtocolError(`${describe(request)} answered ${JSON.stringify(value).slice(0, 60)} where true/false was expected`, {
      method: request.method,
      path: request.path,
    });
  });
}

/**
 * ``GET path?limit=1``: does the server speak the API this listing belongs to? 404/405 or a web
 * page mean no; a JSON object with ``collectionKey`` means yes; 401/403 or 5xx raise
 * (CONTRACT §1.6: a failing server is not evidence of a missing API).
 */
export function probeCall(path: string, collectionKey: string): Call<boolean> {
  const request: ApiRequest = { method: "GET", path, params: [["limit", "1"]], idempotent: true };
  return {
    request,
    parse(response) {
      if (response.status === 404 || response.status === 405) return false;
      if (response.status < 400 && response.status >= 200 && !isJson(response)) return false;
      check(request, response);
      const body = decodeJson(response, request);
      return isObject(body) && collectionKey in body;
    },
  };
}

/** The server's wall clock (epoch ms) from its Date header; null when absent or garbled. */
export function serverClock(response: ApiResponse): number | null {
  const value = response.headers.date;
  if (!value) return null;
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : when;
}
