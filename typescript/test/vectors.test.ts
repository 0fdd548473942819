/**
 * The shared JSON vectors (tests/vectors/ at the repository root), the same cases the Python
 * tests run: each route builds the same request and reads the same captured answers into the
 * same results and errors, the lifecycle tables and rules decide the same outcomes, the retry
 * decision waits the same, and error answers become the same typed errors.
 *
 * The rules of tests/vectors/README.md: every case of every *.json file there (found by listing
 * the directory), dispatched on its kind (its own, else its file's); a kind this runner does not
 * know fails, naming the file and case, and so does an ``expect`` key it does not check. The
 * vectors count seconds; this client counts milliseconds, so times are converted both ways and
 * compared within 1e-9 s.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as errors from "../src/errors.js";
import type { ApiRequest, ApiResponse, Call } from "../src/http.js";
import * as lifecycle from "../src/lifecycle.js";
import type { AppConversation, ConversationInfo, Outcome, StartTask, V0Event, V1Event } from "../src/models.js";
import { errorFromResponse, isConcurrencyLimit } from "../src/parsing.js";
import { type FailureKind, parseRetryAfter, RetryPolicy, serverDelayHint } from "../src/retry.js";
import * as v0 from "../src/routes/v0.js";
import * as v1 from "../src/routes/v1.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const vectors = path.resolve(here, "..", "..", "..", "tests", "vectors");

// biome-ignore lint/suspicious/noExplicitAny: vectors are JSON of many shapes
type Json = any;

function load(name: string): Json {
  return JSON.parse(readFileSync(path.join(vectors, name), "utf8"));
}

function responseOf(wire: Json): ApiResponse {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(wire.headers ?? {})) headers[name.toLowerCase()] = value as string;
  if ("content_type" in wire) headers["content-type"] = wire.content_type;
  const receivedAt = typeof wire.received_at === "number" ? wire.received_at * 1000 : Date.now();
  return { status: wire.status, headers, text: wire.body ?? "", receivedAt, secrets: [] };
}

function msOf(seconds: number | null | undefined): number | null {
  return seconds === null || seconds === undefined ? null : seconds * 1000;
}

/** Seconds compare within 1e-9 (README rule 4); ``actualMs`` is this client's milliseconds. */
function assertSeconds(actualMs: number | null, expected: number | null, where = "seconds"): void {
  if (expected === null) {
    assert.equal(actualMs, null, `${where}: expected null`);
    return;
  }
  assert.notEqual(actualMs, null, `${where}: expected ${expected} s, got null`);
  const actual = (actualMs as number) / 1000;
  assert.ok(Math.abs(actual - expected) <= 1e-9, `${where}: expected ${expected} s, got ${actual} s`);
}

function assertKnownKeys(expect: Json, known: ReadonlySet<string>): void {
  const unknown = Object.keys(expect).filter((key) => !known.has(key));
  assert.deepEqual(unknown, [], `expectation keys this runner does not check: ${unknown.join(", ")}`);
}

type RouteTable = Record<string, (args: Json) => Call<unknown>>;

const V0_ROUTES: RouteTable = {
  create_conversation: (a) => v0.createConversation(a.body),
  get_conversation: (a) => v0.getConversation(a.conversation_id),
  list_conversations: (a) => v0.listConversations({ limit: a.limit }),
  get_events: (a) => v0.getEvents(a.conversation_id, { reverse: a.reverse, limit: a.limit }),
  get_trajectory: (a) => v0.getTrajectory(a.conversation_id),
  send_message: (a) => v0.sendMessage(a.conversation_id, a.message),
  update_title: (a) => v0.updateTitle(a.conversation_id, a.title),
  delete_conversation: (a) => v0.deleteConversation(a.conversation_id),
  stop_conversation: (a) => v0.stopConversation(a.conversation_id),
  start_conversation: (a) => v0.startConversation(a.conversation_id),
  list_files: (a) => v0.listFiles(a.conversation_id, a.path),
  read_file: (a) => v0.readFile(a.conversation_id, a.file),
  git_changes: (a) => v0.gitChanges(a.conversation_id),
  git_diff: (a) => v0.gitDiff(a.conversation_id, a.path),
  probe: () => v0.probe(),
};

