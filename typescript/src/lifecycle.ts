/**
 * Is it done? Every rule that decides a conversation's outcome lives here, and only here
 * (mirrors the Python package's protocol/lifecycle.py, which mirrors CONTRACT §4.2 and §6.4).
 *
 * V0: ``status`` describes the runtime and stays RUNNING after the agent finished; the agent's
 * state exists only in ``agent_state_changed`` events. The outcome is read from the newest
 * deciding agent state newer than the caller's marker, then the runtime. ``loading``,
 * ``stopped`` and ``init`` never decide anything.
 *
 * V1: a start task (phase A) walks to READY or ERROR; then (phase B) ``sandbox_status`` and
 * ``execution_status`` decide. ``idle``/``finished`` right after an action may be the previous
 * turn's: they count only once *settled* ({@link SettleTracker}).
 *
 * Tables, first match wins; each row carries its number. No I/O.
 */

import type { AppConversation, ConversationInfo, Outcome, StartTask, V0Event, V1Event } from "./models.js";

export const IGNORED_AGENT_STATES: ReadonlySet<string> = new Set(["loading", "stopped", "init"]);

export const RUNTIME_FAILURES: ReadonlySet<string> = new Set([
  "STATUS$ERROR",
  "STATUS$ERROR_RUNTIME_DISCONNECTED",
  "STATUS$ERROR_LLM_AUTHENTICATION",
  "STATUS$ERROR_LLM_SERVICE_UNAVAILABLE",
  "STATUS$ERROR_LLM_INTERNAL_SERVER_ERROR",
  "STATUS$ERROR_LLM_OUT_OF_CREDITS",
  "STATUS$ERROR_LLM_CONTENT_POLICY_VIOLATION",
  "STATUS$ERROR_MEMORY",
  "STATUS$GIT_PROVIDER_AUTHENTICATION_ERROR",
  "CHAT_INTERFACE$AGENT_RATE_LIMITED_STOPPED_MESSAGE",
]);

const V0_RUNTIME: Record<string, string> = {
  STARTING: "starting",
  RUNNING: "running",
  STOPPED: "stopped",
  ARCHIVED: "gone",
  ERROR: "error",
};

export interface AgentStateChange {
  eventId: number;
  state: string;
  reason: string | null;
  /** No such event was read: an agent action at eventId proves the agent was running then. */
  inferred: boolean;
}

export interface Assessment {
  outcome: Outcome;
  detail: string | null;
  /** "starting" while compute is being prepared. */
  phase: string | null;
  runtime: string | null;
  agentState: string | null;
  row: number;
}

export function isRuntimeFailure(runtimeStatus: string | null | undefined): boolean {
  if (!runtimeStatus) return false;
  return RUNTIME_FAILURES.has(runtimeStatus) || runtimeStatus.startsWith("STATUS$ERROR");
}

export function v0Runtime(info: ConversationInfo | null): string | null {
  if (info === null) return "gone";
  return V0_RUNTIME[info.status ?? ""] ?? null;
}

export function agentStateOf(event: V0Event): string | null {
  if (event.observation !== "agent_state_changed") return null;
  const state = event.extras?.agent_state;
  return typeof state === "string" ? state : null;
}

/** The newest deciding agent state among ``events`` with id > ``marker`` (any order). */
export function newestAgentState(events: Iterable<V0Event>, marker = -1): AgentStateChange | null {
  let best: AgentStateChange | null = null;
  for (const event of events) {
    const state = agentStateOf(event);
    if (state === null || IGNORED_AGENT_STATES.has(state) || event.id <= marker) continue;
    if (best === null || event.id > best.eventId) {
      const reason = event.extras?.reason;
      best = { eventId: event.id, state, reason: typeof reason === "string" && reason ? reason : null, inferred: false };
    }
  }
  return best;
}

/** Whether ``event`` is an action the agent took in a step (only a RUNNING agent steps). */
export function agentStepped(event: V0Event): boolean {
  return event.source === "agent" && event.action !== undefined && event.action !== "system";
}

