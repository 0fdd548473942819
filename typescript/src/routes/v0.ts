/**
 * The V0 routes (``/api/conversations…``, openhands-ai ≤ 1.6.0), each described once, with
 * their quirks (CONTRACT §2): GET of an unknown id answers ``200 null``; DELETE of an unknown
 * id answers ``false``; create and PATCH forbid unknown keys; events take limit 0–100.
 * Also the V0 side of the unified view (final message, Conversation, Event). No I/O.
 */

import { InvalidInputError } from "../errors.js";
import { type ApiRequest, type Call, type JsonDocument, maskSecrets, query, webUrl } from "../http.js";
import { type Assessment, v0Runtime } from "../lifecycle.js";
import {
  blankConversation,
  type Conversation,
  type ConversationInfo,
  type ConversationPage,
  type ConversationResponse,
  type Event,
  type V0Event,
  type V0EventPage,
} from "../models.js";
import { expectBool, isObject, jsonCall, objectCall, probeCall, shapeError } from "../parsing.js";
import { validateId, validateLimit, validateMessage, validateRepository, validateTitle } from "../validation.js";

export const BASE = "/api/conversations";
export const MAX_EVENTS_LIMIT = 100;
export const MAX_LIST_LIMIT = 100;

export const CREATE_FIELDS: ReadonlySet<string> = new Set([
  "initial_user_msg",
  "repository",
  "selected_branch",
  "git_provider",
  "image_urls",
  "conversation_instructions",
  "replay_json",
  "suggested_task",
  "create_microagent",
  "mcp_config",
  "conversation_id",
]);

export function conversationPath(conversationId: string, suffix = ""): string {
  return `${BASE}/${encodeURIComponent(validateId(conversationId))}${suffix}`;
}

export interface V0CreateFields {
  repository?: string | null;
  selected_branch?: string | null;
  git_provider?: string | null;
  image_urls?: string[] | null;
  conversation_instructions?: string | null;
  [key: string]: unknown;
}

/** The InitSessionRequest body (CONTRACT §3.3); unknown keys are refused here, not by a 422. */
export function createBody(initialUserMsg: string | null | undefined, fields: V0CreateFields = {}): Record<string, unknown> {
  const unknown = Object.keys(fields)
    .filter((key) => !CREATE_FIELDS.has(key) && fields[key] !== undefined)
    .sort();
  if (unknown.length) throw new InvalidInputError(`Unknown V0 create option(s) ${unknown.join(", ")}; V0 accepts ${[...CREATE_FIELDS].join(", ")}`);
  if (initialUserMsg === null || initialUserMsg === undefined) {
    throw new InvalidInputError("A conversation needs an initial message: one without it holds compute and does nothing");
  }
  const body: Record<string, unknown> = { initial_user_msg: validateMessage(initialUserMsg, "initial message") };
  if (fields.repository != null) body.repository = validateRepository(fields.repository);
  if (fields.selected_branch != null) {
    if (!fields.selected_branch.trim()) throw new InvalidInputError("The branch name is empty");
    body.selected_branch = fields.selected_branch;
  }
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null && !(key in body)) body[key] = value;
  }
  return body;
}

function infoOrNull(request: ApiRequest) {
  return (value: unknown): ConversationInfo | null => {
    if (value === null) return null;
    if (!isObject(value) || typeof value.conversation_id !== "string") throw shapeError(request, "conversation_id: missing");
    return value as ConversationInfo;
  };
}

/** ``POST /api/conversations``: not idempotent — a resend creates a second conversation. */
export function createConversation(body: Record<string, unknown>): Call<ConversationResponse> {
  return objectCall({ method: "POST", path: BASE, json: body, idempotent: false }, ["conversation_id"]);
}

/** ``GET /api/conversations/{id}``; null when the server answers ``null`` (unknown id). */
export function getConversation(conversationId: string): Call<ConversationInfo | null> {
  const request: ApiRequest = { method: "GET", path: conversationPath(conversationId), idempotent: true };
  return jsonCall(request, infoOrNull(request));
}

