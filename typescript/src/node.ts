/**
 * Node-only helpers (``import { downloadHistoryToFile } from "openhands-api/node"``), kept out
 * of the main entry point so that a browser bundle has no ``node:`` imports.
 */

import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { CallOptions, OpenHandsAPI } from "./client.js";

/**
 * Save a conversation's full history to ``destination`` (V1's zip, V0's trajectory JSON),
 * streamed through a temporary file that is renamed once complete: a cut download leaves no
 * file. Returns the number of bytes written.
 */
export async function downloadHistoryToFile(api: OpenHandsAPI, conversationId: string, destination: string, options: CallOptions = {}): Promise<number> {
  const download = await api.downloadHistory(conversationId, options);
  const partial = `${destination}.partial`;
  let bytes = 0;
  const source = Readable.fromWeb(download.stream as unknown as NodeReadableStream<Uint8Array>, options.signal ? { signal: options.signal } : {});
  source.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  try {
    await pipeline(source, createWriteStream(partial));
    await rename(partial, destination);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return bytes;
}
