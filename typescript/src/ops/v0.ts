/**
 * The V0 generation (``/api/conversations…``, openhands-ai ≤ 1.6.0): every operation of the
 * unified interface over the routes in routes/v0.ts.
 *
 * How V0 is read: ``status`` describes the runtime and stays RUNNING after the agent finished,
 * so each look reads the events newer than what this call has read (``reverse=true``, a small
 * page; older pages only when the newest cannot decide, lifecycle.v0PageState) and then the
 * conversation; lifecycle.classifyV0 decides. A follow-up records the newest event id first
 * (the marker), so the wait after it ignores the previous turn's state. A STOPPED runtime is
 * restarted before a message (it refuses them with 500).
 *
 * Exactly-once create: V0 has no idempotency key. After a lost answer the conversations
 * created since the send are searched for one this client did not create whose first user
 * message is ours; only a provable absence allows a resend.
 */

import { ConversationStartError, NotFoundError, ServerError, WaitTimeoutError } from "../errors.js";
import { type ApiRequest, webUrl } from "../http.js";
import { type AgentStateChange, type Assessment, classifyV0, restartProgress, v0PageState } from "../lifecycle.js";
import {
  blankConversation,
  type Conversation,
  type ConversationInfo,
  type ConversationResult,
  type Event,
  isTerminal,
  makeResult,
  type SentMessage,
  succeeded,
  type V0Event,
  type V0EventPage,
} from "../models.js";
import { serverClock } from "../parsing.js";
import * as v0 from "../routes/v0.js";
import { validateId, validateTitle } from "../validation.js";
import {
  absenceSettle,
  CLOCK_MARGIN_MS,
  CreateUndecided,
  type Generation,
  type GenerationContext,
  isAmbiguous,
  isTransient,
  LOOKUP_WINDOW_MS,
  type NewConversation,
  nextInterval,
  notFound,
  type Runtime,
  SILENT_LOOKUP_LIMIT_MS,
  undecided,
  uniquePages,
  until,
  type WaitSettings,
  waitTimedOut,
} from "./runtime.js";

const POLL_PAGE = 20;
const HOW_TO_LOOK = "look for it (listConversations())";

/** Internal: the id is a V1 conversation seen through 1.x's V0 routes; the client hands it over. */
export class OwnedByOtherGeneration extends Error {
  constructor(readonly conversationId: string) {
    super(`conversation ${conversationId} belongs to the V1 API`);
  }
}

function ownedHere(conversationId: string, info: ConversationInfo | null): ConversationInfo | null {
  if (info !== null && info.conversation_version === "V1") throw new OwnedByOtherGeneration(conversationId);
  return info;
}

/**
 * One call's view of a conversation's events (a look, or the polls of one wait): the newest
 * deciding agent state among the events read above ``marker``, how far reading has come
 * (``cursor``), and the few events a result is made from (the newest answer and metrics).
 */
class V0Tracker {
  cursor: number;
  agent: AgentStateChange | null = null;
  kept: V0Event[] = [];

  constructor(readonly marker = -1) {
    this.cursor = marker;
  }

  learn(events: readonly V0Event[], agent: AgentStateChange | null): void {
    if (!events.length) return;
    this.cursor = Math.max(this.cursor, ...events.map((e) => e.id));
    if (agent !== null && (this.agent === null || agent.eventId >= this.agent.eventId)) this.agent = agent;
    const all = [...this.kept, ...events].sort((a, b) => b.id - a.id);
    const answer = all.find((e) => v0.finalMessage([e]) !== null);
    const metered = all.find((e) => e.llm_metrics);
    const keep = new Map<number, V0Event>();
    for (const e of [answer, metered]) if (e) keep.set(e.id, e);
    this.kept = [...keep.values()].sort((a, b) => a.id - b.id);
  }

  /** The newest deciding agent state newer than the marker (an inferred "running" counts as none). */
  get deciding(): AgentStateChange | null {
    return this.agent !== null && this.agent.eventId > this.marker ? this.agent : null;
  }
}

/**
 * One cheap look at the events newer than the tracker's cursor (CONTRACT §4.3): reverse from
 * the newest down to cursor + 1, a small page first; older pages only when the pages read
 * cannot decide (no deciding state and no agent action among them).
 */
