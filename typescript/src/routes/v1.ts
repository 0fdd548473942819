/**
 * The V1 routes (``/api/v1/…``: OpenHands Cloud, openhands-ai ≥ 1.7), each described once, with
 * their quirks (CONTRACT §5): no GET by path (``GET ?ids=``, ≤ 99, aligned, null for unknown);
 * events of an unknown conversation answer an empty page; the sandbox delete reads a query
 * parameter. Also the V1 side of the unified view. No I/O.
 */

import { InvalidInputError, ProtocolError } from "../errors.js";
import { type ApiRequest, type Call, describe, maskSecrets, query, webUrl } from "../http.js";
import { sandboxRuntime } from "../lifecycle.js";
import { type AppConversation, blankConversation, type Conversation, type Event, type Outcome, type Page, type StartTask, type V1Event } from "../models.js";
import { expectBool, isObject, jsonCall, objectCall, probeCall, shapeError } from "../parsing.js";
import { validateId, validateLimit, validateMessage, validateRepository, validateTitle } from "../validation.js";

export const API = "/api/v1";
export const CONVERSATIONS = `${API}/app-conversations`;
export const MAX_BATCH_IDS = 99;
export const MAX_START_TASK_IDS = 100;
export const MAX_LIMIT = 100;

const UUID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

export const CREATE_OPTIONS: ReadonlySet<string> = new Set([
  "sandbox_id",
  "conversation_id",
  "system_message_suffix",
  "processors",
  "llm_model",
  "agent_profile_id",
  "suggested_task",
  "trigger",
  "pr_number",
  "parent_conversation_id",
  "agent_type",
  "public",
  "plugins",
  "secrets",
  "observability_span_name",
  "observability_tags",
  "observability_metadata",
]);

/** A conversation or start-task id as 32 lowercase hex (dashed input accepted). */
export function idHex(value: string, what = "conversation id"): string {
  if (typeof value !== "string" || !UUID_RE.test(value)) {
    throw new InvalidInputError(`The ${what} ${JSON.stringify(String(value).slice(0, 40))} is not a V1 id (a UUID, 32 hex digits)`);
  }
  return value.replace(/-/g, "").toLowerCase();
}

function conversationPath(conversationId: string, suffix = ""): string {
  return `${CONVERSATIONS}/${idHex(conversationId)}${suffix}`;
}

function sandboxPath(sandboxId: string, suffix = ""): string {
  return `${API}/sandboxes/${encodeURIComponent(validateId(sandboxId, "sandbox id"))}${suffix}`;
}

export function messageContent(text: string, imageUrls?: readonly string[] | null): Array<Record<string, unknown>> {
  const content: Array<Record<string, unknown>> = [{ type: "text", text: validateMessage(text) }];
  if (imageUrls?.length) content.push({ type: "image", image_urls: [...imageUrls] });
  return content;
}

export interface V1CreateFields {
  title?: string | null;
  repository?: string | null;
  branch?: string | null;
  gitProvider?: string | null;
  imageUrls?: string[] | null;
  conversationInstructions?: string | null;
  options?: Record<string, unknown>;
}

/** The AppConversationStartRequest body; ``run`` is sent explicitly (its default is false). */
export function createBody(prompt: string | null | undefined, fields: V1CreateFields = {}): Record<string, unknown> {
  const options = { ...(fields.options ?? {}) };
  const unknown = Object.keys(options)
    .filter((key) => !CREATE_OPTIONS.has(key) && options[key] !== undefined)
    .sort();
  if (unknown.length) throw new InvalidInputError(`Unknown V1 create option(s) ${unknown.join(", ")}; V1 accepts ${[...CREATE_OPTIONS].sort().join(", ")}`);
  if (prompt === null || prompt === undefined) {
    throw new InvalidInputError("A conversation needs an initial message: one without it holds compute and does nothing");
  }
  const body: Record<string, unknown> = {
    initial_message: { role: "user", content: messageContent(prompt, fields.imageUrls), run: true },
  };
  if (fields.title != null) body.title = validateTitle(fields.title);
  if (fields.repository != null) body.selected_repository = validateRepository(fields.repository);
  if (fields.branch != null) {
    if (!fields.branch.trim()) throw new InvalidInputError("The branch name is empty");
    body.selected_branch = fields.branch;
  }
  if (fields.gitProvider != null) body.git_provider = fields.gitProvider;
  // V1's nearest equivalent of V0's conversation_instructions.
  if (fields.conversationInstructions != null) body.system_message_suffix = fields.conversationInstructions;
  if (typeof options.conversation_id === "string") options.conversation_id = idHex(options.conversation_id);
  for (const [key, value] of Object.entries(options)) if (value !== undefined && value !== null) body[key] = value;
  return body;
}

