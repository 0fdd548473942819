/**
 * The same user script for every server (tests/user_script.py in TypeScript): create → wait →
 * result → send a message → wait → download → events → delete, unchanged on V0 and V1.
 */

import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ConflictError, NotFoundError, NotSupportedError, OpenHandsAPI } from "../src/index.js";
import { downloadHistoryToFile } from "../src/node.js";
import { type FakeServer, startFakeServer } from "./fake-server.js";

for (const generations of ["v0", "v1"] as const) {
  describe(`the user script on a ${generations} server`, () => {
    let server: FakeServer;
    let workdir: string;
    before(async () => {
      server = await startFakeServer({ generations, args: ["--speed", "5"] });
      workdir = await mkdtemp(path.join(tmpdir(), "openhands-api-ts-"));
    });
    after(async () => {
      await server.stop();
      await rm(workdir, { recursive: true, force: true });
    });

    test("create, wait, result, send and wait, download, events, delete", async () => {
      const api = new OpenHandsAPI({ baseUrl: server.url, pollIntervalMs: 200, maxPollIntervalMs: 500 });
      const conversation = await api.createConversation({ prompt: "Write hello.py. [fake-llm steps=1]", title: "user script" });
      try {
        const first = await api.wait(conversation.id, { timeoutMs: 60_000 });
        assert.equal(first.outcome, "finished", JSON.stringify(first.detail));
        const result = await api.result(conversation.id);
        assert.equal(result.outcome, "finished");
        assert.ok(result.finalMessage);
        const second = await api.sendAndWait(conversation.id, "Now add a test.", { timeoutMs: 60_000 });
        assert.equal(second.outcome, "finished", JSON.stringify(second.detail));

        const destination = path.join(workdir, "history");
        const bytes = await downloadHistoryToFile(api, conversation.id, destination);
        assert.ok(bytes > 0);
        assert.equal((await stat(destination)).size, bytes);
        const head = (await readFile(destination)).subarray(0, 2).toString();
        assert.equal(head, generations === "v1" ? "PK" : '{"');

        const download = await api.downloadHistory(conversation.id);
        assert.ok((await download.blob()).size > 0);

        const events = [];
        for await (const event of api.events(conversation.id)) events.push(event);
        assert.ok(events.length > 0);
        const newest = [];
        for await (const event of api.events(conversation.id, { reverse: true, pageSize: 3 })) newest.push(event);
        assert.equal(newest.length, events.length);

        await api.setTitle(conversation.id, "renamed by the script");
        const listed = [];
        for await (const item of api.listConversations()) listed.push(item);
        assert.ok(listed.some((item) => item.id === conversation.id));
        const got = await api.getConversation(conversation.id);
        assert.equal(got.title, "renamed by the script");
      } finally {
        assert.equal(await api.deleteConversation(conversation.id), true);
      }
      assert.equal(await api.deleteConversation(conversation.id), false);
      if (generations === "v0") await assert.rejects(api.getConversation(conversation.id), NotFoundError);
    });

    test("stop, then a message resumes the conversation", async () => {
      const api = new OpenHandsAPI({ baseUrl: server.url, pollIntervalMs: 200, maxPollIntervalMs: 500 });
      const conversation = await api.createConversation({ prompt: "Say hi. [fake-llm steps=1]" });
      try {
        assert.equal((await api.wait(conversation.id, { timeoutMs: 60_000 })).outcome, "finished");
        await api.stop(conversation.id);
        const stopped = await api.result(conversation.id);
        // The turn had finished before the stop: it stays finished (CONTRACT §4.2 rows 2–5, §6.4 row 4).
        assert.equal(stopped.outcome, "finished");
        assert.equal(stopped.conversation.runtime, "stopped");
        const again = await api.sendAndWait(conversation.id, "One more thing.", { timeoutMs: 60_000 });
        assert.equal(again.outcome, "finished");
        assert.equal(again.conversation.runtime, "running");
      } finally {
        await api.deleteConversation(conversation.id);
      }
    });

    if (generations === "v1") {
      test("a message to a paused sandbox with resume: false is a ConflictError", async () => {
        const api = new OpenHandsAPI({ baseUrl: server.url, pollIntervalMs: 200, maxPollIntervalMs: 500 });
        const conversation = await api.createConversation({ prompt: "Say hi. [fake-llm steps=1]" });
        try {
          assert.equal((await api.wait(conversation.id, { timeoutMs: 60_000 })).outcome, "finished");
          await api.stop(conversation.id);
          await assert.rejects(api.sendMessage(conversation.id, "Are you there?", { resume: false }), ConflictError);
          await api.resume(conversation.id);
        } finally {
          await api.deleteConversation(conversation.id);
        }
      });
    }

    test("the raw routes of the generation are reachable", async () => {
      const api = new OpenHandsAPI({ baseUrl: server.url });
      if (generations === "v0") {
        const page = await api.v0.listConversations({ limit: 5 });
        assert.ok(Array.isArray(page.results));
        assert.equal(await api.v0.getConversation("0123456789abcdef0123456789abcdef"), null);
      } else {
        const page = await api.v1.searchConversations({ limit: 5 });
        assert.ok(Array.isArray(page.items));
        assert.deepEqual(await api.v1.getConversations(["0123456789abcdef0123456789abcdef"]), [null]);
      }
    });
  });
}

