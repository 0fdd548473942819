/** Every call takes an AbortSignal: aborting ends it promptly with AbortError, on V0 and V1. */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AbortError, OpenHandsAPI } from "../src/index.js";
import { type FakeServer, startFakeServer } from "./fake-server.js";

for (const generations of ["v0", "v1"] as const) {
  describe(`abort on a ${generations} server`, () => {
    let server: FakeServer;
    let api: OpenHandsAPI;
    before(async () => {
      server = await startFakeServer({ generations, args: ["--speed", "5", "--no-rate-limit"] });
      api = new OpenHandsAPI({ baseUrl: server.url, pollIntervalMs: 200, maxPollIntervalMs: 500 });
    });
    after(async () => {
      await server.stop();
    });

    test("a wait aborted mid-way ends at once with AbortError", async () => {
      // A long task: the wait would take many seconds.
      const conversation = await api.createConversation({ prompt: "A long job. [fake-llm steps=200]" });
      try {
        const controller = new AbortController();
        const started = performance.now();
        setTimeout(() => controller.abort(new Error("user gave up")), 700);
        await assert.rejects(api.wait(conversation.id, { timeoutMs: 120_000, signal: controller.signal }), (error: unknown) => {
          assert.ok(error instanceof AbortError);
          assert.equal((error.reason as Error).message, "user gave up");
          return true;
        });
        assert.ok(performance.now() - started < 3000, "ended promptly");
      } finally {
        await api.deleteConversation(conversation.id);
      }
    });

    test("a request held by the server is abandoned when aborted", async () => {
      await server.addFault({ fault: "slow", delay: 20, method: "GET", path: "/api/*", times: 1 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      const started = performance.now();
      await assert.rejects(async () => {
        for await (const _ of api.listConversations({ signal: controller.signal })) {
          // nothing: the first page never comes
        }
      }, AbortError);
      assert.ok(performance.now() - started < 3000);
      await server.clearFaults();
    });

    test("an already aborted signal sends nothing", async () => {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(api.result("0123456789abcdef0123456789abcdef", { signal: controller.signal }), AbortError);
    });
  });
}
