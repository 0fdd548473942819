// The TypeScript client's quick start and user script against a real OpenHands server, for
// tests/integration/test_typescript.py. Run with the built package (typescript/dist):
//
//   node typescript_client.mjs quickstart|user-script DIST_DIR WORKDIR
//
// The server comes from OPENHANDS_BASE_URL and OPENHANDS_SESSION_API_KEY, as a user would set
// them. Prints one JSON object on stdout (what the test asserts); errors go to stderr, exit 1.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [mode, distDir, workdir] = process.argv.slice(2);
const { OpenHandsAPI } = await import(pathToFileURL(path.join(distDir, "index.js")).href);
const { downloadHistoryToFile } = await import(pathToFileURL(path.join(distDir, "node.js")).href);

// A real server checks a repository with its git provider (a token and network this machine does
// not have), so these prompts name none; the bracketed directives script the harness's fake LLM.
async function quickStart() {
  // --- the quick start as published, without repository/selectedBranch ---
  const api = new OpenHandsAPI({ apiKey: process.env.OPENHANDS_API_KEY });
  const conv = await api.createConversation({ initialUserMsg: "Please audit this repo for flaky tests. [fake-llm steps=1]" });
  const final = await api.pollUntilTerminal(conv.conversation_id, { timeoutMs: 30 * 60_000, pollIntervalMs: 30_000 });
  console.error(final.status, final.url);
  // ---
  const version = await api.apiVersion();
  await api.deleteConversation(conv.conversation_id);
  return { status: final.status, url: final.url, id: conv.conversation_id, version, finalMessage: final.finalMessage };
}

async function userScript() {
  // The real server allows 10 requests/s per client address, shared with its own agents: keep
  // this process at 4 (tests/integration/README.md).
  const api = new OpenHandsAPI({ throttle: 4, pollIntervalMs: 500, maxPollIntervalMs: 2000, startTimeoutMs: 150_000 });
  const conversation = await api.createConversation({ prompt: "Write hello.py. [fake-llm steps=1]", title: "typescript user script" });
  try {
    const first = await api.wait(conversation.id, { timeoutMs: 240_000 });
    const result = await api.result(conversation.id);
    const second = await api.sendAndWait(conversation.id, "Now add a test. [fake-llm steps=1]", { timeoutMs: 240_000 });
    const destination = path.join(workdir, "history");
    const bytes = await downloadHistoryToFile(api, conversation.id, destination);
    const head = (await readFile(destination)).subarray(0, 2).toString("latin1");
    return {
      version: await api.apiVersion(),
      id: conversation.id,
      first: first.outcome,
      firstDetail: first.detail,
      result: { outcome: result.outcome, finalMessage: result.finalMessage, webUrl: result.webUrl },
      second: second.outcome,
      secondDetail: second.detail,
      secondFinalMessage: second.finalMessage,
      bytes,
      head,
    };
  } finally {
    await api.deleteConversation(conversation.id);
  }
}

try {
  const output = mode === "quickstart" ? await quickStart() : mode === "user-script" ? await userScript() : null;
  if (output === null) throw new Error(`unknown mode ${mode}`);
  console.log(JSON.stringify(output));
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}