async function readNewEvents(rt: Runtime, conversationId: string, tracker: V0Tracker): Promise<void> {
  const floor = tracker.cursor;
  const collected: V0Event[] = [];
  let upper: number | null = null;
  let limit = POLL_PAGE;
  for (;;) {
    const page: V0EventPage = await rt.send(v0.getEvents(conversationId, { startId: floor + 1, endId: upper, reverse: true, limit }));
    collected.push(...page.events.filter((e) => e.id > floor));
    const lowest: number | null = page.events.length ? Math.min(...page.events.map((e) => e.id)) : null;
    if (lowest === null || !page.has_more || lowest <= floor + 1) break;
    if (v0PageState(collected) !== null) break;
    upper = lowest - 1;
    limit = v0.MAX_EVENTS_LIMIT;
  }
  tracker.learn(collected, v0PageState(collected));
}

/** Read the newest events, then the conversation, once; classify. */
async function look(rt: Runtime, conversationId: string, tracker: V0Tracker): Promise<[ConversationInfo | null, Assessment]> {
  try {
    await readNewEvents(rt, conversationId, tracker);
  } catch (error) {
    // An unknown or deleted id 404s on the events route; the conversation read says null.
    if (!(error instanceof NotFoundError)) throw error;
  }
  const info = ownedHere(conversationId, await rt.send(v0.getConversation(conversationId)));
  return [info, classifyV0(info, tracker.deciding)];
}

async function newestEventId(rt: Runtime, conversationId: string): Promise<number> {
  const page = await rt.send(v0.getEvents(conversationId, { reverse: true, limit: 1 }));
  return page.events.reduce((best, e) => Math.max(best, e.id), -1);
}

function toResult(
  conversationId: string,
  info: ConversationInfo | null,
  assessment: Assessment,
  events: readonly V0Event[],
  baseUrl: string,
): ConversationResult {
  if (info === null) {
    const conversation = {
      ...blankConversation(conversationId, "v0", webUrl(baseUrl, conversationId)),
      runtime: "gone",
      outcome: assessment.outcome,
      outcomeDetail: assessment.detail,
    };
    return makeResult(conversation, assessment.outcome, assessment.detail, null);
  }
  const conversation = v0.toConversation(info, baseUrl, assessment, events);
  const final = succeeded(assessment.outcome) ? v0.finalMessage(events) : null;
  return makeResult(conversation, assessment.outcome, assessment.detail, final);
}

/** What the server keeps of a create: two creates alike in these cannot be told apart. */
function fingerprint(body: Record<string, unknown>): string {
  return JSON.stringify([body.initial_user_msg, body.repository ?? null, body.selected_branch ?? null, body.git_provider ?? null]);
}

function couldBe(info: ConversationInfo, body: Record<string, unknown>): boolean {
  if ((info.selected_repository ?? null) !== (body.repository ?? null)) return false;
  if ((info.selected_branch ?? null) !== (body.selected_branch ?? null)) return false;
  const wanted = body.git_provider ?? null;
  return wanted === null || info.git_provider == null || info.git_provider === wanted;
}

interface Lookup {
  body: Record<string, unknown>;
  claim: { fingerprint: string };
  sentWall: number;
  sentMono: number;
  firstMessages: Map<string, unknown>;
}

export class V0Generation implements Generation {
  readonly version = "v0" as const;

  constructor(private readonly context: GenerationContext) {}

  async create(rt: Runtime, request: NewConversation): Promise<Conversation> {
    if (request.title != null) validateTitle(request.title);
    const body = v0.createBody(request.prompt, {
      repository: request.repository,
      selected_branch: request.branch,
      git_provider: request.gitProvider,
      image_urls: request.imageUrls,
      conversation_instructions: request.conversationInstructions,
      ...(request.options ?? {}),
    });
    const [conversationId, found] = await this.createExactlyOnce(rt, body);
    // V0 create has no title field: rename right after (the nearest equivalent).
    if (request.title != null) await rt.send(v0.updateTitle(conversationId, request.title));
    if (found !== null) {
      return { ...v0.toConversation(found, this.context.baseUrl), title: request.title ?? found.title ?? null, outcome: "in_progress" };
    }
    return {
      ...blankConversation(conversationId, "v0", webUrl(this.context.baseUrl, conversationId)),
      title: request.title ?? null,
      runtime: "starting",
      outcome: "in_progress",
      repository: (body.repository as string | undefined) ?? null,
      branch: (body.selected_branch as string | undefined) ?? null,
      gitProvider: (body.git_provider as string | undefined) ?? null,
      raw: { conversation_id: conversationId },
    };
  }

