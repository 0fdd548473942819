// The TypeScript client's per-call overhead: N `api.v0.getConversation(id)` calls against N bare
// `fetch` GETs of the same route (+ `response.json()`), on a running fake server, interleaved
// run by run (A B B A …, so neither always runs on the warmer process). Prints one JSON object:
// seconds per call of every run on each side, their ratios and the median ratio.
//
//   node bench/ts_overhead.mjs DIST_DIR BASE_URL CONVERSATION_ID [N] [REPEATS]
//
// DIST_DIR is the built package (`npm run build` in typescript/). Start the fake without its rate
// limiter (`serve --no-rate-limit`): the client runs with `throttle: false` to match. `bench/run.py
// ts_overhead` does all of this.

import path from "node:path";
import { pathToFileURL } from "node:url";

const [distDir, baseUrl, conversationId, nText = "300", repeatsText = "10"] = process.argv.slice(2);
if (!distDir || !baseUrl || !conversationId) {
  console.error("usage: node bench/ts_overhead.mjs DIST_DIR BASE_URL CONVERSATION_ID [N] [REPEATS]");
  process.exit(2);
}
const n = Number(nText);
const repeats = Number(repeatsText);
const { OpenHandsAPI } = await import(pathToFileURL(path.join(distDir, "index.js")).href);

const api = new OpenHandsAPI({ baseUrl, apiVersion: "v0", throttle: false });
const url = `${baseUrl}/api/conversations/${conversationId}`;

async function library() {
  const started = performance.now();
  for (let i = 0; i < n; i++) await api.v0.getConversation(conversationId);
  return (performance.now() - started) / 1000 / n;
}

async function baseline() {
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await response.json();
  }
  return (performance.now() - started) / 1000 / n;
}

for (let i = 0; i < 20; i++) {
  // warm-up: connections, JIT, caches
  await api.v0.getConversation(conversationId);
  await (await fetch(url)).json();
}

const lib = [];
const base = [];
for (let index = 0; index < repeats; index++) {
  if (index % 2 === 0) {
    lib.push(await library());
    base.push(await baseline());
  } else {
    base.push(await baseline());
    lib.push(await library());
  }
}
const ratios = lib.map((value, i) => value / base[i]);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
console.log(JSON.stringify({ n, repeats, library: lib, baseline: base, ratios, median_ratio: median(ratios) }));
