/**
 * The shared JSON vectors (tests/vectors/ at the repository root), the same cases the Python
 * tests run: each route builds the same request and reads the same captured answers into the
 * same results and errors, and the lifecycle tables and rules decide the same outcomes.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as errors from "../src/errors.js";
import type { ApiResponse, Call } from "../src/http.js";
import * as lifecycle from "../src/lifecycle.js";
import type { AppConversation, ConversationInfo, Outcome, StartTask, V0Event, V1Event } from "../src/models.js";
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
  const headers: Record<string, string> = { ...(wire.headers ?? {}) };
  if (wire.content_type) headers["content-type"] = wire.content_type;
  return { status: wire.status, headers, text: wire.body ?? "", receivedAt: Date.now(), secrets: [] };
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
};

const V1_ROUTES: RouteTable = {
  start_conversation: (a) => v1.startConversation(a.body),
  get_start_tasks: (a) => v1.getStartTasks(a.ids),
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
  search_sandboxes: () => v1.searchSandboxes(),
  pause_sandbox: (a) => v1.pauseSandbox(a.sandbox_id),
  resume_sandbox: (a) => v1.resumeSandbox(a.sandbox_id),
  delete_sandbox: (a) => v1.deleteSandbox(a.sandbox_id),
  users_me: () => v1.usersMe(),
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
    assert.equal(request.idempotent, c.request.idempotent);
  }
  if (!c.response) return;
  const expect = c.expect ?? {};
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
  if ("first" in expect) assertSubset(itemsOf(result)[0], expect.first, "first");
  if ("second_is_null" in expect) assert.equal(itemsOf(result)[1] === null, expect.second_is_null);
  if ("item_ids" in expect)
    assert.deepEqual(
      itemsOf(result).map((e: Json) => e.id),
      expect.item_ids,
    );
  if ("item_count" in expect) assert.equal(itemsOf(result).length, expect.item_count);
  if ("next_page_id" in expect) assert.equal(result.next_page_id, expect.next_page_id);
}

describe("route vectors", () => {
  for (const [file, table] of [
    ["v0_routes.json", V0_ROUTES],
    ["v1_routes.json", V1_ROUTES],
  ] as const) {
    for (const c of load(file).cases) test(`${file}: ${c.name}`, () => checkRouteCase(table, c));
  }
});

describe("V0 decision table vectors", () => {
  for (const c of load("lifecycle_v0.json").cases) {
    test(`row ${c.row}: ${c.name}`, () => {
      const agent = lifecycle.newestAgentState(c.events as V0Event[], c.marker);
      const assessment = lifecycle.classifyV0(c.info as ConversationInfo | null, agent);
      assert.equal(assessment.outcome, c.outcome);
      assert.equal(assessment.row, c.row);
      if ("detail" in c) assert.equal(assessment.detail, c.detail);
      if ("phase" in c) assert.equal(assessment.phase, c.phase);
    });
  }
});

describe("V1 decision table vectors", () => {
  const file = load("lifecycle_v1.json");
  for (const c of file.cases) {
    test(`row ${c.row}: ${c.name}`, () => {
      const assessment = lifecycle.classifyV1(c.conversation as AppConversation | null, {
        lastKnown: c.last_known ?? null,
        settled: c.settled ?? true,
        errorDetail: c.error_detail ?? null,
      });
      assert.equal(assessment.outcome, c.outcome);
      assert.equal(assessment.row, c.row);
      if ("detail" in c) assert.equal(assessment.detail, c.detail);
      if ("phase" in c) assert.equal(assessment.phase, c.phase);
    });
  }
  for (const c of file.start_task_cases ?? []) {
    test(`start task: ${c.name}`, () => {
      const verdict = lifecycle.classifyStartTask(c.task as StartTask | null);
      assert.equal(verdict === null ? null : verdict.outcome, c.outcome);
      if ("detail" in c && verdict !== null) assert.equal(verdict.detail, c.detail);
    });
  }
});

describe("lifecycle rule vectors", () => {
  const rules = load("lifecycle_rules.json");
  test("the answer grace is the same", () => assert.equal(lifecycle.ANSWER_GRACE_MS, rules.answer_grace * 1000));
  for (const c of rules.restart_progress) {
    test(`restart_progress: ${c.name}`, () => {
      const agent = lifecycle.newestAgentState(c.events as V0Event[], c.marker);
      assert.equal(lifecycle.restartProgress(c.info, agent), c.expect);
    });
  }
  for (const c of rules.with_answer) {
    test(`with_answer: ${c.name}`, () => {
      const base: lifecycle.Assessment = {
        outcome: c.outcome as Outcome,
        detail: null,
        phase: null,
        runtime: "running",
        agentState: c.agent_state ?? null,
        row: 0,
      };
      const refined = lifecycle.withAnswer(
        base,
        c.answered_with ?? null,
        c.has_answer,
        c.ended_for === null || c.ended_for === undefined ? null : c.ended_for * 1000,
      );
      assert.equal(refined.outcome, c.expect);
      if ("expect_detail" in c) assert.equal(refined.detail, c.expect_detail);
    });
  }
  for (const c of rules.events_prove_new_turn) {
    test(`events_prove_new_turn: ${c.name}`, () => {
      assert.equal(lifecycle.eventsProveNewTurn(c.events as V1Event[], c.status, c.before_message_id ?? null), c.expect);
    });
  }
  for (const c of rules.needs_last_known) {
    test(`needs_last_known: ${c.name}`, () => assert.equal(lifecycle.needsLastKnown(c.conversation), c.expect));
  }
  for (const c of rules.last_known_execution_status) {
    test(`last_known_execution_status: ${c.name}`, () => assert.equal(lifecycle.lastKnownExecutionStatus(c.events), c.expect));
  }
  for (const c of rules.needs_error_detail) {
    test(`needs_error_detail: ${c.name}`, () => {
      const base: lifecycle.Assessment = { outcome: c.outcome as Outcome, detail: null, phase: null, runtime: null, agentState: null, row: 0 };
      assert.equal(lifecycle.needsErrorDetail(base, c.conversation, c.last_known ?? null), c.expect);
    });
  }
  for (const c of rules.error_detail) {
    test(`error_detail: ${c.name}`, () => assert.equal(lifecycle.errorDetail(c.events), c.expect));
  }
  for (const c of rules.settle) {
    test(`settle: ${c.name}`, () => {
      const tracker =
        c.tracker.kind === "after_message"
          ? new lifecycle.SettleTracker({
              acted: true,
              before: c.tracker.before ?? null,
              beforeMessageId: c.tracker.before_message_id ?? null,
              windowMs: (c.tracker.window ?? 10) * 1000,
            })
          : new lifecycle.SettleTracker();
      for (const [index, o] of c.observations.entries()) {
        if (o.confirm_before) tracker.confirm();
        const counts = tracker.observe(o.status, o.at * 1000);
        assert.equal(counts, o.expect, `observation ${index} counts`);
        if ("wants_proof" in o) assert.equal(tracker.wantsProof(o.status, counts), o.wants_proof, `observation ${index} wants proof`);
      }
    });
  }
  for (const c of rules.v0_page_state) {
    test(`v0_page_state: ${c.name}`, () => {
      const state = lifecycle.v0PageState(c.events as V0Event[]);
      if (c.expect === null) assert.equal(state, null);
      else {
        assert.ok(state);
        assert.equal(state.state, c.expect.state);
        assert.equal(state.eventId, c.expect.event_id);
        assert.equal(state.inferred, c.expect.inferred);
      }
    });
  }
});
