/**
 * The V1 generation (``/api/v1/…``: OpenHands Cloud, openhands-ai ≥ 1.7): every operation of
 * the unified interface over the routes in routes/v1.ts.
 *
 * A create returns a start task, followed until READY (then the conversation exists) or ERROR.
 * One conversation is read through ``GET ?ids=``; its sandbox and execution status go to the
 * lifecycle tables, which also say when the events must be asked (the last known status of a
 * paused sandbox, a failure's detail, proof that a status belongs to the caller's turn). There
 * is no stop: stop and resume pause and resume the sandbox.
 *
 * Exactly-once create: the client chooses the conversation id (the server honours it), so a
 * lost answer is resolved by asking for that id — the conversation, or a start task whose
 * request names it — and a resend reuses the id.
 */

import {
  APIStatusError,
  ConflictError,
  ConversationStartError,
  GoneError,
  NotFoundError,
  NotSupportedError,
  ProtocolError,
  WaitTimeoutError,
} from "../errors.js";
import { type ApiRequest, type Call, webUrl } from "../http.js";
import {
  type Assessment,
  classifyStartTask,
  classifyV1,
  errorDetail,
  eventsProveNewTurn,
  lastKnownExecutionStatus,
  needsErrorDetail,
  needsLastKnown,
  SettleTracker,
  withAnswer,
} from "../lifecycle.js";
import {
  type AppConversation,
  blankConversation,
  type Conversation,
  type ConversationResult,
  type Event,
  isTerminal,
  makeResult,
  type Page,
  type SentMessage,
  type StartTask,
  succeeded,
  type V1Event,
} from "../models.js";
import * as v1 from "../routes/v1.js";
import { validateId, validateTitle } from "../validation.js";
import {
  absenceSettle,
  CreateUndecided,
  type Generation,
  type GenerationContext,
  isAmbiguous,
  isTransient,
  LOOKUP_WINDOW_MS,
  type NewConversation,
  nextInterval,
  notFound,
  type PollPolicy,
  type Runtime,
  SILENT_LOOKUP_LIMIT_MS,
  undecided,
  uniquePages,
  until,
  type WaitSettings,
  waitTimedOut,
} from "./runtime.js";

/** A random 32-hex id (crypto.randomUUID is in Node 20 and every current browser). */
function newId(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, "");
}

function lookupPath(conversationId: string): string {
  return `${v1.CONVERSATIONS}?ids=${v1.idHex(conversationId)}`;
}

async function getConversation(rt: Runtime, conversationId: string): Promise<AppConversation | null> {
  const items = await rt.send(v1.getConversations([conversationId]));
  return items[0] ?? null;
}

async function getStartTask(rt: Runtime, taskId: string): Promise<StartTask | null> {
  const items = await rt.send(v1.getStartTasks([taskId]));
  return items[0] ?? null;
}

async function existingConversation(rt: Runtime, conversationId: string): Promise<AppConversation> {
  const conversation = await getConversation(rt, conversationId);
  if (conversation === null) throw notFound(conversationId, "GET", lookupPath(conversationId));
  return conversation;
}

/**
 * Send ``call``; a server without that route (1.0–1.6.0 serve V1 without send-message and
 * delete) answers 405, or 404 with FastAPI's bare "Not Found": a NotSupportedError.
 */
async function routeRequired<T>(rt: Runtime, call: Call<T>, name: string): Promise<T> {
  try {
    return await rt.send(call);
  } catch (error) {
    if (error instanceof APIStatusError && (error.statusCode === 405 || (error.statusCode === 404 && error.detail === "Not Found"))) {
      throw new NotSupportedError(`This server's V1 API has no ${name} route (openhands-ai 1.0–1.6.0 lack it). Use its V0 API instead: apiVersion: "v0".`);
    }
    throw error;
  }
}

async function newestUserMessageId(rt: Runtime, conversationId: string): Promise<string | null> {
  const page = await rt.send(v1.searchEvents(conversationId, { kind: "MessageEvent", newestFirst: true, limit: 10 }));
  const event = page.items.find((e) => e.source === "user");
  return event ? String(event.id) : null;
}