const V1_ROUTES: RouteTable = {
  start_conversation: (a) => v1.startConversation(a.body),
  get_start_tasks: (a) => v1.getStartTasks(a.ids),
  search_start_tasks: (a) => v1.searchStartTasks({ conversationId: a.conversation_id, createdAtGte: a.created_at_gte, pageId: a.page_id, limit: a.limit }),
  get_conversations: (a) => v1.getConversations(a.ids),
  search_conversations: (a) => v1.searchConversations({ limit: a.limit }),
  count_conversations: () => v1.countConversations(),
  update_conversation: (a) => v1.updateConversation(a.conversation_id, { title: a.title }),
  delete_conversation: (a) => v1.deleteConversation(a.conversation_id),
  send_message: (a) => v1.sendMessage(a.conversation_id, a.text),
  search_events: (a) => v1.searchEvents(a.conversation_id, { newestFirst: a.newest_first, limit: a.limit }),
  count_events: (a) => v1.countEvents(a.conversation_id, { kind: a.kind }),
  read_file: (a) => v1.readFile(a.conversation_id, a.file_path),
  git_changes: (a) => v1.gitChanges(a.conversation_id, a.path, a.ref),
  git_diff: (a) => v1.gitDiff(a.conversation_id, a.path, a.ref),
  get_sandboxes: (a) => v1.getSandboxes(a.ids),
  search_sandboxes: () => v1.searchSandboxes(),
  pause_sandbox: (a) => v1.pauseSandbox(a.sandbox_id),
  resume_sandbox: (a) => v1.resumeSandbox(a.sandbox_id),
  delete_sandbox: (a) => v1.deleteSandbox(a.sandbox_id),
  users_me: () => v1.usersMe(),
  probe: () => v1.probe(),
};

