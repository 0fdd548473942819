/**
 * Wire shapes per generation (tolerant: unknown fields and enum values are kept as they come)
 * and the unified view over both: Conversation, ConversationResult, Event, SentMessage.
 */

export type Outcome = "in_progress" | "finished" | "waiting_for_user" | "blocked" | "failed" | "stopped" | "gone";

export const TERMINAL_OUTCOMES: ReadonlySet<Outcome> = new Set(["finished", "waiting_for_user", "blocked", "failed", "stopped", "gone"]);

export function isTerminal(outcome: Outcome): boolean {
  return TERMINAL_OUTCOMES.has(outcome);
}

/** The turn ended well: the agent finished, or answered and waits for a reply. */
export function succeeded(outcome: Outcome): boolean {
  return outcome === "finished" || outcome === "waiting_for_user";
}

// ---------------------------------------------------------------------------- V0 wire

export interface ConversationInfo {
  conversation_id: string;
  title?: string | null;
  last_updated_at?: string | null;
  status?: string | null;
  runtime_status?: string | null;
  selected_repository?: string | null;
  selected_branch?: string | null;
  git_provider?: string | null;
  trigger?: string | null;
  url?: string | null;
  session_api_key?: string | null;
  created_at?: string | null;
  pr_number?: number[];
  conversation_version?: string | null;
  sub_conversation_ids?: string[];
  sandbox_id?: string | null;
  llm_model?: string | null;
  [key: string]: unknown;
}

export interface V0Event {
  id: number;
  timestamp?: string;
  source?: string;
  message?: string;
  action?: string;
  observation?: string;
  args?: Record<string, unknown>;
  content?: string;
  extras?: Record<string, unknown>;
  llm_metrics?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface V0EventPage {
  events: V0Event[];
  has_more: boolean;
}

export interface ConversationPage {
  results: ConversationInfo[];
  next_page_id: string | null;
}

export interface ConversationResponse {
  status: string;
  conversation_id: string;
  message?: string | null;
  conversation_status?: string | null;
  [key: string]: unknown;
}

// ---------------------------------------------------------------------------- V1 wire

export interface StartTask {
  id: string;
  status: string;
  detail?: string | null;
  app_conversation_id?: string | null;
  sandbox_id?: string | null;
  agent_server_url?: string | null;
  request?: Record<string, unknown> | null;
  created_at?: string | null;
  updated_at?: string | null;
  [key: string]: unknown;
}

export interface AppConversation {
  id: string;
  sandbox_id?: string | null;
  title?: string | null;
  selected_repository?: string | null;
  selected_branch?: string | null;
  git_provider?: string | null;
  trigger?: string | null;
  pr_number?: number[];
  llm_model?: string | null;
  metrics?: Record<string, unknown> | null;
  parent_conversation_id?: string | null;
  sub_conversation_ids?: string[];
  created_at?: string | null;
  updated_at?: string | null;
  sandbox_status?: string | null;
  execution_status?: string | null;
  conversation_url?: string | null;
  session_api_key?: string | null;
  [key: string]: unknown;
}

export interface V1Event {
  id: string;
  kind: string;
  timestamp?: string;
  source?: string;
  [key: string]: unknown;
}

export interface Page<T> {
  items: T[];
  next_page_id: string | null;
}

// ---------------------------------------------------------------------------- unified

export type ApiVersion = "v0" | "v1";

/** One conversation in the unified vocabulary (CONTRACT §7.2). */
export interface Conversation {
  id: string;
  /** The same as ``id``: the name the seed scripts use. */
  conversation_id: string;
  apiVersion: ApiVersion;
  webUrl: string;
  title: string | null;
  startTaskId: string | null;
  /** starting | running | stopped | gone | error */
  runtime: string | null;
  agentState: string | null;
  outcome: Outcome | null;
  outcomeDetail: string | null;
  repository: string | null;
  branch: string | null;
  gitProvider: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  trigger: string | null;
  prNumbers: number[];
  llmModel: string | null;
  cost: number | null;
  sandboxId: string | null;
  /** The wire object, secrets masked. */
  raw: Record<string, unknown>;
}

/** What a finished wait (or ``result()``) tells: the outcome and what the agent produced. */
export interface ConversationResult {
  conversationId: string;
  /** The same as ``conversationId`` (the seed scripts' name). */
  conversation_id: string;
  outcome: Outcome;
  /** The same as ``outcome`` (the seed scripts read ``final.status``). */
  status: Outcome;
  detail: string | null;
  finalMessage: string | null;
  prNumbers: number[];
  webUrl: string;
  /** The same as ``webUrl`` (the seed scripts read ``final.url``). */
  url: string;
  conversation: Conversation;
}

/** Receipt of ``sendMessage``: pass it to ``wait({ after })`` to wait for this turn. */
export interface SentMessage {
  conversationId: string;
  /** V0: the newest event id before the message. */
  marker: number | null;
  /** V1: the execution status just before, and the newest user message event then. */
  executionStatus: string | null;
  previousMessageId: string | null;
}

/** One event in the unified vocabulary. */
export interface Event {
  id: string;
  /** V0's integer id; null on V1. */
  seq: number | null;
  timestamp: string | null;
  source: string | null;
  kind: string;
  text: string | null;
  raw: Record<string, unknown>;
}

export function makeResult(conversation: Conversation, outcome: Outcome, detail: string | null, finalMessage: string | null): ConversationResult {
  return {
    conversationId: conversation.id,
    conversation_id: conversation.id,
    outcome,
    status: outcome,
    detail,
    finalMessage,
    prNumbers: conversation.prNumbers,
    webUrl: conversation.webUrl,
    url: conversation.webUrl,
    conversation,
  };
}

export function blankConversation(id: string, apiVersion: ApiVersion, webUrl: string): Conversation {
  return {
    id,
    conversation_id: id,
    apiVersion,
    webUrl,
    title: null,
    startTaskId: null,
    runtime: null,
    agentState: null,
    outcome: null,
    outcomeDetail: null,
    repository: null,
    branch: null,
    gitProvider: null,
    createdAt: null,
    updatedAt: null,
    trigger: null,
    prNumbers: [],
    llmModel: null,
    cost: null,
    sandboxId: null,
    raw: {},
  };
}