/** Resume a paused sandbox and wait until it runs (send-message never resumes it). */
async function runningSandbox(rt: Runtime, conversation: AppConversation, timeoutMs: number, poll: PollPolicy): Promise<AppConversation> {
  const conversationId = conversation.id;
  if (conversation.sandbox_status === "RUNNING") return conversation;
  if (conversation.sandbox_status === "MISSING" || conversation.sandbox_status === "ERROR" || !conversation.sandbox_id) {
    throw new GoneError(`The sandbox of conversation ${conversationId} is ${conversation.sandbox_status}; it cannot be resumed`, {
      statusCode: 410,
      method: "POST",
      path: `${v1.API}/sandboxes/${conversation.sandbox_id}/resume`,
    });
  }
  const started = rt.now();
  if (conversation.sandbox_status === "PAUSED") await rt.send(v1.resumeSandbox(conversation.sandbox_id));
  return until(
    rt,
    async (inner) => {
      const current = await existingConversation(inner, conversationId);
      return current.sandbox_status === "RUNNING" ? current : null;
    },
    {
      deadline: started + timeoutMs,
      poll,
      firstDelayMs: poll.intervalMs,
      timedOut: (error) =>
        new WaitTimeoutError(
          `The sandbox of conversation ${conversationId} did not start running within ${timeoutMs / 1000}s${error ? ` (last error: ${error.message})` : ""}`,
          {
            conversationId,
            timeoutMs,
          },
        ),
    },
  );
}

/** How many of the newest MessageEvents are read to find the current turn's message or answer. */
const NEWEST_MESSAGES = 5;

/** The current turn's answer, from the two kinds that can hold one (cheap whatever the length). */
async function finalAnswer(rt: Runtime, conversationId: string): Promise<[string | null, "finish" | "message" | null]> {
  const messages = await rt.send(v1.searchEvents(conversationId, { kind: "MessageEvent", newestFirst: true, limit: NEWEST_MESSAGES }));
  const actions = await rt.send(v1.searchEvents(conversationId, { kind: "ActionEvent", newestFirst: true, limit: 1 }));
  return v1.finalAnswer([...messages.items, ...actions.items]);
}

/** Do the events prove that ``status`` was reached after the caller's message? */
async function provesNewTurn(rt: Runtime, conversationId: string, status: string, beforeMessageId: string | null): Promise<boolean> {
  const messages = await rt.send(v1.searchEvents(conversationId, { kind: "MessageEvent", newestFirst: true, limit: NEWEST_MESSAGES }));
  const newestUser = messages.items.find((e) => e.source === "user");
  if (!newestUser || newestUser.id === beforeMessageId || !newestUser.timestamp) return false;
  if (status === "finished") {
    const actions = await rt.send(v1.searchEvents(conversationId, { kind: "ActionEvent", newestFirst: true, limit: 1 }));
    return v1.finalAnswer([...messages.items, ...actions.items])[0] !== null;
  }
  const updates = await rt.send(v1.searchEvents(conversationId, { kind: "ConversationStateUpdateEvent", timestampGte: newestUser.timestamp, limit: 50 }));
  return eventsProveNewTurn([...updates.items].reverse().concat([newestUser]), status, beforeMessageId);
}

/** Classify one read, fetching from the events only what the lifecycle says is needed. */
async function assess(rt: Runtime, conversation: AppConversation, settle: SettleTracker): Promise<Assessment> {
  let lastKnown: string | null = null;
  if (needsLastKnown(conversation)) {
    const page = await rt.send(v1.searchEvents(conversation.id, { kind: "ConversationStateUpdateEvent", newestFirst: true, limit: 50 }));
    lastKnown = lastKnownExecutionStatus(page.items);
  }
  const status = conversation.execution_status ?? null;
  let settled = settle.observe(status, rt.now());
  if (status !== null && settle.wantsProof(status, settled)) {
    if (await provesNewTurn(rt, conversation.id, status, settle.beforeMessageId)) {
      settle.confirm();
      settled = true;
    }
  }
  let assessment = classifyV1(conversation, { lastKnown, settled });
  if (needsErrorDetail(assessment, conversation, lastKnown)) {
    const page = await rt.send(v1.searchEvents(conversation.id, { kind: "ConversationErrorEvent", newestFirst: true, limit: 1 }));
    const detail = errorDetail(page.items);
    if (detail) assessment = classifyV1(conversation, { lastKnown, settled, errorDetail: detail });
  }
  return assessment;
}

