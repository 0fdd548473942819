/**
 * A streamed history download, checked as it streams: V1's zip is taken as it comes; V0's
 * trajectory is JSON, which is the file only if it opens like one (decided on the first bytes)
 * and closes like one (checked at the end, so a body cut short by a proxy is an error, not a
 * file). JSON where a zip belongs, or an answer that is not the document, is read as an
 * ordinary answer so the parser says what came.
 */

import { ProtocolError } from "./errors.js";
import { type ApiRequest, type ApiResponse, describe, HEAD_BYTES, isJson, redact } from "./http.js";
import { decodeJson, isObject } from "./parsing.js";

/** A conversation's full history as it streams from the server (V1: a zip; V0: trajectory JSON). */
export interface HistoryDownload {
  stream: ReadableStream<Uint8Array>;
  contentType: string;
  /** A file name for it: the server's, or one made from the id. */
  fileName: string;
  /** The whole download in memory. */
  blob(): Promise<Blob>;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, head: Uint8Array[]): Promise<string> {
  const chunks = [...head];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return new TextDecoder().decode(concat(chunks));
}

/** The answer read whole as an ordinary one: the error it carries, or that it is not the file. */
function notTheFile(request: ApiRequest, response: ApiResponse, text: string): ProtocolError {
  const value = decodeJson({ ...response, text }, request); // raises for HTML or cut JSON
  const why = isObject(value) && typeof value.error === "string" ? value.error : "JSON where the history was expected";
  return new ProtocolError(`${describe(request)} answered ${redact(why, response.secrets).slice(0, 200)}`, { method: request.method, path: request.path });
}

export async function historyDownload(request: ApiRequest, response: ApiResponse, fallbackName: string): Promise<HistoryDownload> {
  const body = response.body;
  if (!body) throw new ProtocolError(`${describe(request)} answered without a body`, { method: request.method, path: request.path });
  const contentType = response.headers["content-type"] ?? "application/octet-stream";
  const fileName = /filename="?([^";]+)"?/.exec(response.headers["content-disposition"] ?? "")?.[1] ?? fallbackName;
  const reader = body.getReader();
  const document = request.document;
  if (!isJson(response) && document === undefined) {
    reader.releaseLock();
    return { stream: body, contentType, fileName, blob: () => new Response(body).blob() };
  }
  // JSON: the first bytes decide whether it is the document.
  const head: Uint8Array[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < HEAD_BYTES) {
    const { done, value } = await reader.read();
    if (done) {
      ended = true;
      break;
    }
    head.push(value);
    headLength += value.length;
  }
  const headText = new TextDecoder().decode(concat(head).subarray(0, HEAD_BYTES));
  if (document === undefined || !isJson(response) || !document.opening.test(headText)) {
    throw notTheFile(request, response, ended ? new TextDecoder().decode(concat(head)) : await readAll(reader, head));
  }
  let tail: Uint8Array = new Uint8Array(0);
  const keepTail = (chunk: Uint8Array) => {
    const joined = concat([tail, chunk]);
    tail = joined.subarray(Math.max(0, joined.length - HEAD_BYTES));
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of head) {
        keepTail(chunk);
        controller.enqueue(chunk);
      }
    },
    async pull(controller) {
      const { done, value } = ended ? { done: true, value: undefined } : await reader.read();
      if (!done && value) {
        keepTail(value);
        controller.enqueue(value);
        return;
      }
      if (!document.closing.test(new TextDecoder().decode(tail))) {
        controller.error(
          new ProtocolError(`${describe(request)} was cut short: the history does not end as a complete document`, {
            method: request.method,
            path: request.path,
          }),
        );
        return;
      }
      controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { stream, contentType, fileName, blob: () => new Response(stream).blob() };
}