function requireStartTask(request: ApiRequest, value: unknown): StartTask {
  if (!isObject(value) || typeof value.id !== "string" || typeof value.status !== "string") throw shapeError(request, "start task: id/status missing");
  return value as StartTask;
}

/** ``POST /api/v1/app-conversations`` → a start task. Not idempotent. */
export function startConversation(body: Record<string, unknown>): Call<StartTask> {
  const request: ApiRequest = { method: "POST", path: CONVERSATIONS, json: body, idempotent: false };
  return jsonCall(request, (value) => requireStartTask(request, value));
}

function aligned<T>(request: ApiRequest, count: number, check: (item: unknown) => T): Call<Array<T | null>> {
  return jsonCall(request, (value) => {
    if (!Array.isArray(value)) throw shapeError(request, "body: expected a list");
    if (value.length !== count) {
      throw new ProtocolError(`${describe(request)} answered ${value.length} items for ${count} ids`, { method: request.method, path: request.path });
    }
    return value.map((item) => (item === null ? null : check(item)));
  });
}

/** ``GET …/start-tasks?ids=…`` (≤ 100): one entry per id, null for unknown. */
export function getStartTasks(ids: readonly string[]): Call<Array<StartTask | null>> {
  if (!ids.length || ids.length > MAX_START_TASK_IDS) throw new InvalidInputError(`Ask for 1 to ${MAX_START_TASK_IDS} start tasks at a time`);
  const request: ApiRequest = {
    method: "GET",
    path: `${CONVERSATIONS}/start-tasks`,
    params: ids.map((id) => ["ids", idHex(id, "start-task id")] as const),
    idempotent: true,
  };
  return aligned(request, ids.length, (item) => requireStartTask(request, item));
}

function pageOf<T>(request: ApiRequest): Call<Page<T>> {
  return jsonCall(request, (value) => {
    if (!isObject(value) || !Array.isArray(value.items)) throw shapeError(request, "items: expected a list");
    return { items: value.items as T[], next_page_id: (value.next_page_id as string | null) ?? null };
  });
}

/**
 * One page of start tasks, newest first. ``conversationId`` matches the conversation a task
 * *made* (set at READY), not the id its request asked for.
 */
export function searchStartTasks(
  options: { conversationId?: string; createdAtGte?: string; pageId?: string | null; limit?: number } = {},
): Call<Page<StartTask>> {
  return pageOf({
    method: "GET",
    path: `${CONVERSATIONS}/start-tasks/search`,
    params: query({
      conversation_id__eq: options.conversationId === undefined ? undefined : idHex(options.conversationId),
      created_at__gte: options.createdAtGte,
      page_id: options.pageId,
      limit: validateLimit(options.limit ?? 100, 1, MAX_LIMIT),
    }),
    idempotent: true,
  });
}

/** ``GET /api/v1/app-conversations?ids=…`` (≤ 99): the only way to read one conversation. */
export function getConversations(ids: readonly string[]): Call<Array<AppConversation | null>> {
  if (!ids.length || ids.length > MAX_BATCH_IDS) throw new InvalidInputError(`Ask for 1 to ${MAX_BATCH_IDS} conversations per request`);
  const request: ApiRequest = { method: "GET", path: CONVERSATIONS, params: ids.map((id) => ["ids", idHex(id)] as const), idempotent: true };
  return aligned(request, ids.length, (item) => {
    if (!isObject(item) || typeof item.id !== "string") throw shapeError(request, "conversation: id missing");
    return item as AppConversation;
  });
}