/**
 * The newest deciding agent state overall, from a contiguous run of the newest events, or
 * null when the run cannot tell and older events must be read. An agent action in the run
 * proves the agent was RUNNING (it only steps then, and every state change is an event).
 */
export function v0PageState(events: readonly V0Event[]): AgentStateChange | null {
  const state = newestAgentState(events);
  if (state !== null) return state;
  let stepped: number | null = null;
  for (const event of events) if (agentStepped(event) && (stepped === null || event.id > stepped)) stepped = event.id;
  if (stepped === null) return null;
  return { eventId: stepped, state: "running", reason: null, inferred: true };
}

interface V0Facts {
  info: ConversationInfo | null;
  status: string | null;
  runtimeStatus: string | null;
  agentState: string | null;
  reason: string | null;
}

interface V0Row {
  number: number;
  condition: string;
  matches: (f: V0Facts) => boolean;
  outcome: Outcome;
  detail: (f: V0Facts) => string | null;
}

/** CONTRACT §4.2, in order. First match wins. */
export const V0_ROWS: readonly V0Row[] = [
  {
    number: 1,
    condition: "info is null",
    matches: (f) => f.info === null,
    outcome: "gone",
    detail: () => "the conversation does not exist (unknown id, or deleted)",
  },
  {
    number: 2,
    condition: "A = error",
    matches: (f) => f.agentState === "error",
    outcome: "failed",
    detail: (f) => f.reason ?? "the agent stopped with an error",
  },
  {
    number: 3,
    condition: "A = rejected",
    matches: (f) => f.agentState === "rejected",
    outcome: "failed",
    detail: (f) => f.reason ?? "the agent rejected the task",
  },
  { number: 4, condition: "A = finished", matches: (f) => f.agentState === "finished", outcome: "finished", detail: () => null },
  {
    number: 5,
    condition: "A = awaiting_user_input",
    matches: (f) => f.agentState === "awaiting_user_input",
    outcome: "waiting_for_user",
    detail: () => "the agent answered and is waiting for a reply",
  },
  { number: 6, condition: "status == ERROR", matches: (f) => f.status === "ERROR", outcome: "failed", detail: (f) => f.runtimeStatus ?? "the runtime failed" },
  { number: 7, condition: "runtime_status is a failure", matches: (f) => isRuntimeFailure(f.runtimeStatus), outcome: "failed", detail: (f) => f.runtimeStatus },
  {
    number: 8,
    condition: "A = awaiting_user_confirmation",
    matches: (f) => f.agentState === "awaiting_user_confirmation",
    outcome: "blocked",
    detail: () => "an action is waiting for confirmation",
  },
  { number: 9, condition: "A = paused", matches: (f) => f.agentState === "paused", outcome: "blocked", detail: () => "the agent was paused" },
  {
    number: 10,
    condition: "status == STOPPED",
    matches: (f) => f.status === "STOPPED",
    outcome: "stopped",
    detail: () => "the runtime was stopped before the turn ended; start it to continue",
  },
  { number: 11, condition: "status == ARCHIVED", matches: (f) => f.status === "ARCHIVED", outcome: "gone", detail: () => "the runtime was deleted (archived)" },
  { number: 12, condition: "anything else", matches: () => true, outcome: "in_progress", detail: () => null },
];

/** The V0 outcome from the conversation and its newest deciding agent state. */
export function classifyV0(info: ConversationInfo | null, agent: AgentStateChange | null): Assessment {
  const facts: V0Facts = {
    info,
    status: info?.status ?? null,
    runtimeStatus: info?.runtime_status ?? null,
    agentState: agent?.state ?? null,
    reason: agent?.reason ?? null,
  };
  for (const row of V0_ROWS) {
    if (!row.matches(facts)) continue;
    return {
      outcome: row.outcome,
      detail: row.detail(facts),
      phase: row.outcome === "in_progress" && facts.status === "STARTING" ? "starting" : null,
      runtime: v0Runtime(info),
      agentState: facts.agentState,
      row: row.number,
    };
  }
  throw new Error("unreachable: the last row matches everything");
}