function toResult(
  conversation: AppConversation,
  assessment: Assessment,
  baseUrl: string,
  startTaskId: string | null,
  final: string | null,
): ConversationResult {
  const unified = v1.toConversation(conversation, baseUrl, {
    startTaskId,
    outcome: assessment.outcome,
    outcomeDetail: assessment.detail,
    agentState: assessment.agentState,
  });
  return makeResult(unified, assessment.outcome, assessment.detail, final);
}

/**
 * The result when there is no conversation to show: a start task failed or still going, or gone.
 * Its page is the conversation's that the task starts (the id the client chose, or the server's
 * once READY): a task id has no page.
 */
function withoutConversation(task: StartTask | null, ref: string, baseUrl: string, assessment: Assessment): ConversationResult {
  const { request: _request, ...rawTask } = task ?? {};
  const conversation: Conversation = {
    ...blankConversation(ref, "v1", webUrl(baseUrl, pageId(task) ?? ref)),
    startTaskId: task?.id ?? null,
    runtime: assessment.runtime,
    outcome: assessment.outcome,
    outcomeDetail: assessment.detail,
    raw: task ? rawTask : {},
  };
  return makeResult(conversation, assessment.outcome, assessment.detail, null);
}

/** The id of the conversation a start task starts, when known (this client always chooses one). */
export function pageId(task: StartTask | null): string | null {
  if (task === null) return null;
  return task.app_conversation_id || requestedId(task);
}

/** The conversation id the create that made `task` asked for (its echoed request). */
function requestedId(task: StartTask): string | null {
  const chosen = task.request?.conversation_id;
  return (typeof chosen === "string" && chosen) || null;
}

/** The task if READY, null while it is still going; ConversationStartError on ERROR. */
function readyOrNull(task: StartTask): StartTask | null {
  const verdict = classifyStartTask(task);
  if (verdict === null) return task;
  if (isTerminal(verdict.outcome)) {
    throw new ConversationStartError(`The conversation failed to start: ${task.detail || "no detail given"}`, {
      startTaskId: task.id,
      detail: task.detail ?? null,
    });
  }
  return null;
}

/** The state of one V1 wait: what ``ref`` turned out to be, and when the turn ended. */
class Watch {
  conversationId: string | null = null;
  taskId: string | null = null;
  endedAt: number | null = null;
  last: ConversationResult | null = null;

  constructor(
    readonly ref: string,
    readonly settle: SettleTracker,
    readonly baseUrl: string,
    readonly onProgress?: (snapshot: ConversationResult) => void,
  ) {}

  async pollOnce(rt: Runtime): Promise<ConversationResult | null> {
    let conversation: AppConversation | null = null;
    if (this.conversationId === null) {
      conversation = await getConversation(rt, this.taskId ?? this.ref);
      if (conversation !== null) {
        this.conversationId = conversation.id;
      } else {
        const task = await getStartTask(rt, this.taskId ?? this.ref);
        const verdict = classifyStartTask(task);
        if (verdict !== null) {
          if (isTerminal(verdict.outcome)) return withoutConversation(task, this.ref, this.baseUrl, verdict);
          this.taskId = task?.id ?? null;
          this.last = withoutConversation(task, this.ref, this.baseUrl, verdict);
          this.onProgress?.(this.last);
          return null; // still starting
        }
        if (task?.app_conversation_id) {
          this.taskId = task.id;
          this.conversationId = task.app_conversation_id;
          conversation = await getConversation(rt, this.conversationId);
        }
      }
    } else {
      conversation = await getConversation(rt, this.conversationId);
    }
    if (this.conversationId === null) return null;
    const now = rt.now();
    if (conversation === null) return withoutConversation(null, this.conversationId, this.baseUrl, classifyV1(null));
    let assessment = await assess(rt, conversation, this.settle);
    let final: string | null = null;
    if (isTerminal(assessment.outcome) && succeeded(assessment.outcome)) {
      const [text, answeredWith] = await finalAnswer(rt, conversation.id);
      final = text;
      this.endedAt ??= now;
      assessment = withAnswer(assessment, answeredWith, final !== null, now - this.endedAt);
    }
    this.last = toResult(conversation, assessment, this.baseUrl, this.taskId, final);
    if (isTerminal(assessment.outcome)) return this.last;
    this.onProgress?.(this.last);
    return null;
  }
}

