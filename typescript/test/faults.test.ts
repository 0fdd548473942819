/**
 * Faults the fake server injects (``POST /_fake/faults``): 429 with Retry-After, connection
 * resets before and after a create, HTML bodies, 5xx, Cloud's concurrency limit; plus keys that
 * never leak and redirects that are not followed. On V0 and V1.
 */

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { inspect } from "node:util";
import { APITimeoutError, AuthenticationError, ConcurrencyLimitError, type Conversation, OpenHandsAPI, ProtocolError, WaitTimeoutError } from "../src/index.js";
import { type FakeServer, startFakeServer } from "./fake-server.js";

const CREATE_PATH = { v0: "/api/conversations", v1: "/api/v1/app-conversations" } as const;

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

for (const generations of ["v0", "v1"] as const) {
  describe(`faults on a ${generations} server`, () => {
    let server: FakeServer;
    let api: OpenHandsAPI;
    const created: string[] = [];
    before(async () => {
      server = await startFakeServer({ generations, args: ["--speed", "5", "--no-rate-limit"] });
      api = new OpenHandsAPI({ baseUrl: server.url, timeoutMs: 3000, pollIntervalMs: 200, maxPollIntervalMs: 500 });
    });
    afterEach(async () => {
      await server.clearFaults();
    });
    after(async () => {
      for (const id of created) await api.deleteConversation(id).catch(() => undefined);
      await server.stop();
    });

    async function createWithPrompt(prompt: string): Promise<Conversation> {
      const conversation = await api.createConversation({ prompt });
      created.push(conversation.id);
      return conversation;
    }

    test("429 with Retry-After is waited out and the create goes through once", async () => {
      await server.addFault({ fault: "rate_limit", method: "POST", path: CREATE_PATH[generations], retry_after: "1", times: 1 });
      const started = performance.now();
      const conversation = await createWithPrompt("rate limited [fake-llm steps=1]");
      assert.ok(performance.now() - started >= 900, "the client honoured Retry-After: 1");
      const [rule] = (await server.faults()).rules;
      assert.equal(rule?.hits, 1);
      assert.equal((await api.wait(conversation.id, { timeoutMs: 60_000 })).outcome, "finished");
    });

    test("a connection reset before the create reached the app: proven absent, sent again, one conversation", async () => {
      const before = (await all(api.listConversations())).length;
      await server.addFault({ fault: "reset_before", method: "POST", path: CREATE_PATH[generations], times: 1 });
      const conversation = await createWithPrompt("reset before [fake-llm steps=1]");
      const afterwards = await all(api.listConversations());
      assert.equal(afterwards.length, before + 1, "exactly one new conversation");
      assert.ok(afterwards.some((item) => item.id === conversation.id));
    });

    test("a connection reset after the create was carried out: found by lookup, not created twice", async () => {
      const before = (await all(api.listConversations())).length;
      await server.addFault({ fault: "reset_after", method: "POST", path: CREATE_PATH[generations], times: 1 });
      const conversation = await createWithPrompt("reset after [fake-llm steps=1]");
      const afterwards = await all(api.listConversations());
      assert.equal(afterwards.length, before + 1, "exactly one new conversation");
      assert.ok(afterwards.some((item) => item.id === conversation.id));
      assert.equal((await api.wait(conversation.id, { timeoutMs: 60_000 })).outcome, "finished");
    });

    test("5xx and HTML pages during a wait are ridden out", async () => {
      const conversation = await createWithPrompt("flaky reads [fake-llm steps=2]");
      await server.addFault({ fault: "status", status: 503, method: "GET", path: "/api/*", times: 2 });
      await server.addFault({ fault: "html", status: 500, method: "GET", path: "/api/*", times: 2 });
      const final = await api.wait(conversation.id, { timeoutMs: 60_000 });
      assert.equal(final.outcome, "finished");
      const hits = (await server.faults()).rules.map((rule) => rule.hits);
      assert.deepEqual(hits, [2, 2]);
    });

    test("an HTML page with status 200 is never success: ProtocolError", async () => {
      const conversation = await createWithPrompt("html page [fake-llm steps=1]");
      await server.addFault({ fault: "html", status: 200, method: "GET", path: "/api/*", times: 1 });
      await assert.rejects(api.result(conversation.id), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.match(error.message, /HTML page/);
        return true;
      });
    });

    test("an answer slower than timeoutMs is an APITimeoutError (a read is retried, then given up)", async () => {
      const impatient = new OpenHandsAPI({ baseUrl: server.url, timeoutMs: 500, maxRetries: 1 });
      await server.addFault({ fault: "slow", delay: 5, method: "GET", path: "/api/*", times: 2 });
      const started = performance.now();
      await assert.rejects(all(impatient.listConversations()), APITimeoutError);
      assert.ok(performance.now() - started < 4000);
    });

    test("a wait that runs out of time says what it saw last, and progress was reported", async () => {
      const conversation = await createWithPrompt("long job [fake-llm steps=200]");
      const snapshots: string[] = [];
      await assert.rejects(api.wait(conversation.id, { timeoutMs: 1500, onProgress: (snapshot) => snapshots.push(snapshot.outcome) }), (error: unknown) => {
        assert.ok(error instanceof WaitTimeoutError);
        assert.equal((error.last as { outcome: string } | null)?.outcome, "in_progress");
        assert.match(error.message, /may still be running/);
        return true;
      });
      assert.ok(snapshots.length > 0);
      assert.ok(snapshots.every((outcome) => outcome === "in_progress"));
      await api.stop(conversation.id);
    });

    test("an answer larger than the cap, or a gzip body that inflates past it, is refused as it comes", async () => {
      const capped = new OpenHandsAPI({ baseUrl: server.url, maxResponseBytes: 100_000, maxRetries: 0 });
      await server.addFault({ fault: "oversize", size: 2_000_000, method: "GET", path: "/api/*", times: 1 });
      await assert.rejects(all(capped.listConversations()), /answered more than 100000 bytes/);
      await server.addFault({ fault: "gzip_bomb", size: 5_000_000, method: "GET", path: "/api/*", times: 1 });
      await assert.rejects(all(capped.listConversations()), /answered more than 100000 bytes/);
    });

    if (generations === "v1") {
      test("Cloud's CONCURRENCY_LIMIT_REACHED is raised at once, never retried", async () => {
        await server.addFault({ fault: "concurrency_limit", method: "POST", path: CREATE_PATH.v1, times: 3 });
        await assert.rejects(api.createConversation({ prompt: "too many" }), (error: unknown) => {
          assert.ok(error instanceof ConcurrencyLimitError);
          assert.equal(typeof error.limit, "number");
          return true;
        });
        assert.equal((await server.faults()).rules[0]?.hits, 1);
      });
    }
  });

  describe(`keys on a ${generations} server`, () => {
    let server: FakeServer;
    const KEY = "sk-secret-test-key-0123456789";
    before(async () => {
      server = await startFakeServer({ generations, args: ["--speed", "5", "--api-key", KEY] });
    });
    after(async () => {
      await server.stop();
    });

    test("a wrong key is an AuthenticationError that shows no key", async () => {
      const wrong = "sk-wrong-key-9876543210";
      const api = new OpenHandsAPI({ baseUrl: server.url, apiKey: wrong, apiVersion: generations });
      await assert.rejects(api.result("0123456789abcdef0123456789abcdef"), (error: unknown) => {
        assert.ok(error instanceof AuthenticationError);
        assert.ok(!String(error.message).includes(wrong));
        assert.ok(!JSON.stringify(error).includes(wrong));
        assert.ok(!inspect(error, { depth: 5 }).includes(wrong));
        return true;
      });
    });

    test("the right key works, and the client never shows it", async () => {
      const api = new OpenHandsAPI({ baseUrl: server.url, apiKey: KEY });
      assert.equal(await api.apiVersion(), generations);
      assert.ok(!JSON.stringify(api).includes(KEY));
      assert.ok(!inspect(api, { depth: 5, showHidden: true }).includes(KEY));
      assert.ok(!String(api).includes(KEY));
    });
  });
}

describe("configuration", () => {
  test("no key over plain http to another host, unless allowed", async () => {
    assert.throws(() => new OpenHandsAPI({ baseUrl: "http://example.com", apiKey: "k-1234567" }), /plain http/);
    assert.ok(new OpenHandsAPI({ baseUrl: "http://example.com", apiKey: "k-1234567", allowInsecureHttp: true }));
    assert.ok(new OpenHandsAPI({ baseUrl: "http://127.0.0.1:3000", apiKey: "k-1234567" }));
  });

  test("a redirect is not followed with the key", async () => {
    let calls = 0;
    const fakeFetch: typeof fetch = async (_input, init) => {
      calls += 1;
      assert.equal(init?.redirect, "manual");
      return new Response(null, { status: 302, headers: { location: "https://elsewhere.example/api/conversations" } });
    };
    const api = new OpenHandsAPI({ baseUrl: "https://openhands.example", apiKey: "k-1234567", apiVersion: "v0", fetch: fakeFetch });
    await assert.rejects(api.result("0123456789abcdef0123456789abcdef"), /redirected \(HTTP 302\) to https:\/\/elsewhere\.example/);
    assert.ok(calls >= 1);
  });
});
