/** The original quick start, unchanged but for the import path, on a V0 and a V1 server. */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { OpenHandsAPI } from "../src/index.js";
import { type FakeServer, startFakeServer } from "./fake-server.js";

for (const generations of ["v0", "v1"] as const) {
  describe(`quick start on a ${generations} server`, () => {
    let server: FakeServer;
    before(async () => {
      server = await startFakeServer({ generations, args: ["--speed", "5"] });
      process.env.OPENHANDS_BASE_URL = server.url;
      process.env.OPENHANDS_API_KEY = "quickstart-key-1234";
    });
    after(async () => {
      delete process.env.OPENHANDS_BASE_URL;
      delete process.env.OPENHANDS_API_KEY;
      await server.stop();
    });

    test("returns when the agent is done, with its status and web page", async () => {
      // --- the quick start as published ---
      const api = new OpenHandsAPI({ apiKey: process.env.OPENHANDS_API_KEY! });
      const conv = await api.createConversation({
        initialUserMsg: "Fix the failing test. [fake-llm steps=1]",
        repository: "owner/repo",
        selectedBranch: "main",
      });
      const final = await api.pollUntilTerminal(conv.conversation_id, { timeoutMs: 30 * 60_000, pollIntervalMs: 30_000 });
      console.log(final.status, final.url);
      // ---
      assert.equal(final.status, "finished");
      assert.equal(final.url, `${server.url}/conversations/${conv.conversation_id}`);
      assert.equal(await api.apiVersion(), generations);
      assert.ok(final.finalMessage);
    });
  });
}