export class V1Generation implements Generation {
  readonly version = "v1" as const;

  constructor(private readonly context: GenerationContext) {}

  /** Start a conversation exactly once and follow its start task to READY; the title is set after. */
  async create(rt: Runtime, request: NewConversation): Promise<Conversation> {
    if (request.title != null) validateTitle(request.title);
    const options = { ...(request.options ?? {}) };
    // A client-chosen id makes a create whose answer was lost resolvable.
    options.conversation_id ??= newId();
    const body = v1.createBody(request.prompt, {
      title: request.title,
      repository: request.repository,
      branch: request.branch,
      gitProvider: request.gitProvider,
      imageUrls: request.imageUrls,
      conversationInstructions: request.conversationInstructions,
      options,
    });
    const [task, created] = await this.startExactlyOnce(rt, body);
    let conversation = created;
    if (request.title != null && conversation.title !== request.title) {
      conversation = await rt.send(v1.updateConversation(conversation.id, { title: request.title }));
    }
    return v1.toConversation(conversation, this.context.baseUrl, { startTaskId: task?.id ?? null });
  }

  private async startExactlyOnce(rt: Runtime, body: Record<string, unknown>): Promise<[StartTask | null, AppConversation]> {
    const conversationId = String(body.conversation_id);
    const deadline = rt.now() + this.context.startTimeoutMs;
    let tries = 0;
    for (;;) {
      const sentAt = rt.wallNow();
      let task: StartTask;
      try {
        task = await rt.send(v1.startConversation(body));
      } catch (error) {
        if (!isAmbiguous(error)) throw error;
        tries += 1;
        let foundTask: StartTask | null;
        let found: AppConversation | null;
        try {
          [foundTask, found] = await this.findStarted(rt, conversationId, sentAt - LOOKUP_WINDOW_MS, absenceSettle(error, this.context.requestTimeoutMs));
        } catch (lookupError) {
          if (lookupError instanceof CreateUndecided) throw undecided(error, `look for it (getConversation("${conversationId}"))`);
          throw lookupError;
        }
        if (found !== null) return [foundTask, found];
        if (foundTask === null) {
          if (tries > this.context.maxResends) throw error;
          continue;
        }
        task = foundTask;
      }
      let ready: StartTask;
      try {
        ready = await this.followStartTask(rt, task, deadline);
      } catch (error) {
        // A resend that collided with a late first request fails to start; the first one is then it.
        if (!(error instanceof ConversationStartError)) throw error;
        const existing = await getConversation(rt, conversationId);
        if (existing === null || tries === 0) throw error;
        return [task, existing];
      }
      const wanted = ready.app_conversation_id ?? conversationId;
      const conversation = await until(rt, (inner) => getConversation(inner, wanted), {
        deadline,
        poll: this.context.poll,
        timedOut: () => new ProtocolError(`Start task ${ready.id} is READY but conversation ${wanted} is not found`),
      });
      return [ready, conversation];
    }
  }