export interface SearchFilters {
  title__contains?: string;
  created_at__gte?: string;
  created_at__lt?: string;
  updated_at__gte?: string;
  updated_at__lt?: string;
  sandbox_id__eq?: string;
  include_sub_conversations?: boolean;
}

export function searchConversations(options: { pageId?: string | null; limit?: number } & SearchFilters = {}): Call<Page<AppConversation>> {
  const { pageId, limit, ...filters } = options;
  return pageOf({
    method: "GET",
    path: `${CONVERSATIONS}/search`,
    params: query({ page_id: pageId, limit: validateLimit(limit ?? 100, 1, MAX_LIMIT), ...filters }),
    idempotent: true,
  });
}

export function countConversations(filters: SearchFilters = {}): Call<number> {
  const request: ApiRequest = { method: "GET", path: `${CONVERSATIONS}/count`, params: query({ ...filters }), idempotent: true };
  return jsonCall(request, (value) => {
    if (typeof value !== "number") throw shapeError(request, "body: expected an integer");
    return value;
  });
}

export function updateConversation(
  conversationId: string,
  fields: { title?: string; public?: boolean; selected_repository?: string; selected_branch?: string; git_provider?: string },
): Call<AppConversation> {
  const body: Record<string, unknown> = {};
  if (fields.title !== undefined) body.title = validateTitle(fields.title);
  if (fields.public !== undefined) body.public = fields.public;
  if (fields.selected_repository !== undefined) body.selected_repository = validateRepository(fields.selected_repository);
  if (fields.selected_branch !== undefined) body.selected_branch = fields.selected_branch;
  if (fields.git_provider !== undefined) body.git_provider = fields.git_provider;
  if (!Object.keys(body).length) throw new InvalidInputError("Nothing to update: give a title, public, or repository fields");
  return objectCall({ method: "PATCH", path: conversationPath(conversationId), json: body, idempotent: true }, ["id"]);
}

/** ``DELETE …/{id}`` (not on 1.6.0): also ends the sandbox. 404 when unknown. */
export function deleteConversation(conversationId: string): Call<boolean> {
  return expectBool({ method: "DELETE", path: conversationPath(conversationId), idempotent: true });
}

/** ``POST …/send-message``: 409 when the sandbox is not running (it never resumes on its own). */
export function sendMessage(conversationId: string, text: string, options: { run?: boolean; imageUrls?: string[] } = {}): Call<Record<string, unknown>> {
  const body = { role: "user", content: messageContent(text, options.imageUrls), run: options.run ?? true };
  return objectCall({ method: "POST", path: conversationPath(conversationId, "/send-message"), json: body, idempotent: false });
}

/** ``GET …/download``: the zip of ``meta.json`` + every event, as a stream. */
export function downloadRequest(conversationId: string): ApiRequest {
  return { method: "GET", path: conversationPath(conversationId, "/download"), idempotent: true, stream: true };
}

export function searchEvents(
  conversationId: string,
  options: { kind?: string; timestampGte?: string; timestampLt?: string; newestFirst?: boolean; pageId?: string | null; limit?: number } = {},
): Call<Page<V1Event>> {
  return pageOf({
    method: "GET",
    path: `${API}/conversation/${idHex(conversationId)}/events/search`,
    params: query({
      kind__eq: options.kind,
      timestamp__gte: options.timestampGte,
      timestamp__lt: options.timestampLt,
      sort_order: options.newestFirst ? "TIMESTAMP_DESC" : undefined,
      page_id: options.pageId,
      limit: validateLimit(options.limit ?? 100, 1, MAX_LIMIT),
    }),
    idempotent: true,
  });
}

