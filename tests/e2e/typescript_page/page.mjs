// create → wait → result with the TypeScript client in a browser, against the fake server.
// Query parameters: version (v0|v1, what the server must be detected as), api (the server's base
// URL; default: this page's own origin), key (its session API key, if it needs one).
// Verdict as the page title: "PASS", or "FAIL: <why>".
import { OpenHandsAPI } from "./dist/index.js";

const params = new URLSearchParams(location.search);
const baseUrl = params.get("api") ?? location.origin;
const expectedVersion = params.get("version");

function fail(why) {
  throw new Error(why);
}

async function run() {
  const options = { baseUrl, pollIntervalMs: 200, maxPollIntervalMs: 500 };
  const key = params.get("key");
  if (key !== null) options.sessionApiKey = key;
  const api = new OpenHandsAPI(options);
  const conversation = await api.createConversation({ prompt: "Say hello from a browser. [fake-llm steps=1]" });
  const waited = await api.wait(conversation.id, { timeoutMs: 60_000 });
  if (waited.outcome !== "finished") fail(`wait: ${waited.outcome} (${waited.detail})`);
  const result = await api.result(conversation.id);
  if (result.outcome !== "finished") fail(`result: ${result.outcome}`);
  if (!result.finalMessage) fail("result: no final message");
  if (result.webUrl !== `${baseUrl}/conversations/${conversation.id}`) fail(`result: web URL ${result.webUrl}`);
  const version = await api.apiVersion();
  if (version !== expectedVersion) fail(`detected ${version}, expected ${expectedVersion}`);
  if (!(await api.deleteConversation(conversation.id))) fail("delete: not found");
  return "PASS";
}

run().then(
  (verdict) => {
    document.title = verdict;
  },
  (error) => {
    document.title = `FAIL: ${error.name}: ${error.message}`;
  },
);
