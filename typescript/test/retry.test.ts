/** The retry decision (retry.ts) and the fetch driver's use of it, with a scripted fetch. */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { ApiRequest } from "../src/http.js";
import {
  APIConnectionError,
  ConcurrencyLimitError,
  InvalidInputError,
  MissingAPIKeyError,
  NotSupportedError,
  OpenHandsAPI,
  RetryPolicy,
  ServerError,
} from "../src/index.js";
import { RequestBudget } from "../src/pacing.js";
import { parseRetryAfter, serverDelayHint } from "../src/retry.js";

const GET: ApiRequest = { method: "GET", path: "/x", idempotent: true };
const POST: ApiRequest = { method: "POST", path: "/x", idempotent: false };
const options = { concurrencyLimited: false, rand: 0.5, now: 0, wallNow: 1_000_000 };

describe("the retry decision", () => {
  const policy = new RetryPolicy({ maxRetries: 3 });

  test("429 is retried for every request, honouring Retry-After", () => {
    assert.equal(policy.delayAfterResponse(0, POST, 429, { "retry-after": "2" }, options), 2000);
    assert.equal(policy.delayAfterResponse(0, GET, 429, { "Retry-After": "2" }, options), 2000);
  });

  test("Retry-After as an HTTP date, and capped", () => {
    const wallNow = Date.parse("Tue, 01 Dec 2026 14:00:00 GMT");
    assert.equal(parseRetryAfter("Tue, 01 Dec 2026 14:00:03 GMT", wallNow), 3000);
    assert.equal(policy.delayAfterResponse(0, GET, 503, { "retry-after": "3600" }, options), 60_000);
    assert.equal(parseRetryAfter("soon", wallNow), null);
  });

  test("Retry-After: only the HTTP date forms, as the Python client (Date.parse alone takes more)", () => {
    const wallNow = Date.parse("Sun, 06 Nov 1994 08:49:30 GMT");
    assert.equal(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", wallNow), 7000); // RFC 850
    assert.equal(parseRetryAfter("1994-11-06T08:49:37Z", wallNow), null);
    assert.equal(parseRetryAfter("1e3", wallNow), null);
    assert.equal(parseRetryAfter("Sun, 06 Nov 1994", wallNow), null);
  });

  test("X-RateLimit-Reset is a hint too", () => {
    assert.equal(serverDelayHint({ "x-ratelimit-reset": String(2_000_000_000) }, 1_999_999_996_000), 4000);
    assert.equal(serverDelayHint({ "x-ratelimit-reset": "4" }, 0), 4000);
  });

  test("502/503/504 only for idempotent requests", () => {
    assert.notEqual(policy.delayAfterResponse(0, GET, 503, {}, options), null);
    assert.equal(policy.delayAfterResponse(0, POST, 503, {}, options), null);
    assert.equal(policy.delayAfterResponse(0, GET, 500, {}, options), null);
  });

  test("CONCURRENCY_LIMIT_REACHED is never retried", () => {
    assert.equal(policy.delayAfterResponse(0, GET, 429, {}, { ...options, concurrencyLimited: true }), null);
  });

  test("a request that may have arrived is resent only when idempotent", () => {
    assert.notEqual(policy.delayAfterFailure(0, GET, "disconnected", 0.5, 0), null);
    assert.equal(policy.delayAfterFailure(0, POST, "disconnected", 0.5, 0), null);
    assert.equal(policy.delayAfterFailure(0, POST, "read_timeout", 0.5, 0), null);
    assert.notEqual(policy.delayAfterFailure(0, POST, "connect", 0.5, 0), null);
  });

  test("never past the deadline or the retry budget", () => {
    assert.equal(policy.delayAfterFailure(0, { ...GET, deadline: 100 }, "connect", 0.5, 0), null);
    assert.equal(policy.delayAfterFailure(3, GET, "connect", 0.5, 0), null);
  });

  test("backoff grows, with jitter, up to the maximum", () => {
    assert.equal(policy.backoff(0, 0), 250);
    assert.equal(policy.backoff(0, 1), 500);
    assert.equal(policy.backoff(10, 1), 8000);
  });
});

function scriptedFetch(answers: Array<() => Response>): { fetch: typeof fetch; calls: () => number } {
  let index = 0;
  return {
    fetch: async () => {
      const answer = answers[Math.min(index, answers.length - 1)];
      index += 1;
      return answer!();
    },
    calls: () => index,
  };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

describe("the fetch driver", () => {
  const id = "0123456789abcdef0123456789abcdef";
  const info = { conversation_id: id, status: "RUNNING", runtime_status: "STATUS$READY", conversation_version: "V0" };

  test("rides out 503s on a read, then answers", async () => {
    const script = scriptedFetch([json(503, { detail: "busy" }), json(503, { detail: "busy" }), json(200, info)]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", fetch: script.fetch });
    const got = await api.v0.getConversation(id);
    assert.equal(got?.conversation_id, id);
    assert.equal(script.calls(), 3);
  });

  test("gives up after maxRetries with the typed error", async () => {
    const script = scriptedFetch([json(503, { detail: "busy" })]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", maxRetries: 1, fetch: script.fetch });
    await assert.rejects(api.v0.getConversation(id), ServerError);
    assert.equal(script.calls(), 2);
  });

  test("a concurrency limit is raised after one request", async () => {
    const body = { detail: { error: "CONCURRENCY_LIMIT_REACHED", message: "limit", limit: 3, current: 3 } };
    const script = scriptedFetch([json(429, body)]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v1", fetch: script.fetch });
    await assert.rejects(api.createConversation({ prompt: "x" }), ConcurrencyLimitError);
    assert.equal(script.calls(), 1);
  });

  test("a refused connection is an APIConnectionError that says the request was not sent", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const api = new OpenHandsAPI({ baseUrl: `http://127.0.0.1:${port}`, apiVersion: "v0", maxRetries: 0 });
    await assert.rejects(api.v0.getConversation(id), (error: unknown) => {
      assert.ok(error instanceof APIConnectionError);
      assert.equal(error.requestSent, false);
      return true;
    });
  });
});

describe("the request budget", () => {
  test("a burst goes at once, then one request per slot", () => {
    const budget = new RequestBudget(10, 2);
    assert.deepEqual([budget.reserve(0), budget.reserve(0), budget.reserve(0), budget.reserve(0)], [0, 0, 100, 200]);
  });

  test("the client paces its requests to the budget", async () => {
    const script = scriptedFetch([json(200, { results: [], next_page_id: null })]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", throttle: 20, fetch: script.fetch });
    const started = performance.now();
    await Promise.all(Array.from({ length: 30 }, () => api.v0.listConversations({ limit: 1 })));
    assert.ok(performance.now() - started >= 450, "30 requests at 20/s with a burst of 20 take at least 0.5 s");
  });
});

describe("invalid input", () => {
  test("is refused before anything is sent, as a rejected promise", async () => {
    const script = scriptedFetch([json(500, {})]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", fetch: script.fetch });
    await assert.rejects(api.createConversation({}), InvalidInputError);
    await assert.rejects(api.createConversation({ prompt: "x", repository: "not a repo" }), InvalidInputError);
    await assert.rejects(api.wait("0123456789abcdef0123456789abcdef", { timeoutMs: -1 }), InvalidInputError);
    await assert.rejects(api.v0.getConversation("../etc"), InvalidInputError);
    await assert.rejects(api.v1.getConversations(["not-a-uuid"]), InvalidInputError);
    assert.equal(script.calls(), 0);
  });
});

describe("version detection", () => {
  test("concurrent first calls share one detection", async () => {
    let probes = 0;
    const fakeFetch: typeof fetch = async (input) => {
      const url = new URL(String(input));
      if (url.pathname === "/api/v1/app-conversations/search") {
        probes += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
        return json(200, { items: [], next_page_id: null })();
      }
      if (url.pathname === "/api/conversations") return json(404, { detail: "Not Found" })();
      return json(200, { items: [], next_page_id: null })();
    };
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", fetch: fakeFetch });
    const versions = await Promise.all([api.apiVersion(), api.apiVersion(), api.apiVersion()]);
    assert.deepEqual(versions, ["v1", "v1", "v1"]);
    assert.equal(probes, 1);
  });

  test("a server that speaks neither API is a NotSupportedError", async () => {
    const html = () => new Response("<html>app</html>", { status: 200, headers: { "content-type": "text/html" } });
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", fetch: async () => html() });
    await assert.rejects(api.apiVersion(), NotSupportedError);
  });

  test("OpenHands Cloud is V1 without probing, and needs a key", async () => {
    let calls = 0;
    const api = new OpenHandsAPI({
      apiKey: "k-123456789",
      baseUrl: "https://app.all-hands.dev",
      fetch: async () => {
        calls += 1;
        return json(500, {})();
      },
    });
    assert.equal(await api.apiVersion(), "v1");
    assert.equal(calls, 0);
    assert.throws(() => new OpenHandsAPI({ baseUrl: "https://app.all-hands.dev", apiKey: null }), MissingAPIKeyError);
  });
});

describe("downloads", () => {
  test("a V0 trajectory answer that carries an error is not a history", async () => {
    const script = scriptedFetch([json(200, { trajectory: null, error: "Error getting trajectory: boom" })]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", fetch: script.fetch });
    await assert.rejects(api.downloadHistory("0123456789abcdef0123456789abcdef"), /Error getting trajectory: boom/);
  });

  test("a V0 trajectory streams, and one cut short is an error, never a file", async () => {
    const whole = JSON.stringify({ trajectory: [{ id: 0, source: "user", action: "message", args: { content: "hi" } }] });
    const answer = (text: string) => () => new Response(text, { status: 200, headers: { "content-type": "application/json" } });
    const ok = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", fetch: scriptedFetch([answer(whole)]).fetch });
    assert.equal(await (await (await ok.downloadHistory("0123456789abcdef0123456789abcdef")).blob()).text(), whole);
    const cut = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v0", fetch: scriptedFetch([answer(whole.slice(0, -5))]).fetch });
    const download = await cut.downloadHistory("0123456789abcdef0123456789abcdef");
    await assert.rejects(download.blob(), /cut short/);
  });

  test("a V1 zip streams as it comes", async () => {
    const bytes = new Uint8Array([0x50, 0x4b, 3, 4, 1, 2, 3]);
    const script = scriptedFetch([
      () =>
        new Response(bytes, {
          status: 200,
          headers: { "content-type": "application/zip", "content-disposition": 'attachment; filename="conversation_x.zip"' },
        }),
    ]);
    const api = new OpenHandsAPI({ baseUrl: "http://localhost:3000", apiVersion: "v1", fetch: script.fetch });
    const download = await api.downloadHistory("0123456789abcdef0123456789abcdef");
    assert.equal(download.fileName, "conversation_x.zip");
    assert.equal(download.contentType, "application/zip");
    assert.deepEqual(new Uint8Array(await (await download.blob()).arrayBuffer()), bytes);
  });
});

describe("the browser bundle", () => {
  test("no module but node.js imports node: built-ins", () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const built = path.resolve(here, "..", "src");
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith(".js") && entry.name !== "node.js" && /from "node:/.test(readFileSync(full, "utf8"))) offenders.push(full);
      }
    };
    walk(built);
    assert.deepEqual(offenders, []);
  });
});