  /**
   * ``POST /api/conversations`` exactly once. When the answer is lost after the request may
   * have arrived, the lookup searches for it: found, that is the answer; provably absent, send
   * again (at most maxResends times); undecidable, the original error says it may exist.
   */
  private async createExactlyOnce(rt: Runtime, body: Record<string, unknown>): Promise<[string, ConversationInfo | null]> {
    const claim = { fingerprint: fingerprint(body) };
    this.context.inFlight.push(claim);
    try {
      let tries = 0;
      for (;;) {
        const sentWall = rt.wallNow();
        const sentMono = rt.now();
        let response: { conversation_id: string };
        try {
          response = await rt.send(v0.createConversation(body));
        } catch (error) {
          if (!isAmbiguous(error)) throw error;
          tries += 1;
          const lookup: Lookup = { body, claim, sentWall, sentMono, firstMessages: new Map() };
          let found: ConversationInfo | null;
          try {
            found = await this.findCreated(rt, lookup, absenceSettle(error, this.context.requestTimeoutMs));
          } catch (lookupError) {
            if (lookupError instanceof CreateUndecided) throw undecided(error, HOW_TO_LOOK);
            throw lookupError;
          }
          if (found !== null) {
            this.context.created.add(found.conversation_id);
            return [found.conversation_id, found];
          }
          if (tries > this.context.maxResends) throw error;
          continue;
        }
        this.context.created.add(response.conversation_id);
        return [response.conversation_id, null];
      }
    } finally {
      this.context.inFlight.splice(this.context.inFlight.indexOf(claim), 1);
    }
  }

  /** The conversation the lost create made; null when provably none; CreateUndecided otherwise. */
  private async findCreated(rt: Runtime, lookup: Lookup, settleMs: number): Promise<ConversationInfo | null> {
    const started = rt.now();
    let answeredAt = started;
    let interval = this.context.poll.intervalMs;
    for (;;) {
      const now = rt.now();
      let found: ConversationInfo | null = null;
      let pending: boolean;
      try {
        [found, pending] = await this.lookForCreated(rt, lookup);
        answeredAt = now;
      } catch (error) {
        if (!isTransient(error)) throw error;
        if (now - answeredAt >= SILENT_LOOKUP_LIMIT_MS) throw new CreateUndecided("the server does not answer the lookup");
        pending = true;
      }
      if (found !== null) return found;
      if (!pending && now - started >= settleMs) return null;
      if (now - started >= this.context.startTimeoutMs) throw new CreateUndecided("a conversation that may be ours is still undecided");
      await rt.sleep(interval);
      interval = nextInterval(this.context.poll, interval);
    }
  }

