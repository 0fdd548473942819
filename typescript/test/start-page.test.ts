/** A V1 start task's snapshot links the page of the conversation it starts, as in Python. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { pageId } from "../src/ops/v1.js";

const TASK = { id: "task0123456789abcdef0123456789ab", status: "WORKING" };

test("the page is the chosen conversation's while the task starts, the server's once READY", () => {
  assert.equal(pageId({ ...TASK, request: { conversation_id: "c0ffee" } }), "c0ffee");
  assert.equal(pageId({ ...TASK, status: "READY", app_conversation_id: "beef", request: { conversation_id: "c0ffee" } }), "beef");
});

test("without a known conversation id there is no page to name", () => {
  assert.equal(pageId({ ...TASK, request: {} }), null);
  assert.equal(pageId({ ...TASK, request: { conversation_id: 42 } }), null);
  assert.equal(pageId(null), null);
});