  private async followStartTask(rt: Runtime, task: StartTask, deadline: number): Promise<StartTask> {
    let latest = task;
    if (readyOrNull(task) !== null) return task;
    return until(
      rt,
      async (inner) => {
        const fresh = await getStartTask(inner, task.id);
        if (fresh === null) throw notFound(task.id, "GET", `${v1.CONVERSATIONS}/start-tasks?ids=${task.id}`);
        latest = fresh;
        return readyOrNull(fresh);
      },
      {
        deadline,
        poll: this.context.poll,
        firstDelayMs: this.context.poll.intervalMs,
        timedOut: () =>
          new WaitTimeoutError(
            `Start task ${task.id} is still ${latest.status} after the start timeout; it may still complete: wait for it again, or look it up later`,
            {
              conversationId: task.id,
              timeoutMs: this.context.startTimeoutMs,
            },
          ),
      },
    );
  }

  /**
   * After a lost create: the conversation with our id, or the start task that asked for it.
   * "Absent" is believed only after ``settleMs`` of looking (two looks at least when it must
   * settle); no answered look for SILENT_LOOKUP_LIMIT_MS: CreateUndecided.
   */
  private async findStarted(rt: Runtime, conversationId: string, sinceWall: number, settleMs: number): Promise<[StartTask | null, AppConversation | null]> {
    const started = rt.now();
    let answeredAt = started;
    let absent = 0;
    let interval = this.context.poll.intervalMs;
    for (;;) {
      const now = rt.now();
      try {
        const conversation = await getConversation(rt, conversationId);
        if (conversation !== null) return [null, conversation];
        const task = await this.startTaskAskingFor(rt, conversationId, sinceWall);
        answeredAt = now;
        if (task !== null) return [task, null];
        absent += 1;
        if (now - started >= settleMs && (absent >= 2 || settleMs === 0)) return [null, null];
      } catch (error) {
        if (!isTransient(error)) throw error;
        if (now - answeredAt >= SILENT_LOOKUP_LIMIT_MS) throw new CreateUndecided("the server does not answer the lookup");
      }
      if (now - started >= this.context.startTimeoutMs) throw new CreateUndecided("the start could not be found or ruled out in time");
      await rt.sleep(interval);
      interval = nextInterval(this.context.poll, interval);
    }
  }

  private async startTaskAskingFor(rt: Runtime, conversationId: string, sinceWall: number): Promise<StartTask | null> {
    const createdAfter = new Date(sinceWall).toISOString();
    let pageId: string | null = null;
    for (;;) {
      const page: Page<StartTask> = await rt.send(v1.searchStartTasks({ createdAtGte: createdAfter, pageId, limit: 100 }));
      for (const task of page.items) {
        if (requestedId(task)?.replace(/-/g, "").toLowerCase() === conversationId) return task;
      }
      if (page.next_page_id === null || !page.items.length || page.next_page_id === pageId) return null;
      pageId = page.next_page_id;
    }
  }

  /** A conversation id or a start-task id → its outcome now. */
  async observe(rt: Runtime, conversationId: string): Promise<ConversationResult> {
    const baseUrl = this.context.baseUrl;
    let task: StartTask | null = null;
    let conversation = await getConversation(rt, conversationId);
    if (conversation === null) {
      task = await getStartTask(rt, conversationId);
      const verdict = classifyStartTask(task);
      if (verdict === null && task?.app_conversation_id) {
        conversation = await existingConversation(rt, task.app_conversation_id);
      } else {
        if (task === null) throw notFound(conversationId, "GET", lookupPath(conversationId));
        return withoutConversation(task, conversationId, baseUrl, verdict ?? classifyV1(null));
      }
    }
    let assessment = await assess(rt, conversation, new SettleTracker());
    let final: string | null = null;
    if (succeeded(assessment.outcome)) {
      const [text, answeredWith] = await finalAnswer(rt, conversation.id);
      final = text;
      assessment = withAnswer(assessment, answeredWith, final !== null, null);
    }
    return toResult(conversation, assessment, baseUrl, task?.id ?? null, final);
  }

  result(rt: Runtime, conversationId: string): Promise<ConversationResult> {
    return this.observe(rt, conversationId);
  }