describe("a 1.x server that speaks both generations", () => {
  let server: FakeServer;
  before(async () => {
    server = await startFakeServer({ generations: "both", args: ["--speed", "5"] });
  });
  after(async () => {
    await server.stop();
  });

  test("V0 is chosen, and a V1 conversation listed through V0 routes is handed over to V1", async () => {
    const auto = new OpenHandsAPI({ baseUrl: server.url, pollIntervalMs: 200, maxPollIntervalMs: 500 });
    assert.equal(await auto.apiVersion(), "v0");
    const viaV1 = new OpenHandsAPI({ baseUrl: server.url, apiVersion: "v1", pollIntervalMs: 200, maxPollIntervalMs: 500 });
    const conversation = await viaV1.createConversation({ prompt: "Hello from V1. [fake-llm steps=1]" });
    const final = await auto.wait(conversation.id, { timeoutMs: 60_000 });
    assert.equal(final.outcome, "finished");
    assert.equal(final.conversation.apiVersion, "v1");
    const events = [];
    for await (const event of auto.events(conversation.id)) events.push(event);
    assert.ok(events.length > 0);
  });
});

describe("a forced generation the server does not speak", () => {
  let server: FakeServer;
  before(async () => {
    server = await startFakeServer({ generations: "v1", args: ["--speed", "5"] });
  });
  after(async () => {
    await server.stop();
  });

  test("is a NotSupportedError, not the route's 404", async () => {
    const api = new OpenHandsAPI({ baseUrl: server.url, apiVersion: "v0" });
    await assert.rejects(api.stop("0123456789abcdef0123456789abcdef"), (error: unknown) => {
      assert.ok(error instanceof NotSupportedError, String(error));
      assert.match(error.message, /does not speak the V0 API/);
      return true;
    });
  });
});

describe("a server that answers like OpenHands Cloud (web-app HTML for unknown GETs, Bearer keys)", () => {
  let server: FakeServer;
  const KEY = "sk-cloud-like-key-0123456789";
  before(async () => {
    server = await startFakeServer({ generations: "v1", args: ["--speed", "5", "--flavor", "cloud", "--api-key", KEY] });
  });
  after(async () => {
    await server.stop();
  });

  test("detection takes the HTML page on the V0 listing for 'no V0', and the script runs on V1", async () => {
    const api = new OpenHandsAPI({ baseUrl: server.url, apiKey: KEY, pollIntervalMs: 200, maxPollIntervalMs: 500 });
    assert.equal(await api.apiVersion(), "v1");
    const conversation = await api.createConversation({ prompt: "Hello, cloud. [fake-llm steps=1]" });
    try {
      const final = await api.wait(conversation.id, { timeoutMs: 60_000 });
      assert.equal(final.outcome, "finished");
      assert.ok(final.finalMessage);
    } finally {
      await api.deleteConversation(conversation.id);
    }
  });
});