export type RestartProgress = "ready" | "starting" | "stopped_again" | "cannot_restart" | "gone";

/** What a read after ``POST …/start`` says of the restart (``agent``: newest state since it). */
export function restartProgress(info: ConversationInfo | null, agent: AgentStateChange | null): RestartProgress {
  if (info === null) return "gone";
  if (info.status === "RUNNING" && agent !== null) return "ready";
  if (info.status === "STOPPED") return "stopped_again";
  if (info.status === "ERROR" || info.status === "ARCHIVED") return "cannot_restart";
  return "starting";
}

// ---------------------------------------------------------------------------- V1

/** Phase A (CONTRACT §6.4). null means READY: go on to the conversation (phase B). */
export function classifyStartTask(task: StartTask | null): Assessment | null {
  if (task === null) return { outcome: "gone", detail: "the start task does not exist", phase: null, runtime: "gone", agentState: null, row: 1 };
  if (task.status === "ERROR") {
    return { outcome: "failed", detail: task.detail || "the conversation failed to start", phase: null, runtime: "error", agentState: null, row: 2 };
  }
  if (task.status === "READY") return null;
  return { outcome: "in_progress", detail: task.status, phase: "starting", runtime: "starting", agentState: null, row: 4 };
}

const SANDBOX_RUNTIME: Record<string, string> = {
  STARTING: "starting",
  RUNNING: "running",
  PAUSED: "stopped",
  MISSING: "gone",
  ERROR: "error",
};

export function sandboxRuntime(sandboxStatus: string | null | undefined): string | null {
  return SANDBOX_RUNTIME[sandboxStatus ?? ""] ?? null;
}

const FAILED_EXECUTION: ReadonlySet<string> = new Set(["error", "stuck"]);

interface V1Facts {
  conversation: AppConversation | null;
  lastKnown: string | null;
  settled: boolean;
  errorDetail: string | null;
  sandbox: string | null;
  execution: string | null;
  running: boolean;
}

function endedWellBefore(f: V1Facts, otherwise: Outcome): Outcome {
  if (f.lastKnown === "finished") return "finished";
  if (f.lastKnown !== null && FAILED_EXECUTION.has(f.lastKnown)) return "failed";
  return otherwise;
}

function detailWithoutCompute(f: V1Facts, otherwise: string): string | null {
  if (f.lastKnown !== null && FAILED_EXECUTION.has(f.lastKnown)) return f.errorDetail;
  return f.lastKnown === "finished" ? null : otherwise;
}

interface V1Row {
  number: number;
  condition: string;
  matches: (f: V1Facts) => boolean;
  outcome: (f: V1Facts) => Outcome;
  detail: (f: V1Facts) => string | null;
}