/** One page of ``GET /api/conversations``: only ``next_page_id === null`` means the end. */
export function listConversations(
  options: { pageId?: string | null; limit?: number; selectedRepository?: string; conversationTrigger?: string; includeSubConversations?: boolean } = {},
): Call<ConversationPage> {
  const request: ApiRequest = {
    method: "GET",
    path: BASE,
    params: query({
      page_id: options.pageId,
      limit: validateLimit(options.limit ?? 20, 1, MAX_LIST_LIMIT),
      selected_repository: options.selectedRepository,
      conversation_trigger: options.conversationTrigger,
      include_sub_conversations: options.includeSubConversations,
    }),
    idempotent: true,
  };
  return jsonCall(request, (value) => {
    if (!isObject(value) || !Array.isArray(value.results)) throw shapeError(request, "results: expected a list");
    return { results: value.results as ConversationInfo[], next_page_id: (value.next_page_id as string | null) ?? null };
  });
}

export function updateTitle(conversationId: string, title: string): Call<boolean> {
  return expectBool({ method: "PATCH", path: conversationPath(conversationId), json: { title: validateTitle(title) }, idempotent: true });
}

/** ``DELETE``: ``true``, or ``false`` for an unknown id. */
export function deleteConversation(conversationId: string): Call<boolean> {
  return expectBool({ method: "DELETE", path: conversationPath(conversationId), idempotent: true });
}

/** ``POST …/start``: the body is required (``{}`` is fine). */
export function startConversation(conversationId: string, providersSet: string[] | null = null): Call<ConversationResponse> {
  const json = providersSet === null ? {} : { providers_set: providersSet };
  return objectCall({ method: "POST", path: conversationPath(conversationId, "/start"), json, idempotent: true });
}

/** ``POST …/stop``: answers with the status *before* stopping. */
export function stopConversation(conversationId: string): Call<ConversationResponse> {
  return objectCall({ method: "POST", path: conversationPath(conversationId, "/stop"), idempotent: true });
}

export function getEvents(
  conversationId: string,
  options: { startId?: number; endId?: number | null; reverse?: boolean; limit?: number } = {},
): Call<V0EventPage> {
  const request: ApiRequest = {
    method: "GET",
    path: conversationPath(conversationId, "/events"),
    params: query({
      start_id: options.startId ?? 0,
      end_id: options.endId,
      reverse: options.reverse ? true : undefined,
      limit: validateLimit(options.limit ?? 20, 0, MAX_EVENTS_LIMIT),
    }),
    idempotent: true,
  };
  return jsonCall(request, (value) => {
    if (!isObject(value) || !Array.isArray(value.events)) throw shapeError(request, "events: expected a list");
    return { events: value.events as V0Event[], has_more: Boolean(value.has_more) };
  });
}

function trajectoryRequest(conversationId: string, stream: boolean): ApiRequest {
  return { method: "GET", path: conversationPath(conversationId, "/trajectory"), idempotent: true, stream, bulk: true };
}

export function getTrajectory(conversationId: string): Call<V0Event[]> {
  const request = trajectoryRequest(conversationId, false);
  return jsonCall(request, (value) => {
    if (!isObject(value) || !Array.isArray(value.trajectory)) {
      const error = isObject(value) && typeof value.error === "string" ? value.error : "trajectory: expected a list";
      throw shapeError(request, error);
    }
    return value.trajectory as V0Event[];
  });
}

export const TRAJECTORY: JsonDocument = { opening: /^\s*\{\s*"trajectory"\s*:\s*\[/, closing: /\]\s*\}\s*$/ };

/** The trajectory as a stream (``downloadHistory``): the server's ``{"trajectory": [...]}``. */
export function trajectoryStream(conversationId: string): ApiRequest {
  return { ...trajectoryRequest(conversationId, true), document: TRAJECTORY };
}

/** ``POST …/message`` (needs a RUNNING runtime). Not idempotent. */
export function sendMessage(conversationId: string, message: string): Call<boolean> {
  return expectBool({
    method: "POST",
    path: conversationPath(conversationId, "/message"),
    json: { message: validateMessage(message) },
    idempotent: false,
  });
}

// ---------------------------------------------------------------------------- workspace (attach routes)

function listOf<T>(request: ApiRequest, check: (item: unknown) => boolean, what: string): Call<T[]> {
  return jsonCall(request, (value) => {
    if (!Array.isArray(value) || !value.every(check)) throw shapeError(request, `body: expected a list of ${what}`);
    return value as T[];
  });
}

export interface GitChange {
  status: string;
  path: string;
  [key: string]: unknown;
}