function assertSubset(actual: Json, expected: Json, where: string): void {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    assert.ok(actual !== null && typeof actual === "object", `${where}: expected an object`);
    for (const [key, value] of Object.entries(expected)) assertSubset(actual[key], value, `${where}.${key}`);
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

function itemsOf(result: Json): Json[] {
  if (Array.isArray(result)) return result;
  return result.items ?? result.events ?? result.results;
}

const ROUTE_EXPECTATIONS: ReadonlySet<string> = new Set([
  "error",
  "detail",
  "limit",
  "current",
  "result",
  "result_keys",
  "event_ids",
  "has_more",
  "first",
  "second_is_null",
  "item_ids",
  "item_count",
  "next_page_id",
]);

function checkRouteCase(table: RouteTable, c: Json): void {
  const build = table[c.route];
  assert.ok(build, `route ${c.route} is in the TypeScript route table`);
  const call = build(c.args ?? {});
  if (c.request) {
    const request = call.request;
    assert.equal(request.method, c.request.method);
    assert.equal(request.path, c.request.path);
    assert.deepEqual(
      (request.params ?? []).map((p) => [...p]),
      c.request.params ?? [],
    );
    if ("json" in c.request) assert.deepEqual(request.json, c.request.json);
    else assert.equal(request.json, undefined, "the request has no body");
    assert.equal(request.idempotent, c.request.idempotent);
  }
  const expect = c.expect;
  assertKnownKeys(expect, ROUTE_EXPECTATIONS);
  let result: Json;
  let error: unknown = null;
  try {
    result = call.parse(responseOf(c.response));
  } catch (caught) {
    error = caught;
  }
  if (expect.error) {
    assert.ok(error instanceof errors.OpenHandsError, `expected ${expect.error}, got ${error === null ? JSON.stringify(result) : error}`);
    assert.equal(error.name, expect.error);
    const cls = (errors as Record<string, unknown>)[expect.error] as new (...args: never[]) => Error;
    assert.ok(error instanceof cls);
    if ("detail" in expect) assert.equal((error as errors.APIStatusError).detail, expect.detail);
    if ("limit" in expect) assert.equal((error as errors.ConcurrencyLimitError).limit, expect.limit);
    if ("current" in expect) assert.equal((error as errors.ConcurrencyLimitError).current, expect.current);
    return;
  }
  if (error !== null) throw error;
  if ("result" in expect) assertSubset(result, expect.result, "result");
  if ("result_keys" in expect) for (const key of expect.result_keys) assert.ok(key in result, `result has ${key}`);
  if ("event_ids" in expect)
    assert.deepEqual(
      itemsOf(result).map((e: Json) => e.id),
      expect.event_ids,
    );
  if ("has_more" in expect) assert.equal(result.has_more, expect.has_more);
  if ("first" in expect) {
    if (expect.first === null) assert.equal(itemsOf(result)[0], null);
    else assertSubset(itemsOf(result)[0], expect.first, "first");
  }
  if ("second_is_null" in expect) assert.equal(itemsOf(result)[1] === null, expect.second_is_null);
  if ("item_ids" in expect)
    assert.deepEqual(
      itemsOf(result).map((e: Json) => e.id),
      expect.item_ids,
    );
  if ("item_count" in expect) assert.equal(itemsOf(result).length, expect.item_count);
  if ("next_page_id" in expect) assert.equal(result.next_page_id, expect.next_page_id);
}

// ---------------------------------------------------------------------------- decision tables

function checkVerdict(verdict: lifecycle.Assessment, c: Json): void {
  assert.equal(verdict.outcome, c.outcome);
  if ("row" in c) assert.equal(verdict.row, c.row);
  if ("detail" in c) assert.equal(verdict.detail, c.detail);
  if ("phase" in c) assert.equal(verdict.phase, c.phase);
}

function assessmentOf(outcome: string, extra: Partial<lifecycle.Assessment> = {}): lifecycle.Assessment {
  return { outcome: outcome as Outcome, detail: null, phase: null, runtime: null, agentState: null, row: 0, ...extra };
}

// ---------------------------------------------------------------------------- retry

const FAILURE_KINDS: ReadonlySet<string> = new Set<FailureKind>(["connect", "connect_timeout", "pool_timeout", "write", "read_timeout", "disconnected"]);

function policyOf(document: Json, c: Json): RetryPolicy {
  const spec = { ...document.policy, ...(c.policy ?? {}) };
  return new RetryPolicy({
    maxRetries: spec.max_retries,
    initialDelayMs: spec.initial_delay * 1000,
    maxDelayMs: spec.max_delay * 1000,
    maxRetryAfterMs: spec.max_retry_after * 1000,
  });
}

function requestOf(spec: Json): ApiRequest {
  const request: ApiRequest = { method: spec.method, path: "/vector", idempotent: spec.idempotent };
  if (typeof spec.deadline === "number") request.deadline = spec.deadline * 1000;
  return request;
}

// ---------------------------------------------------------------------------- error answers

const ERROR_EXPECTATIONS: ReadonlySet<string> = new Set(["error", "status", "detail", "server_message", "retry_after", "limit", "current"]);

function checkErrorKind(error: unknown, name: string): void {
  assert.ok(error instanceof errors.OpenHandsError, `expected ${name}, got ${error}`);
  assert.equal(error.name, name);
  const cls = (errors as Record<string, unknown>)[name] as new (...args: never[]) => Error;
  assert.ok(cls, `${name} is an error class of this client`);
  assert.equal(Object.getPrototypeOf(error), cls.prototype, `exactly ${name}, not a subclass`);
}

// ---------------------------------------------------------------------------- the runner table

type Runner = (c: Json, document: Json) => void;

const RUNNERS: Record<string, Runner> = {
  "route.v0": (c) => checkRouteCase(V0_ROUTES, c),
  "route.v1": (c) => checkRouteCase(V1_ROUTES, c),
  "lifecycle.v0_row": (c) => {
    const agent = lifecycle.newestAgentState(c.events as V0Event[], c.marker);
    checkVerdict(lifecycle.classifyV0(c.info as ConversationInfo | null, agent), c);
  },
  "lifecycle.v1_row": (c) => {
    const verdict = lifecycle.classifyV1(c.conversation as AppConversation | null, {
      lastKnown: c.last_known ?? null,
      settled: c.settled ?? true,
      errorDetail: c.error_detail ?? null,
    });
    checkVerdict(verdict, c);
  },
  "lifecycle.v1_start_task": (c) => {
    const verdict = lifecycle.classifyStartTask(c.task as StartTask | null);
    if (c.outcome === null) assert.equal(verdict, null);
    else {
      assert.ok(verdict, `expected ${c.outcome}, got null (READY)`);
      checkVerdict(verdict, c);
    }
  },
  "lifecycle.restart_progress": (c) => {
    const agent = lifecycle.newestAgentState(c.events as V0Event[], c.marker);
    assert.equal(lifecycle.restartProgress(c.info, agent), c.expect);
  },
  "lifecycle.v0_page_state": (c) => {
    const state = lifecycle.v0PageState(c.events as V0Event[]);
    if (c.expect === null) assert.equal(state, null);
    else {
      assert.ok(state);
      assert.deepEqual(
        { state: state.state, event_id: state.eventId, inferred: state.inferred },
        { state: c.expect.state, event_id: c.expect.event_id, inferred: c.expect.inferred },
      );
    }
  },
  "lifecycle.with_answer": (c) => {
    const base = assessmentOf(c.outcome, { detail: "before", runtime: "running", agentState: c.agent_state ?? null });
    const judged = lifecycle.withAnswer(base, c.answered_with ?? null, c.has_answer, msOf(c.ended_for));
    assert.equal(judged.outcome, c.expect);
    if ("expect_detail" in c) assert.equal(judged.detail, c.expect_detail);
  },
  "lifecycle.refine_v1_finished": (c) => {
    const judged = lifecycle.refineV1Finished(assessmentOf(c.outcome, { row: 6 }), c.answered_with ?? null);
    assert.equal(judged.outcome, c.expect);
    if ("expect_detail" in c) assert.equal(judged.detail, c.expect_detail);
  },
  "lifecycle.events_prove_new_turn": (c) => {
    assert.equal(lifecycle.eventsProveNewTurn(c.events as V1Event[], c.status, c.before_message_id ?? null), c.expect);
  },
  "lifecycle.needs_last_known": (c) => assert.equal(lifecycle.needsLastKnown(c.conversation), c.expect),
  "lifecycle.last_known_execution_status": (c) => assert.equal(lifecycle.lastKnownExecutionStatus(c.events), c.expect),
  "lifecycle.needs_error_detail": (c) => {
    assert.equal(lifecycle.needsErrorDetail(assessmentOf(c.outcome), c.conversation, c.last_known ?? null), c.expect);
  },
  "lifecycle.error_detail": (c) => assert.equal(lifecycle.errorDetail(c.events), c.expect),
  "lifecycle.settle": (c) => {
    const spec = c.tracker;
    assert.ok(spec.kind === "plain" || spec.kind === "after_message", `unknown tracker kind ${spec.kind}`);
    const tracker =
      spec.kind === "after_message"
        ? new lifecycle.SettleTracker({
            acted: true,
            before: spec.before ?? null,
            beforeMessageId: spec.before_message_id ?? null,
            windowMs: spec.window * 1000,
          })
        : new lifecycle.SettleTracker();
    for (const [index, o] of c.observations.entries()) {
      if (o.confirm_before) tracker.confirm();
      const counts = tracker.observe(o.status, o.at * 1000);
      assert.equal(counts, o.expect, `observation ${index} counts`);
      assert.equal(tracker.wantsProof(o.status, counts), o.wants_proof, `observation ${index} wants proof`);
    }
  },
  "retry.after_response": (c, document) => {
    const response = responseOf(c.response);
    const delay = policyOf(document, c).delayAfterResponse(
      c.attempt,
      requestOf(c.request),
      response.status,
      { ...(c.response.headers ?? {}) },
      {
        concurrencyLimited: isConcurrencyLimit(response),
        rand: c.rand,
        now: c.now * 1000,
        wallNow: msOf(c.wall_now),
      },
    );
    assertSeconds(delay, c.expect);
  },
  "retry.after_failure": (c, document) => {
    assert.ok(FAILURE_KINDS.has(c.failure), `failure kind ${c.failure} is one of this client's`);
    const delay = policyOf(document, c).delayAfterFailure(c.attempt, requestOf(c.request), c.failure as FailureKind, c.rand, c.now * 1000);
    assertSeconds(delay, c.expect);
  },
  "retry.backoff": (c, document) => assertSeconds(policyOf(document, c).backoff(c.attempt, c.rand), c.expect),
  "retry.retry_after": (c) => assertSeconds(parseRetryAfter(c.value ?? undefined, msOf(c.wall_now)), c.expect),
  "retry.server_delay_hint": (c) => assertSeconds(serverDelayHint(c.headers, msOf(c.wall_now)), c.expect),
  "error.from_response": (c) => {
    const expect = c.expect;
    assertKnownKeys(expect, ERROR_EXPECTATIONS);
    const error = errorFromResponse({ method: c.request.method, path: c.request.path, idempotent: true }, responseOf(c.response));
    checkErrorKind(error, expect.error);
    assert.equal(error.statusCode, expect.status);
    assert.equal(error.detail, expect.detail);
    assert.equal(error.serverMessage, expect.server_message);
    if ("retry_after" in expect) {
      assert.ok(error instanceof errors.RateLimitError);
      assertSeconds(msOf(error.retryAfter), expect.retry_after, "retry_after");
    }
    if ("limit" in expect) assert.equal((error as errors.ConcurrencyLimitError).limit, expect.limit);
    if ("current" in expect) assert.equal((error as errors.ConcurrencyLimitError).current, expect.current);
  },
};

// ---------------------------------------------------------------------------- every case of every file

const FILES: ReadonlyArray<[string, Json]> = readdirSync(vectors)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => [name, load(name)]);