/** CONTRACT §6.4 phase B, in order. First match wins. */
export const V1_ROWS: readonly V1Row[] = [
  {
    number: 1,
    condition: "conversation is null",
    matches: (f) => f.conversation === null,
    outcome: () => "gone",
    detail: () => "the conversation does not exist (unknown id, or deleted)",
  },
  { number: 2, condition: "sandbox ERROR", matches: (f) => f.sandbox === "ERROR", outcome: () => "failed", detail: () => "the sandbox failed" },
  {
    number: 3,
    condition: "sandbox MISSING",
    matches: (f) => f.sandbox === "MISSING",
    outcome: (f) => endedWellBefore(f, "gone"),
    detail: (f) => detailWithoutCompute(f, "the sandbox is gone"),
  },
  {
    number: 4,
    condition: "sandbox PAUSED",
    matches: (f) => f.sandbox === "PAUSED",
    outcome: (f) => endedWellBefore(f, "stopped"),
    detail: (f) => detailWithoutCompute(f, "the sandbox is paused; resume it to continue"),
  },
  { number: 5, condition: "sandbox STARTING", matches: (f) => f.sandbox === "STARTING", outcome: () => "in_progress", detail: () => null },
  {
    number: 6,
    condition: "RUNNING, finished",
    matches: (f) => f.running && f.execution === "finished",
    outcome: (f) => (f.settled ? "finished" : "in_progress"),
    detail: () => null,
  },
  {
    number: 7,
    condition: "RUNNING, error / stuck",
    matches: (f) => f.running && f.execution !== null && FAILED_EXECUTION.has(f.execution),
    outcome: () => "failed",
    detail: (f) => f.errorDetail ?? f.execution,
  },
  {
    number: 8,
    condition: "RUNNING, waiting_for_confirmation",
    matches: (f) => f.running && f.execution === "waiting_for_confirmation",
    outcome: () => "blocked",
    detail: () => "an action is waiting for confirmation",
  },
  {
    number: 9,
    condition: "RUNNING, paused",
    matches: (f) => f.running && f.execution === "paused",
    outcome: () => "blocked",
    detail: () => "the agent was paused",
  },
  {
    number: 10,
    condition: "RUNNING, idle",
    matches: (f) => f.running && f.execution === "idle",
    outcome: (f) => (f.settled ? "waiting_for_user" : "in_progress"),
    detail: (f) => (f.settled ? "the agent is idle and waiting for a message" : null),
  },
  {
    number: 11,
    condition: "RUNNING, deleting",
    matches: (f) => f.running && f.execution === "deleting",
    outcome: () => "gone",
    detail: () => "the conversation is being deleted",
  },
  { number: 12, condition: "anything else", matches: () => true, outcome: () => "in_progress", detail: () => null },
];

export function classifyV1(
  conversation: AppConversation | null,
  options: { lastKnown?: string | null; settled?: boolean; errorDetail?: string | null } = {},
): Assessment {
  const sandbox = conversation?.sandbox_status ?? null;
  const facts: V1Facts = {
    conversation,
    lastKnown: options.lastKnown ?? null,
    settled: options.settled ?? true,
    errorDetail: options.errorDetail ?? null,
    sandbox,
    execution: conversation?.execution_status ?? null,
    running: sandbox === "RUNNING",
  };
  for (const row of V1_ROWS) {
    if (!row.matches(facts)) continue;
    return {
      outcome: row.outcome(facts),
      detail: row.detail(facts),
      phase: sandbox === "STARTING" ? "starting" : null,
      runtime: conversation ? sandboxRuntime(sandbox) : "gone",
      agentState: facts.execution ?? facts.lastKnown,
      row: row.number,
    };
  }
  throw new Error("unreachable: the last row matches everything");
}

/** L is needed when the live status is null because the sandbox is paused or gone. */
export function needsLastKnown(conversation: AppConversation): boolean {
  return (conversation.execution_status ?? null) === null && (conversation.sandbox_status === "PAUSED" || conversation.sandbox_status === "MISSING");
}

/** L: the newest execution status in ConversationStateUpdateEvents (newest first). */
export function lastKnownExecutionStatus(eventsNewestFirst: readonly V1Event[]): string | null {
  for (const event of eventsNewestFirst) {
    if (event.key === "execution_status" && typeof event.value === "string") return event.value;
    if (event.key === "full_state" && event.value !== null && typeof event.value === "object") {
      const status = (event.value as Record<string, unknown>).execution_status;
      if (typeof status === "string") return status;
    }
  }
  return null;
}

export function needsErrorDetail(assessment: Assessment, conversation: AppConversation, lastKnown: string | null): boolean {
  const live = conversation.execution_status ?? null;
  return assessment.outcome === "failed" && ((live !== null && FAILED_EXECUTION.has(live)) || (lastKnown !== null && FAILED_EXECUTION.has(lastKnown)));
}

/** The detail of the newest ConversationErrorEvent given (newest first). */
export function errorDetail(errorEvents: readonly V1Event[]): string | null {
  for (const event of errorEvents) {
    const detail = event.detail || event.code;
    if (typeof detail === "string" && detail) return detail;
  }
  return null;
}

