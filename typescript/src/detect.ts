/**
 * Which API generation a server speaks (CONTRACT §1.6), decided once per client.
 *
 * Cloud speaks only V1 (no probe). Elsewhere two cheap GETs: a server that answers both is a
 * 1.0–1.6.0 server, whose V1 surface lacks send-message and delete, so V0 is chosen there —
 * and V1 conversations on it are still reached, by hand-over. 401/403 and 5xx on a probe raise
 * (a failing server is not evidence of a missing API).
 */

import { NotSupportedError } from "./errors.js";
import type { ApiVersion } from "./models.js";
import type { Runtime } from "./ops/runtime.js";
import * as v0 from "./routes/v0.js";
import * as v1 from "./routes/v1.js";

/**
 * After a missing route (404/405) on a version the caller forced: the error to raise instead
 * when the server does not speak that version at all (its own listing is missing too), null
 * when it does (then the 404 is the answer: an unknown id, say).
 */
export async function unspokenVersion(rt: Runtime, version: ApiVersion): Promise<NotSupportedError | null> {
  if (await rt.send(version === "v0" ? v0.probe() : v1.probe())) return null;
  const other = version === "v0" ? "v1" : "v0";
  return new NotSupportedError(
    `This server does not speak the ${version.toUpperCase()} API (its conversation listing is not there). Try apiVersion: "auto" or "${other}".`,
  );
}

export async function detectVersion(rt: Runtime, isCloud: boolean): Promise<ApiVersion> {
  if (isCloud) return "v1";
  const hasV1 = await rt.send(v1.probe());
  const hasV0 = await rt.send(v0.probe());
  if (hasV0) return "v0";
  if (hasV1) return "v1";
  throw new NotSupportedError(
    "This server speaks neither OpenHands API: GET /api/v1/app-conversations/search and GET /api/conversations both answered 404, 405 or a web page. " +
      "Is the base URL the OpenHands server (e.g. http://localhost:3000 or https://app.all-hands.dev)?",
  );
}