export function countEvents(conversationId: string, options: { kind?: string; timestampGte?: string; timestampLt?: string } = {}): Call<number> {
  const request: ApiRequest = {
    method: "GET",
    path: `${API}/conversation/${idHex(conversationId)}/events/count`,
    params: query({ kind__eq: options.kind, timestamp__gte: options.timestampGte, timestamp__lt: options.timestampLt }),
    idempotent: true,
  };
  return jsonCall(request, (value) => {
    if (typeof value !== "number") throw shapeError(request, "body: expected an integer");
    return value;
  });
}

/** ``GET …/file?file_path=``: the text; ``""`` when missing or the sandbox is paused. */
export function readFile(conversationId: string, filePath: string): Call<string> {
  if (!filePath) throw new InvalidInputError("The file path is empty");
  const request: ApiRequest = { method: "GET", path: conversationPath(conversationId, "/file"), params: query({ file_path: filePath }), idempotent: true };
  return jsonCall(request, (value) => {
    if (typeof value === "string") return value;
    throw shapeError(request, "body: expected the file text");
  });
}

/** ``GET …/git/changes?path=`` (path required): word statuses (``ADDED`` …). */
export function gitChanges(conversationId: string, path: string, ref?: string): Call<Array<{ status: string; path: string }>> {
  if (!path) throw new InvalidInputError("The repository path is empty");
  const request: ApiRequest = { method: "GET", path: conversationPath(conversationId, "/git/changes"), params: query({ path, ref }), idempotent: true };
  return jsonCall(request, (value) => {
    if (!Array.isArray(value) || !value.every((item) => isObject(item) && typeof item.status === "string" && typeof item.path === "string")) {
      throw shapeError(request, "body: expected a list of changes");
    }
    return value as Array<{ status: string; path: string }>;
  });
}

export function gitDiff(conversationId: string, path: string, ref?: string): Call<Record<string, unknown>> {
  if (!path) throw new InvalidInputError("The path is empty");
  return objectCall({ method: "GET", path: conversationPath(conversationId, "/git/diff"), params: query({ path, ref }), idempotent: true });
}

export function searchSandboxes(options: { pageId?: string | null; limit?: number } = {}): Call<Page<Record<string, unknown>>> {
  return pageOf({
    method: "GET",
    path: `${API}/sandboxes/search`,
    params: query({ page_id: options.pageId, limit: validateLimit(options.limit ?? 100, 1, MAX_LIMIT) }),
    idempotent: true,
  });
}

/** ``GET /api/v1/sandboxes?id=…`` (≤ 100): one entry per id, null for unknown. */
export function getSandboxes(ids: readonly string[]): Call<Array<Record<string, unknown> | null>> {
  if (!ids.length || ids.length > 100) throw new InvalidInputError("Ask for 1 to 100 sandboxes at a time");
  const request: ApiRequest = {
    method: "GET",
    path: `${API}/sandboxes`,
    params: ids.map((id) => ["id", validateId(id, "sandbox id")] as const),
    idempotent: true,
  };
  return aligned(request, ids.length, (item) => {
    if (!isObject(item) || typeof item.id !== "string") throw shapeError(request, "sandbox: id missing");
    return item;
  });
}

export function pauseSandbox(sandboxId: string): Call<boolean> {
  return expectBool({ method: "POST", path: sandboxPath(sandboxId, "/pause"), idempotent: true });
}

export function resumeSandbox(sandboxId: string): Call<boolean> {
  return expectBool({ method: "POST", path: sandboxPath(sandboxId, "/resume"), idempotent: true });
}

/** The handler reads the ``sandbox_id`` query parameter and ignores the path: both are sent. */
export function deleteSandbox(sandboxId: string): Call<boolean> {
  return expectBool({ method: "DELETE", path: sandboxPath(sandboxId), params: [["sandbox_id", sandboxId]], idempotent: true });
}

export function usersMe(): Call<Record<string, unknown>> {
  return objectCall({ method: "GET", path: `${API}/users/me`, params: [["expose_secrets", "false"]], idempotent: true });
}

