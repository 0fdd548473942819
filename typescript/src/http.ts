/**
 * The vocabulary shared by the protocol layer and the fetch driver: requests, answers, calls.
 *
 * A route function returns a {@link Call}: the {@link ApiRequest} to send plus the function
 * that turns the {@link ApiResponse} into a result or a typed error. Nothing here performs
 * I/O, reads a clock or knows about fetch.
 */

export interface ApiRequest {
  method: string;
  path: string;
  params?: ReadonlyArray<readonly [string, string]>;
  /** The JSON body; undefined means no body. */
  json?: unknown;
  /**
   * Whether sending it twice is harmless. The retry policy resends a non-idempotent request
   * (a create, a message) only when it provably never reached the server.
   */
  idempotent: boolean;
  /** Monotonic milliseconds that bound the request and its retries. */
  deadline?: number;
  /** A whole history (V0's trajectory): its answer may be BULK_FACTOR times the usual cap. */
  bulk?: boolean;
  /** A successful answer is handed over as a stream (a download), not read into memory. */
  stream?: boolean;
  /** For a streamed JSON file: what it must look like to be the file ({@link JsonDocument}). */
  document?: JsonDocument;
}

/**
 * What a JSON answer streamed as a file must look like to be the file, checked as it streams
 * and never parsed whole: it opens with ``opening`` (decided on the first HEAD_BYTES) and ends
 * with ``closing``. An answer that does not open so (an error sent with 200) is read as an
 * ordinary answer; one that opens so but does not close so was cut short: an error.
 */
export interface JsonDocument {
  opening: RegExp;
  closing: RegExp;
}

export const HEAD_BYTES = 64;

/** How much larger than an ordinary answer a ``bulk`` one may be. */
export const BULK_FACTOR = 16;

export interface ApiResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** The body as text (empty for a streamed answer). */
  text: string;
  /** The body of a streamed answer. */
  body?: ReadableStream<Uint8Array> | null;
  /** The driver's wall clock (epoch ms) when the answer came, for Retry-After dates. */
  receivedAt: number;
  /** The client's keys, masked in every text made from this answer. */
  secrets: readonly string[];
}

export interface Call<T> {
  request: ApiRequest;
  parse: (response: ApiResponse) => T;
}

export function describe(request: ApiRequest): string {
  return `${request.method} ${request.path}`;
}

export function contentType(response: ApiResponse): string {
  return (response.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

export function isJson(response: ApiResponse): boolean {
  const type = contentType(response);
  return type === "application/json" || type.endsWith("+json");
}

/** Query parameters without the undefined/null ones; booleans as true/false; arrays repeated. */
export function query(params: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) out.push([key, typeof item === "boolean" ? String(item) : String(item)]);
  }
  return out;
}

/** The conversation's page in the web app (CONTRACT §1.2). */
export function webUrl(baseUrl: string, conversationId: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/conversations/${conversationId}`;
}

const MASK = "***";

/** ``text`` with every secret replaced by a mask. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(MASK);
  }
  return out;
}

/** At most ``limit`` characters of a body on one line, secrets masked before it is cut. */
export function preview(text: string, secrets: readonly string[], limit = 200): string {
  const flat = redact(text, secrets).replace(/\s+/g, " ").trim();
  return flat.length > limit ? `${flat.slice(0, limit)}…` : flat;
}

/** Keys whose values are secrets wherever they appear in a wire object. */
const SECRET_KEYS = new Set(["session_api_key", "api_key", "llm_api_key", "secrets"]);

/** A copy of a wire object with secret-named fields masked (CONTRACT §1.3). */
export function maskSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      out[key] = SECRET_KEYS.has(key) && item !== null && item !== undefined ? MASK : maskSecrets(item);
    }
    return out as T;
  }
  return value;
}