  /**
   * One look: [ours or null, whether something could not be decided yet]. Pages through the
   * conversations created since the send (by the server's clock, from each list answer's Date,
   * less CLOCK_MARGIN_MS); a candidate is one this client does not know with our repository,
   * branch and provider; it is ours when its first user message is ours.
   */
  private async lookForCreated(rt: Runtime, lookup: Lookup): Promise<[ConversationInfo | null, boolean]> {
    const known = this.context.created;
    let pending = false;
    const matches: ConversationInfo[] = [];
    let pageId: string | null = null;
    for (;;) {
      const list = v0.listConversations({ pageId, limit: 100 });
      const [page, serverNow] = await rt.send({ request: list.request, parse: (response) => [list.parse(response), serverClock(response)] as const });
      const arrived = rt.now();
      const oldestPossible = serverNow === null ? lookup.sentWall - LOOKUP_WINDOW_MS : serverNow - (arrived - lookup.sentMono) - CLOCK_MARGIN_MS;
      for (const info of page.results) {
        if (known.has(info.conversation_id) || !couldBe(info, lookup.body)) continue;
        const created = info.created_at ? Date.parse(info.created_at) : Number.NaN;
        if (!Number.isNaN(created) && created < oldestPossible) continue;
        let first = lookup.firstMessages.get(info.conversation_id);
        if (first === undefined) {
          const events = await rt.send(v0.getEvents(info.conversation_id, { limit: 10 }));
          const message = events.events.find((e) => e.source === "user" && e.action === "message");
          if (message !== undefined) {
            first = message.args?.content;
            lookup.firstMessages.set(info.conversation_id, first);
          }
        }
        if (first === undefined)
          pending = true; // recorded once the runtime is up
        else if (first === lookup.body.initial_user_msg) matches.push(info);
      }
      const times = page.results.map((i) => (i.created_at ? Date.parse(i.created_at) : Number.NaN)).filter((t) => !Number.isNaN(t));
      const oldest = times.length ? Math.min(...times) : null;
      if (page.next_page_id === null || page.next_page_id === pageId || (oldest !== null && oldest < oldestPossible)) break;
      pageId = page.next_page_id;
    }
    const rivals = this.context.inFlight.filter((c) => c !== lookup.claim && c.fingerprint === lookup.claim.fingerprint);
    if (matches.length === 1 && !rivals.length) return [matches[0] ?? null, false];
    return [null, pending || matches.length > 0];
  }

  async observe(rt: Runtime, conversationId: string): Promise<ConversationResult> {
    const tracker = new V0Tracker();
    const [info, assessment] = await look(rt, conversationId, tracker);
    if (info === null) throw notFound(conversationId, "GET", v0.conversationPath(conversationId));
    return toResult(conversationId, info, assessment, tracker.kept, this.context.baseUrl);
  }

  async result(rt: Runtime, conversationId: string): Promise<ConversationResult> {
    const result = await this.observe(rt, conversationId);
    if (succeeded(result.outcome) && result.finalMessage === null) {
      // The final text is not among the events read: look through the whole history once.
      const events = await rt.send(v0.getTrajectory(conversationId));
      return { ...result, finalMessage: v0.finalMessage(events) };
    }
    return result;
  }

  async wait(rt: Runtime, conversationId: string, options: WaitSettings): Promise<ConversationResult> {
    validateId(conversationId);
    const tracker = new V0Tracker(options.after?.marker ?? -1);
    let last: ConversationResult | null = null;
    const baseUrl = this.context.baseUrl;
    return until(
      rt,
      async (inner) => {
        const [info, assessment] = await look(inner, conversationId, tracker);
        last = toResult(
          conversationId,
          info,
          assessment,
          tracker.kept.filter((e) => e.id > tracker.marker),
          baseUrl,
        );
        if (isTerminal(last.outcome)) return last;
        options.onProgress?.(last);
        return null;
      },
      { deadline: rt.now() + options.timeoutMs, poll: options.poll, timedOut: (error) => waitTimedOut(conversationId, options.timeoutMs, last, error) },
    );
  }

  async *iterConversations(rt: Runtime, pageSize: number): AsyncGenerator<Conversation, void, undefined> {
    const baseUrl = this.context.baseUrl;
    for await (const info of uniquePages(
      rt,
      (pageId) => v0.listConversations({ pageId, limit: pageSize }),
      (page) => page.results,
      (info) => info.conversation_id,
    )) {
      yield v0.toConversation(info, baseUrl);
    }
  }