/** ``GET /api/v1/app-conversations/search?limit=1``: does this server speak V1? */
export function probe(): Call<boolean> {
  return probeCall(`${CONVERSATIONS}/search`, "items");
}

// ---------------------------------------------------------------------------- unified view

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .filter((part) => isObject(part) && part.text)
      .map((part) => String((part as Record<string, unknown>).text))
      .join("\n");
  }
  return "";
}

/**
 * The agent's answer in the current turn: [text, "finish"] for a FinishAction, [text, "message"]
 * for a plain agent MessageEvent, [null, null] when the turn has none among ``events``. Only
 * events after the newest user message count.
 */
export function finalAnswer(events: readonly V1Event[]): [string | null, "finish" | "message" | null] {
  const ordered = [...events].sort((a, b) => (b.timestamp ?? "").localeCompare(a.timestamp ?? ""));
  for (const event of ordered) {
    if (event.kind === "ActionEvent") {
      const action = isObject(event.action) ? event.action : {};
      if (action.kind === "FinishAction" && typeof action.message === "string") return [action.message, "finish"];
    }
    if (event.kind === "MessageEvent") {
      if (event.source === "user") return [null, null];
      const message = isObject(event.llm_message) ? event.llm_message : {};
      const text = contentText(message.content);
      if (event.source === "agent" && text) return [text, "message"];
    }
  }
  return [null, null];
}

export function eventText(event: V1Event): string | null {
  if (event.kind === "MessageEvent") return contentText(isObject(event.llm_message) ? event.llm_message.content : null) || null;
  if (event.kind === "ActionEvent") {
    const action = isObject(event.action) ? event.action : {};
    for (const key of ["message", "command", "thought", "path"]) {
      const value = action[key];
      if (typeof value === "string" && value) return value;
    }
    return contentText(event.thought) || null;
  }
  if (event.kind === "ObservationEvent") return contentText(isObject(event.observation) ? event.observation.content : null) || null;
  if (event.kind === "AgentErrorEvent") return typeof event.error === "string" && event.error ? event.error : null;
  if (event.kind === "ConversationErrorEvent" || event.kind === "ServerErrorEvent") {
    const value = event.detail || event.code;
    return typeof value === "string" && value ? value : null;
  }
  if (event.kind === "ConversationStateUpdateEvent" && event.key === "execution_status") return String(event.value);
  return null;
}

export function toEvent(event: V1Event): Event {
  return {
    id: String(event.id),
    seq: null,
    timestamp: event.timestamp ?? null,
    source: event.source ?? null,
    kind: event.kind,
    text: eventText(event),
    raw: maskSecrets(event),
  };
}

export function toConversation(
  conversation: AppConversation,
  baseUrl: string,
  extra: { startTaskId?: string | null; outcome?: Outcome | null; outcomeDetail?: string | null; agentState?: string | null } = {},
): Conversation {
  const metrics = conversation.metrics ?? {};
  const cost = metrics.accumulated_cost;
  return {
    ...blankConversation(conversation.id, "v1", webUrl(baseUrl, conversation.id)),
    title: conversation.title ?? null,
    startTaskId: extra.startTaskId ?? null,
    runtime: sandboxRuntime(conversation.sandbox_status),
    agentState: extra.agentState ?? conversation.execution_status ?? null,
    outcome: extra.outcome ?? null,
    outcomeDetail: extra.outcomeDetail ?? null,
    repository: conversation.selected_repository ?? null,
    branch: conversation.selected_branch ?? null,
    gitProvider: conversation.git_provider ?? null,
    createdAt: conversation.created_at ?? null,
    updatedAt: conversation.updated_at ?? null,
    trigger: conversation.trigger ?? null,
    prNumbers: [...(conversation.pr_number ?? [])],
    llmModel: conversation.llm_model ?? null,
    cost: typeof cost === "number" ? cost : null,
    sandboxId: conversation.sandbox_id ?? null,
    raw: maskSecrets(conversation),
  };
}