/** How long (ms) a wait that saw a successful end keeps looking for the answer (events lag). */
export const ANSWER_GRACE_MS = 5000;

/**
 * A successful end judged with its answer (``answeredWith`` "finish" | "message" | null):
 * a plain-text answer makes ``finished`` a question; ``idle`` with no answer yet is the moment
 * before the run; a fresh ``finished`` without its answer waits ANSWER_GRACE_MS for it.
 */
export function withAnswer(assessment: Assessment, answeredWith: string | null, hasAnswer: boolean, endedForMs: number | null): Assessment {
  const refined = refineV1Finished(assessment, answeredWith);
  if (hasAnswer) return refined;
  if (assessment.agentState === "idle" && assessment.outcome === "waiting_for_user") {
    return { ...refined, outcome: "in_progress", detail: "the agent has not started the run yet" };
  }
  if (endedForMs !== null && endedForMs < ANSWER_GRACE_MS) return { ...refined, outcome: "in_progress" };
  return refined;
}

/** ``finished`` after a plain-text answer is a question to the user (as V0 says it). */
export function refineV1Finished(assessment: Assessment, answeredWith: string | null): Assessment {
  if (assessment.outcome === "finished" && answeredWith === "message") {
    return { ...assessment, outcome: "waiting_for_user", detail: "the agent answered and is waiting for a reply" };
  }
  return assessment;
}

/** Do the events (newest first) prove that ``status`` was reached after the caller's message? */
export function eventsProveNewTurn(eventsNewestFirst: readonly V1Event[], status: string, beforeMessageId: string | null): boolean {
  let statusSeen = false;
  for (const event of eventsNewestFirst) {
    if (event.kind === "ConversationStateUpdateEvent" && event.key === "execution_status") {
      statusSeen = statusSeen || event.value === status;
    } else if (event.kind === "MessageEvent" && event.source === "user") {
      return statusSeen && event.id !== beforeMessageId;
    }
  }
  return false;
}

const SETTLE_CANDIDATES: ReadonlySet<string> = new Set(["finished", "idle", "error", "stuck", "waiting_for_confirmation", "paused"]);

/**
 * Decides whether a V1 ``finished``/``idle`` belongs to the turn the caller started. A status
 * counts once, since the action: ``running`` was seen; or it is not ``idle`` and some status
 * other than the one before was seen; or it has not changed for ``windowMs``; or the events
 * prove it ({@link confirm}). Without an action everything counts at once.
 */
export class SettleTracker {
  readonly acted: boolean;
  readonly before: string | null;
  readonly beforeMessageId: string | null;
  readonly windowMs: number;
  private seenRunning = false;
  private seenOther = false;
  private confirmed = false;
  private current: string | null = null;
  private currentSince = 0;

  constructor(options: { acted?: boolean; before?: string | null; beforeMessageId?: string | null; windowMs?: number } = {}) {
    this.acted = options.acted ?? false;
    this.before = options.before ?? null;
    this.beforeMessageId = options.beforeMessageId ?? null;
    this.windowMs = options.windowMs ?? 10_000;
  }

  static afterMessage(before: string | null, beforeMessageId: string | null): SettleTracker {
    return new SettleTracker({ acted: true, before, beforeMessageId });
  }

  wantsProof(status: string | null, settled: boolean): boolean {
    return !settled && this.acted && status !== null && SETTLE_CANDIDATES.has(status);
  }

  confirm(): void {
    this.confirmed = true;
  }

  /** Record one observation at monotonic ``now`` (ms); true if ``status`` counts. */
  observe(status: string | null, now: number): boolean {
    if (!this.acted || this.confirmed) return true;
    if (status === null) return false;
    if (status === "running") this.seenRunning = true;
    if (status !== this.before) this.seenOther = true;
    if (status !== this.current) {
      this.current = status;
      this.currentSince = now;
    }
    if (this.seenRunning || (status !== "idle" && this.seenOther)) return true;
    return now - this.currentSince >= this.windowMs;
  }
}