/** ``GET …/list-files``: workspace paths, directories end with ``/``. */
export function listFiles(conversationId: string, path?: string): Call<string[]> {
  return listOf(
    { method: "GET", path: conversationPath(conversationId, "/list-files"), params: query({ path }), idempotent: true },
    (item) => typeof item === "string",
    "paths",
  );
}

/** ``GET …/select-file?file=``: the text of a workspace file. */
export function readFile(conversationId: string, file: string): Call<string> {
  if (!file) throw new InvalidInputError("The file path is empty");
  const request: ApiRequest = { method: "GET", path: conversationPath(conversationId, "/select-file"), params: query({ file }), idempotent: true };
  return jsonCall(request, (value) => {
    if (isObject(value) && typeof value.code === "string") return value.code;
    throw shapeError(request, "code: missing (no file text)");
  });
}

export function gitChanges(conversationId: string): Call<GitChange[]> {
  return listOf(
    { method: "GET", path: conversationPath(conversationId, "/git/changes"), idempotent: true },
    (item) => isObject(item) && typeof item.status === "string" && typeof item.path === "string",
    "changes",
  );
}

export function gitDiff(conversationId: string, path: string): Call<{ modified?: string | null; original?: string | null }> {
  if (!path) throw new InvalidInputError("The path of the file to diff is empty");
  return objectCall({ method: "GET", path: conversationPath(conversationId, "/git/diff"), params: query({ path }), idempotent: true });
}

/** ``GET /api/conversations?limit=1``: does this server speak V0? (CONTRACT §1.6) */
export function probe(): Call<boolean> {
  return probeCall(BASE, "results");
}

// ---------------------------------------------------------------------------- unified view

function text(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

/** The agent's final text: the newest finish's ``final_thought``, else the newest agent message. */
export function finalMessage(events: readonly V0Event[]): string | null {
  const newestFirst = [...events].sort((a, b) => b.id - a.id);
  for (const event of newestFirst) {
    if (event.action === "finish") {
      const found = text(event.args?.final_thought) ?? text(event.args?.message);
      if (found) return found;
    }
    if (event.action === "message" && event.source === "agent") {
      const found = text(event.args?.content);
      if (found) return found;
    }
  }
  return null;
}

export function accumulatedCost(events: readonly V0Event[]): number | null {
  const newestFirst = [...events].sort((a, b) => b.id - a.id);
  for (const event of newestFirst) {
    const cost = event.llm_metrics?.accumulated_cost;
    if (event.llm_metrics) return typeof cost === "number" ? cost : null;
  }
  return null;
}

export function eventText(event: V0Event): string | null {
  let found: string | null = null;
  if (event.action === "finish") found = text(event.args?.final_thought);
  else if (event.action === "message") found = text(event.args?.content);
  else if (event.action === "run") found = text(event.args?.command);
  else if (event.observation === "agent_state_changed") found = text(event.extras?.agent_state);
  else if (event.observation !== undefined) found = text(event.content);
  return found ?? text(event.message);
}

export function toEvent(event: V0Event): Event {
  const kind = event.action !== undefined ? `action:${event.action}` : event.observation !== undefined ? `observation:${event.observation}` : "unknown";
  return {
    id: String(event.id),
    seq: event.id,
    timestamp: event.timestamp ?? null,
    source: event.source ?? null,
    kind,
    text: eventText(event),
    raw: maskSecrets(event),
  };
}

export function toConversation(info: ConversationInfo, baseUrl: string, assessment: Assessment | null = null, events: readonly V0Event[] = []): Conversation {
  return {
    ...blankConversation(info.conversation_id, info.conversation_version === "V1" ? "v1" : "v0", webUrl(baseUrl, info.conversation_id)),
    title: info.title ?? null,
    runtime: v0Runtime(info),
    agentState: assessment?.agentState ?? null,
    outcome: assessment?.outcome ?? null,
    outcomeDetail: assessment?.detail ?? null,
    repository: info.selected_repository ?? null,
    branch: info.selected_branch ?? null,
    gitProvider: info.git_provider ?? null,
    createdAt: info.created_at ?? null,
    updatedAt: info.last_updated_at ?? null,
    trigger: info.trigger ?? null,
    prNumbers: [...(info.pr_number ?? [])],
    llmModel: info.llm_model ?? null,
    cost: accumulatedCost(events),
    sandboxId: info.sandbox_id ?? null,
    raw: maskSecrets(info),
  };
}