  async *iterEvents(rt: Runtime, conversationId: string, options: { reverse: boolean; pageSize: number }): AsyncGenerator<Event, void, undefined> {
    const limit = Math.min(options.pageSize, v0.MAX_EVENTS_LIMIT);
    let lower = 0;
    let upper: number | null = null;
    for (let first = true; ; first = false) {
      let page: V0EventPage;
      try {
        page = await rt.send(v0.getEvents(conversationId, { startId: lower, endId: upper, reverse: options.reverse, limit }));
      } catch (error) {
        // A V1 conversation seen through 1.x's V0 routes has no V0 events: hand it over.
        if (first && error instanceof NotFoundError) await this.existing(rt, conversationId);
        throw error;
      }
      for (const event of page.events) yield v0.toEvent(event);
      if (!page.events.length || !page.has_more) return;
      const ids = page.events.map((e) => e.id);
      if (options.reverse) {
        upper = Math.min(...ids) - 1;
        if (upper < 0) return;
      } else {
        lower = Math.max(...ids) + 1;
      }
    }
  }

  private async existing(rt: Runtime, conversationId: string): Promise<ConversationInfo> {
    const info = ownedHere(conversationId, await rt.send(v0.getConversation(conversationId)));
    if (info === null) throw notFound(conversationId, "GET", v0.conversationPath(conversationId));
    return info;
  }

  /** Send a follow-up, restarting a stopped runtime first; the receipt holds the wait marker. */
  async sendMessage(rt: Runtime, conversationId: string, message: string): Promise<SentMessage> {
    const call = v0.sendMessage(conversationId, message); // validates before any request
    await this.ensureRunning(rt, conversationId);
    const marker = await newestEventId(rt, conversationId);
    await rt.send(call);
    return { conversationId, marker, executionStatus: null, previousMessageId: null };
  }

  /** Make sure the runtime runs (a STOPPED one refuses messages), and wait for the restart. */
  private async ensureRunning(rt: Runtime, conversationId: string): Promise<ConversationInfo> {
    const timeoutMs = this.context.startTimeoutMs;
    const started = rt.now();
    const info = await this.existing(rt, conversationId);
    if (info.status === "RUNNING") return info;
    const before = await newestEventId(rt, conversationId);
    if (info.status !== "STARTING") await rt.send(v0.startConversation(conversationId));
    const tracker = new V0Tracker(before);
    const path = v0.conversationPath(conversationId, "/start");
    return until(
      rt,
      async (inner) => {
        const [current] = await look(inner, conversationId, tracker);
        const progress = restartProgress(current, tracker.deciding);
        if (progress === "ready") return current;
        if (progress === "gone") throw notFound(conversationId, "POST", path);
        if (progress === "stopped_again") {
          throw new ConversationStartError(
            `Conversation ${conversationId} stopped again while its runtime was starting; the server may be running too many conversations. Start it again later.`,
            { conversationId },
          );
        }
        if (progress === "cannot_restart") {
          throw new NotFoundError(`Conversation ${conversationId} cannot be restarted (status ${current?.status})`, { statusCode: 404, method: "POST", path });
        }
        return null;
      },
      {
        deadline: started + timeoutMs,
        poll: this.context.poll,
        timedOut: (error) =>
          new WaitTimeoutError(
            `Conversation ${conversationId} did not start running within ${timeoutMs / 1000}s${error ? ` (last error: ${error.message})` : ""}`,
            {
              conversationId,
              timeoutMs,
            },
          ),
      },
    );
  }

  async stop(rt: Runtime, conversationId: string): Promise<void> {
    // /stop of an unknown id answers as if it had stopped something: ask first.
    await this.existing(rt, conversationId);
    await rt.send(v0.stopConversation(conversationId));
  }

  async resume(rt: Runtime, conversationId: string): Promise<void> {
    await this.existing(rt, conversationId);
    await rt.send(v0.startConversation(conversationId));
  }

  /** A conversation still STARTING (or racing its runtime close) answers one 500: try once more. */
  async delete(rt: Runtime, conversationId: string): Promise<boolean> {
    try {
      return await rt.send(v0.deleteConversation(conversationId));
    } catch (error) {
      if (!(error instanceof ServerError)) throw error;
      return rt.send(v0.deleteConversation(conversationId));
    }
  }

  async setTitle(rt: Runtime, conversationId: string, title: string): Promise<void> {
    await rt.send(v0.updateTitle(conversationId, title));
  }

  /** V0 has no zip of the history: its trajectory (every event as JSON) is the nearest equivalent. */
  historyRequest(conversationId: string): ApiRequest {
    return v0.trajectoryStream(conversationId);
  }
}