  async wait(rt: Runtime, conversationId: string, options: WaitSettings): Promise<ConversationResult> {
    validateId(conversationId);
    const settle = options.after ? SettleTracker.afterMessage(options.after.executionStatus, options.after.previousMessageId) : new SettleTracker();
    const watch = new Watch(conversationId, settle, this.context.baseUrl, options.onProgress);
    return until(rt, (inner) => watch.pollOnce(inner), {
      deadline: rt.now() + options.timeoutMs,
      poll: options.poll,
      timedOut: (error) => waitTimedOut(watch.conversationId ?? conversationId, options.timeoutMs, watch.last, error),
    });
  }

  async *iterConversations(rt: Runtime, pageSize: number): AsyncGenerator<Conversation, void, undefined> {
    const baseUrl = this.context.baseUrl;
    for await (const item of uniquePages(
      rt,
      (pageId) => v1.searchConversations({ pageId, limit: pageSize }),
      (page) => page.items,
      (item) => item.id,
    )) {
      yield v1.toConversation(item, baseUrl);
    }
  }

  /** The event search answers an empty page for an unknown id: the conversation is asked first. */
  async *iterEvents(rt: Runtime, conversationId: string, options: { reverse: boolean; pageSize: number }): AsyncGenerator<Event, void, undefined> {
    await existingConversation(rt, conversationId);
    let pageId: string | null = null;
    for (;;) {
      const page: Page<V1Event> = await rt.send(
        v1.searchEvents(conversationId, { newestFirst: options.reverse, pageId, limit: Math.min(options.pageSize, v1.MAX_LIMIT) }),
      );
      for (const event of page.items) yield v1.toEvent(event);
      if (page.next_page_id === null || !page.items.length) return;
      pageId = page.next_page_id;
    }
  }

  /**
   * ``send-message``; on 409 (sandbox paused) with ``resume``: resume, wait, send again. The
   * status before sending is kept in the receipt, so a later wait can tell the previous turn's
   * ``finished`` from this one's.
   */
  async sendMessage(rt: Runtime, conversationId: string, message: string, options: { resume: boolean }): Promise<SentMessage> {
    const call = v1.sendMessage(conversationId, message); // validates before any request
    let before = await existingConversation(rt, conversationId);
    const previousMessage = await newestUserMessageId(rt, conversationId);
    if (before.sandbox_status !== "RUNNING" && options.resume) {
      before = await runningSandbox(rt, before, this.context.startTimeoutMs, this.context.poll);
    }
    try {
      await routeRequired(rt, call, "send-message");
    } catch (error) {
      if (!(error instanceof ConflictError) || !options.resume) throw error;
      // The sandbox stopped running after it was read: read it again, so that it is resumed.
      const current = await existingConversation(rt, conversationId);
      before = await runningSandbox(rt, current, this.context.startTimeoutMs, this.context.poll);
      await rt.send(call);
    }
    return { conversationId: before.id, marker: null, executionStatus: before.execution_status ?? null, previousMessageId: previousMessage };
  }

  private async sandboxOf(rt: Runtime, conversationId: string): Promise<string> {
    const conversation = await existingConversation(rt, conversationId);
    if (!conversation.sandbox_id) {
      throw new GoneError(`Conversation ${conversationId} has no sandbox`, { statusCode: 410, method: "GET", path: lookupPath(conversationId) });
    }
    return conversation.sandbox_id;
  }

  /** V1 has no stop route: the sandbox is paused (CONTRACT §5.4). */
  async stop(rt: Runtime, conversationId: string): Promise<void> {
    await rt.send(v1.pauseSandbox(await this.sandboxOf(rt, conversationId)));
  }

  async resume(rt: Runtime, conversationId: string): Promise<void> {
    await rt.send(v1.resumeSandbox(await this.sandboxOf(rt, conversationId)));
  }

  /** Delete; false if there was no such conversation (as V0's DELETE answers). */
  async delete(rt: Runtime, conversationId: string): Promise<boolean> {
    try {
      await routeRequired(rt, v1.deleteConversation(conversationId), "DELETE /app-conversations/{id}");
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
    return true;
  }

  async setTitle(rt: Runtime, conversationId: string, title: string): Promise<void> {
    await rt.send(v1.updateConversation(conversationId, { title }));
  }

  historyRequest(conversationId: string): ApiRequest {
    return v1.downloadRequest(conversationId);
  }
}