function kindOf(document: Json, c: Json): string | null {
  const kind = c.kind ?? document.kind;
  return typeof kind === "string" ? kind : null;
}

/** One case: its kind's runner, or a failure naming the file and the case. */
export function runVector(file: string, document: Json, c: Json): void {
  const kind = kindOf(document, c);
  const runner = kind === null ? undefined : RUNNERS[kind];
  if (runner === undefined) {
    assert.fail(
      `${file}: case ${JSON.stringify(c.name)} has kind ${JSON.stringify(kind)}, which the TypeScript runner does not know: ` +
        "add its runner to typescript/test/vectors.test.ts",
    );
  }
  runner(c, document);
}

describe("vectors", () => {
  for (const [file, document] of FILES) {
    describe(file, () => {
      for (const c of document.cases) test(`${kindOf(document, c)}: ${c.name}`, () => runVector(file, document, c));
    });
  }
});

describe("the vector files", () => {
  test("every file is run, including the retry and error files", () => {
    const names = FILES.map(([name]) => name);
    for (const name of ["v0_routes.json", "v1_routes.json", "lifecycle_v0.json", "lifecycle_v1.json", "lifecycle_rules.json", "retry.json", "errors.json"]) {
      assert.ok(names.includes(name), `${name} is in tests/vectors/`);
    }
  });
  test("every kind the README describes has a runner here", () => {
    const readme = readFileSync(path.join(vectors, "README.md"), "utf8");
    const described = new Set(
      [...readme.matchAll(/`((?:route|lifecycle|retry|error)\.[a-z0-9_]+)`/g)]
        .map((m) => m[1] as string)
        .filter((name) => !name.endsWith(".py") && !name.endsWith(".json")),
    );
    assert.deepEqual(
      [...described].filter((kind) => !(kind in RUNNERS)),
      [],
    );
  });
  test("an unknown kind fails, naming the file and the case", () => {
    assert.throws(
      () => runVector("made_up.json", { kind: "made.up" }, { name: "x" }),
      /made_up\.json: case "x" has kind "made\.up", which the TypeScript runner does not know/,
    );
  });
  test("an expectation key this runner does not check fails", () => {
    const c = {
      name: "x",
      request: { method: "GET", path: "/x" },
      response: { status: 404, content_type: "application/json", headers: {}, body: '{"detail": "Not Found"}' },
      expect: { error: "NotFoundError", status: 404, detail: "Not Found", server_message: "Not Found", made_up: 1 },
    };
    assert.throws(() => runVector("x.json", { kind: "error.from_response" }, c), /does not check: made_up/);
  });
  test("the answer grace is the client's", () => {
    const rules = load("lifecycle_rules.json");
    assert.equal(lifecycle.ANSWER_GRACE_MS, rules.answer_grace * 1000);
  });
  test("the retry file's policy is the client's default", () => {
    const policy = new RetryPolicy();
    assert.deepEqual(load("retry.json").policy, {
      max_retries: policy.maxRetries,
      initial_delay: policy.initialDelayMs / 1000,
      max_delay: policy.maxDelayMs / 1000,
      max_retry_after: policy.maxRetryAfterMs / 1000,
    });
  });
  test("the retry vectors name every failure kind of this client", () => {
    const named = new Set(
      load("retry.json")
        .cases.filter((c: Json) => c.kind === "retry.after_failure")
        .map((c: Json) => c.failure),
    );
    assert.deepEqual([...FAILURE_KINDS].sort(), [...named].sort());
  });
});
