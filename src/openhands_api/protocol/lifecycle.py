"""Is it done? Every rule that decides a conversation's outcome lives here, and only here.

Theory of operation
-------------------
A V0 conversation has two clocks that do not agree. ``status`` (STARTING, RUNNING, STOPPED,
ARCHIVED, ERROR) describes the *runtime*: it stays RUNNING after the agent has finished, until
the runtime is closed (an hour later on a self-hosted server). The *agent's* state exists only
in the event stream, as ``agent_state_changed`` observations. So the outcome is read from both:
the newest agent state since the caller's marker, then the runtime.

The marker makes "wait for the turn I just started" correct: after a follow-up message the
previous turn's ``finished`` is still the newest agent state until the agent picks the
message up, so only states newer than the newest event id seen *before* the message count.
``loading``, ``stopped`` and ``init`` never decide anything: ``stopped`` is appended by every
stop (including the server evicting the oldest of too many conversations), and the runtime
status tells that story better.

A V1 conversation starts as a *start task* (phase A) that walks through its statuses to READY
(then the conversation exists) or ERROR. Then (phase B) ``sandbox_status`` says whether compute
exists and ``execution_status`` what the agent does; the latter is null unless the sandbox runs,
so for a paused or deleted sandbox the last known status (L, from the events) decides whether
the run had ended well. ``idle`` is the state *before* a run and ``finished`` may be the
previous run's: right after a create or a message they are trusted only once *settled* (the
client saw ``running`` since its action, or an execution-status event newer than its action,
or nothing changed for a settle window). The caller works out ``settled``; the table uses it.

The decision tables below mirror CONTRACT.md §4.2 and §6.4 row by row, first match wins; each
row carries its number so tests and debug output can name it.

Besides the tables, the rules around them live here too: which extra facts a V1 read needs
(:func:`needs_last_known`, :func:`needs_error_detail`) and how they are read from events
(:func:`last_known_execution_status`, :func:`error_detail`); when the events prove that a
status belongs to the caller's turn (:func:`events_prove_new_turn`); how long a successful
end waits for its answer (:func:`with_answer`, ``ANSWER_GRACE``); and what a V0 restart has
reached (:func:`restart_progress`); what a page of the newest V0 events proves about the agent
(:func:`v0_page_state`).

Not in here: fetching anything (the generation operations in ``v0_ops.py`` and ``v1_ops.py``
ask these functions and fetch what they say is needed), or presenting the result (``models.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from ..models import AppConversation, ConversationInfo, Outcome, StartTask, V0Event, V1Event

__all__ = [
    "V0_ROWS",
    "V1_ROWS",
    "AgentStateChange",
    "Assessment",
    "RestartProgress",
    "V0Facts",
    "V1Facts",
    "agent_stepped",
    "classify_start_task",
    "classify_v0",
    "classify_v1",
    "error_detail",
    "events_prove_new_turn",
    "is_runtime_failure",
    "last_known_execution_status",
    "needs_error_detail",
    "needs_last_known",
    "newest_agent_state",
    "refine_v1_finished",
    "restart_progress",
    "sandbox_runtime",
    "v0_page_state",
    "v0_runtime",
    "with_answer",
]

# Agent states that never decide an outcome (see the module docstring).
IGNORED_AGENT_STATES = frozenset({"loading", "stopped", "init"})

RUNTIME_FAILURES = frozenset(
    {
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
    }
)

_V0_RUNTIME = {
    "STARTING": "starting",
    "RUNNING": "running",
    "STOPPED": "stopped",
    "ARCHIVED": "gone",
    "ERROR": "error",
}


@dataclass(frozen=True)
class AgentStateChange:
    """The newest deciding ``agent_state_changed`` event: its id, state and reason.

    ``inferred``: no such event was read; the agent stepped at ``event_id`` (an agent action),
    which proves it was ``running`` then (:func:`v0_page_state`)."""

    event_id: int
    state: str
    reason: str | None = None
    inferred: bool = False


@dataclass(frozen=True)
class Assessment:
    """The verdict on a conversation, with the table row that produced it."""

    outcome: Outcome
    detail: str | None = None
    phase: str | None = None  # "starting" while compute is being prepared
    runtime: str | None = None  # starting | running | stopped | gone | error
    agent_state: str | None = None
    row: int = 0


def is_runtime_failure(runtime_status: str | None) -> bool:
    """A failing RuntimeStatus; unknown ``STATUS$ERROR…`` values count as failures too."""
    if not runtime_status:
        return False
    return runtime_status in RUNTIME_FAILURES or runtime_status.startswith("STATUS$ERROR")


def v0_runtime(info: ConversationInfo | None) -> str | None:
    """The unified ``runtime`` value for a V0 conversation (CONTRACT §7.2)."""
    if info is None:
        return "gone"
    return _V0_RUNTIME.get(info.status or "")


def newest_agent_state(events: Iterable[V0Event], marker: int = -1) -> AgentStateChange | None:
    """The newest deciding agent state among ``events`` with id > ``marker`` (any order)."""
    best: AgentStateChange | None = None
    for event in events:
        state = event.agent_state
        if state is None or state in IGNORED_AGENT_STATES or event.id <= marker:
            continue
        if best is None or event.id > best.event_id:
            reason = event.extras.get("reason")
            best = AgentStateChange(event.id, state, reason if isinstance(reason, str) and reason else None)
    return best


# Agent actions that are not a step of the agent: ``system`` (the system prompt) is added when
# the agent controller is created, before the agent has any state.
_NOT_A_STEP = frozenset({"system"})


def agent_stepped(event: V0Event) -> bool:
    """Whether ``event`` is an action the agent took in a step (only a RUNNING agent steps)."""
    return event.source == "agent" and event.action is not None and event.action not in _NOT_A_STEP


def v0_page_state(events: Iterable[V0Event]) -> AgentStateChange | None:
    """The newest deciding agent state *overall*, from a contiguous run of the newest events
    (every event from the run's oldest up to the newest; any order), or None when the run
    cannot tell and older events must be read.

    Why a page of newest events can decide without reaching the state that began the turn
    (openhands-ai 1.6.0, ``controller/agent_controller.py``):

    - A deciding state in the run is the newest one overall: nothing newer exists.
    - Otherwise an agent action in the run (source ``agent``: ``run``, ``think``, ``message``,
      ``finish``, ``condensation_request`` …) proves the agent was RUNNING when it took it:
      ``_step`` returns at once unless the state is RUNNING, and every action the agent takes
      comes from ``_step``. Every change of state emits an ``agent_state_changed`` observation
      (``set_agent_state_to``), so no deciding state lies between that action and the newest
      event, and the state the agent acted under — the newest deciding state — is ``running``
      (inferred, at the action's id; the V0 table treats it like no state: in progress).
      Exceptions checked: ``system`` is added before the agent has a state (not a step); an
      action re-added on user confirmation comes right before its ``user_confirmed`` state,
      which is then in the run too. Observations do not count: the runtime files them under
      the action's source (``agent``) and one can arrive after a stop or an error.
    - The run holds neither (e.g. only observations, user messages, ignored states): it
      cannot tell; only then are older events read.

    A finished turn is never taken for a running one: after ``finish`` (or an agent message
    that waits for the user) the controller emits the state change and steps no more until a
    new ``running`` is announced; what may follow (``stopped``/``loading`` on a stop or
    restart, user messages) is no agent action.
    """
    events = list(events)
    state = newest_agent_state(events)
    if state is not None:
        return state
    stepped = max((e.id for e in events if agent_stepped(e)), default=None)
    if stepped is None:
        return None
    return AgentStateChange(stepped, "running", inferred=True)


@dataclass(frozen=True)
class V0Facts:
    """The inputs of the V0 table: the conversation (None if the server said ``null``) and A."""

    info: ConversationInfo | None
    agent: AgentStateChange | None

    @property
    def status(self) -> str | None:
        return self.info.status if self.info else None

    @property
    def runtime_status(self) -> str | None:
        return self.info.runtime_status if self.info else None

    @property
    def agent_state(self) -> str | None:
        return self.agent.state if self.agent else None

    @property
    def reason(self) -> str | None:
        return self.agent.reason if self.agent else None


@dataclass(frozen=True)
class Row:
    number: int
    condition: str
    matches: Callable[[V0Facts], bool]
    outcome: Outcome
    detail: Callable[[V0Facts], str | None]


# CONTRACT.md §4.2, in order. First match wins.
V0_ROWS: tuple[Row, ...] = (
    Row(
        1,
        "info is null",
        lambda f: f.info is None,
        Outcome.GONE,
        lambda f: "the conversation does not exist (unknown id, or deleted)",
    ),
    Row(
        2,
        "A = error",
        lambda f: f.agent_state == "error",
        Outcome.FAILED,
        lambda f: f.reason or "the agent stopped with an error",
    ),
    Row(
        3,
        "A = rejected",
        lambda f: f.agent_state == "rejected",
        Outcome.FAILED,
        lambda f: f.reason or "the agent rejected the task",
    ),
    Row(4, "A = finished", lambda f: f.agent_state == "finished", Outcome.FINISHED, lambda f: None),
    Row(
        5,
        "A = awaiting_user_input",
        lambda f: f.agent_state == "awaiting_user_input",
        Outcome.WAITING_FOR_USER,
        lambda f: "the agent answered and is waiting for a reply",
    ),
    Row(
        6,
        "status == ERROR",
        lambda f: f.status == "ERROR",
        Outcome.FAILED,
        lambda f: f.runtime_status or "the runtime failed",
    ),
    Row(
        7,
        "runtime_status is a failure",
        lambda f: is_runtime_failure(f.runtime_status),
        Outcome.FAILED,
        lambda f: f.runtime_status,
    ),
    Row(
        8,
        "A = awaiting_user_confirmation",
        lambda f: f.agent_state == "awaiting_user_confirmation",
        Outcome.BLOCKED,
        lambda f: "an action is waiting for confirmation",
    ),
    Row(
        9,
        "A = paused",
        lambda f: f.agent_state == "paused",
        Outcome.BLOCKED,
        lambda f: "the agent was paused",
    ),
    Row(
        10,
        "status == STOPPED",
        lambda f: f.status == "STOPPED",
        Outcome.STOPPED,
        lambda f: "the runtime was stopped before the turn ended; start it to continue",
    ),
    Row(
        11,
        "status == ARCHIVED",
        lambda f: f.status == "ARCHIVED",
        Outcome.GONE,
        lambda f: "the runtime was deleted (archived)",
    ),
    Row(12, "anything else", lambda f: True, Outcome.IN_PROGRESS, lambda f: None),
)


def classify_v0(info: ConversationInfo | None, agent: AgentStateChange | None) -> Assessment:
    """The V0 outcome from the conversation and its newest deciding agent state."""
    facts = V0Facts(info, agent)
    for row in V0_ROWS:
        if row.matches(facts):
            phase = "starting" if row.outcome is Outcome.IN_PROGRESS and facts.status == "STARTING" else None
            return Assessment(
                outcome=row.outcome,
                detail=row.detail(facts),
                phase=phase,
                runtime=v0_runtime(info),
                agent_state=facts.agent_state,
                row=row.number,
            )
    raise AssertionError("the last row matches everything")  # pragma: no cover


class RestartProgress(str, Enum):
    """How far a V0 restart (``POST …/start`` after STOPPED) has come."""

    READY = "ready"  # RUNNING, and the agent has announced a state since the restart
    STARTING = "starting"  # keep waiting
    STOPPED_AGAIN = "stopped_again"  # the server closed the new session: waiting never ends
    CANNOT_RESTART = "cannot_restart"  # ERROR or ARCHIVED: no restart will help
    GONE = "gone"  # the server says null: deleted


def restart_progress(info: ConversationInfo | None, agent: AgentStateChange | None) -> RestartProgress:
    """What a read after ``/start`` says of the restart (``agent``: newest state since it).

    RUNNING alone is not enough: the server appends ``awaiting_user_input`` a moment after the
    status turns RUNNING, and a message sent before that would find the old state newest. The
    new session is registered before ``/start`` answers, so STOPPED afterwards means the
    server closed it again (on 1.6.0: a newer conversation took the slot of the three it
    runs, or the runtime failed).
    """
    if info is None:
        return RestartProgress.GONE
    if info.status == "RUNNING" and agent is not None:
        return RestartProgress.READY
    if info.status == "STOPPED":
        return RestartProgress.STOPPED_AGAIN
    if info.status in ("ERROR", "ARCHIVED"):
        return RestartProgress.CANNOT_RESTART
    return RestartProgress.STARTING


# ---------------------------------------------------------------------------- V1


def classify_start_task(task: StartTask | None) -> Assessment | None:
    """Phase A (CONTRACT §6.4). ``None`` means READY: go on to the conversation (phase B)."""
    if task is None:
        return Assessment(Outcome.GONE, "the start task does not exist", runtime="gone", row=1)
    if task.status == "ERROR":
        return Assessment(
            Outcome.FAILED, task.detail or "the conversation failed to start", runtime="error", row=2
        )
    if task.status == "READY":
        return None
    return Assessment(Outcome.IN_PROGRESS, task.status, phase="starting", runtime="starting", row=4)


_SANDBOX_RUNTIME = {
    "STARTING": "starting",
    "RUNNING": "running",
    "PAUSED": "stopped",
    "MISSING": "gone",
    "ERROR": "error",
}


def sandbox_runtime(sandbox_status: str | None) -> str | None:
    """The unified ``runtime`` value for a V1 sandbox status (CONTRACT §7.2)."""
    return _SANDBOX_RUNTIME.get(sandbox_status or "")


_FAILED_EXECUTION = frozenset({"error", "stuck"})


@dataclass(frozen=True)
class V1Facts:
    """The inputs of the V1 table: the conversation (None: unknown), L, and the settle verdict."""

    conversation: AppConversation | None
    last_known: str | None = None
    settled: bool = True
    error_detail: str | None = None

    @property
    def sandbox(self) -> str | None:
        return self.conversation.sandbox_status if self.conversation else None

    @property
    def execution(self) -> str | None:
        return self.conversation.execution_status if self.conversation else None

    @property
    def running(self) -> bool:
        return self.sandbox == "RUNNING"


def _ended_well_before(f: V1Facts, otherwise: Outcome) -> Outcome:
    if f.last_known == "finished":
        return Outcome.FINISHED
    if f.last_known in _FAILED_EXECUTION:
        return Outcome.FAILED
    return otherwise


def _detail_without_compute(f: V1Facts, otherwise: str) -> str | None:
    """The detail when the sandbox is paused or gone: the run's error, nothing if it finished."""
    if f.last_known in _FAILED_EXECUTION:
        return f.error_detail
    return None if f.last_known == "finished" else otherwise


@dataclass(frozen=True)
class V1Row:
    number: int
    condition: str
    matches: Callable[[V1Facts], bool]
    outcome: Callable[[V1Facts], Outcome]
    detail: Callable[[V1Facts], str | None]


# CONTRACT.md §6.4 phase B, in order. First match wins.
V1_ROWS: tuple[V1Row, ...] = (
    V1Row(
        1,
        "conversation is null",
        lambda f: f.conversation is None,
        lambda f: Outcome.GONE,
        lambda f: "the conversation does not exist (unknown id, or deleted)",
    ),
    V1Row(
        2,
        "sandbox ERROR",
        lambda f: f.sandbox == "ERROR",
        lambda f: Outcome.FAILED,
        lambda f: "the sandbox failed",
    ),
    V1Row(
        3,
        "sandbox MISSING",
        lambda f: f.sandbox == "MISSING",
        lambda f: _ended_well_before(f, Outcome.GONE),
        lambda f: _detail_without_compute(f, "the sandbox is gone"),
    ),
    V1Row(
        4,
        "sandbox PAUSED",
        lambda f: f.sandbox == "PAUSED",
        lambda f: _ended_well_before(f, Outcome.STOPPED),
        lambda f: _detail_without_compute(f, "the sandbox is paused; resume it to continue"),
    ),
    V1Row(
        5,
        "sandbox STARTING",
        lambda f: f.sandbox == "STARTING",
        lambda f: Outcome.IN_PROGRESS,
        lambda f: None,
    ),
    V1Row(
        6,
        "RUNNING, finished",
        lambda f: f.running and f.execution == "finished",
        lambda f: Outcome.FINISHED if f.settled else Outcome.IN_PROGRESS,
        lambda f: None,
    ),
    V1Row(
        7,
        "RUNNING, error / stuck",
        lambda f: f.running and f.execution in _FAILED_EXECUTION,
        lambda f: Outcome.FAILED,
        lambda f: f.error_detail or f.execution,
    ),
    V1Row(
        8,
        "RUNNING, waiting_for_confirmation",
        lambda f: f.running and f.execution == "waiting_for_confirmation",
        lambda f: Outcome.BLOCKED,
        lambda f: "an action is waiting for confirmation",
    ),
    V1Row(
        9,
        "RUNNING, paused",
        lambda f: f.running and f.execution == "paused",
        lambda f: Outcome.BLOCKED,
        lambda f: "the agent was paused",
    ),
    V1Row(
        10,
        "RUNNING, idle",
        lambda f: f.running and f.execution == "idle",
        lambda f: Outcome.WAITING_FOR_USER if f.settled else Outcome.IN_PROGRESS,
        lambda f: "the agent is idle and waiting for a message" if f.settled else None,
    ),
    V1Row(
        11,
        "RUNNING, deleting",
        lambda f: f.running and f.execution == "deleting",
        lambda f: Outcome.GONE,
        lambda f: "the conversation is being deleted",
    ),
    V1Row(12, "anything else", lambda f: True, lambda f: Outcome.IN_PROGRESS, lambda f: None),
)


def classify_v1(
    conversation: AppConversation | None,
    *,
    last_known: str | None = None,
    settled: bool = True,
    error_detail: str | None = None,
) -> Assessment:
    """The V1 outcome (phase B) of a conversation read through ``GET ?ids=``."""
    facts = V1Facts(conversation, last_known, settled, error_detail)
    runtime = sandbox_runtime(facts.sandbox) if conversation else "gone"
    for row in V1_ROWS:
        if row.matches(facts):
            outcome = row.outcome(facts)
            phase = "starting" if facts.sandbox == "STARTING" else None
            return Assessment(
                outcome=outcome,
                detail=row.detail(facts),
                phase=phase,
                runtime=runtime,
                agent_state=facts.execution or facts.last_known,
                row=row.number,
            )
    raise AssertionError("the last row matches everything")  # pragma: no cover


def needs_last_known(conversation: AppConversation) -> bool:
    """L is needed when the live status is null because the sandbox is paused or gone."""
    return conversation.execution_status is None and conversation.sandbox_status in ("PAUSED", "MISSING")


def last_known_execution_status(events_newest_first: Sequence[V1Event]) -> str | None:
    """L: the newest execution status in ``ConversationStateUpdateEvent``s (newest first)."""
    for event in events_newest_first:
        data = event.model_extra or {}
        if data.get("key") == "execution_status" and isinstance(data.get("value"), str):
            return str(data["value"])
        if data.get("key") == "full_state" and isinstance(data.get("value"), dict):
            status = data["value"].get("execution_status")
            if isinstance(status, str):
                return status
    return None


def needs_error_detail(assessment: Assessment, conversation: AppConversation, last_known: str | None) -> bool:
    """A failed run's detail comes from its newest ``ConversationErrorEvent``."""
    return assessment.outcome is Outcome.FAILED and (
        conversation.execution_status in _FAILED_EXECUTION or last_known in _FAILED_EXECUTION
    )


def error_detail(error_events: Sequence[V1Event]) -> str | None:
    """The detail of the newest ``ConversationErrorEvent`` given (newest first)."""
    for event in error_events:
        data = event.model_extra or {}
        detail = data.get("detail") or data.get("code")
        if isinstance(detail, str) and detail:
            return detail
    return None


# How long a wait that saw a successful end keeps looking for the agent's answer in the app
# server's copy of the events, which lags the live status (agent-server webhooks).
ANSWER_GRACE = 5.0


def with_answer(
    assessment: Assessment, answered_with: str | None, *, has_answer: bool, ended_for: float | None
) -> Assessment:
    """A successful end, judged with its answer: ``answered_with`` is ``"finish"``,
    ``"message"`` or None (no answer among the newest events, after the newest user message).

    - A plain-text answer makes ``finished`` a question (:func:`refine_v1_finished`).
    - ``idle`` with no answer in the current turn is the moment before the run: the start task
      turns READY once the initial message's run is *scheduled*, and the agent server moves
      idle → running only after initialising the agent (openhands-ai 1.11.0:
      ``live_status_app_conversation_service`` sets READY after the agent server's create
      returned; ``event_service.run`` starts the run as a task; ``LocalConversation.run``
      turns RUNNING after ``_ensure_agent_ready``). It waits for nobody yet: in progress.
      A run that has ended reports ``finished`` (1.11.0 does for a text answer too), so an
      idle conversation waiting for a reply has one.
    - A wait that has seen ``finished`` for ``ended_for`` seconds (None: a single look, no
      grace) and has no answer yet keeps the turn in progress for ``ANSWER_GRACE``: the
      answer is on its way (the app server's copy of the events lags the live status).
    """
    refined = refine_v1_finished(assessment, answered_with)
    if has_answer:
        return refined
    if assessment.agent_state == "idle" and assessment.outcome is Outcome.WAITING_FOR_USER:
        return replace(refined, outcome=Outcome.IN_PROGRESS, detail="the agent has not started the run yet")
    if ended_for is not None and ended_for < ANSWER_GRACE:
        return replace(refined, outcome=Outcome.IN_PROGRESS)
    return refined


def events_prove_new_turn(
    events_newest_first: Sequence[V1Event], status: str, before_message_id: str | None
) -> bool:
    """Do the events prove that ``status`` was reached after the caller's message?

    Newest first, an ``execution_status`` update to ``status`` must come before (i.e. after in
    time) a user message that is not the one that was newest before the action. The app
    server's events lag the live status, so "no" often just means "not yet".
    """
    status_seen = False
    for event in events_newest_first:
        data = event.model_extra or {}
        if event.kind == "ConversationStateUpdateEvent" and data.get("key") == "execution_status":
            status_seen = status_seen or data.get("value") == status
        elif event.kind == "MessageEvent" and event.source == "user":
            return status_seen and event.id != before_message_id
    return False


def refine_v1_finished(assessment: Assessment, answered_with: str | None) -> Assessment:
    """``finished`` after a plain-text answer is a question to the user.

    V1 reports ``finished`` both when the agent called its finish tool and when it simply
    replied in text (observed on 1.11.0; CONTRACT §6.4 assumed a settled ``idle`` for the
    latter). V0 calls the second case ``awaiting_user_input``; the unified outcome follows V0,
    so the same script sees ``waiting_for_user`` on both generations.
    """
    if assessment.outcome is Outcome.FINISHED and answered_with == "message":
        return replace(
            assessment,
            outcome=Outcome.WAITING_FOR_USER,
            detail="the agent answered and is waiting for a reply",
        )
    return assessment


# Live statuses that may be the previous turn's right after an action (see SettleTracker).
SETTLE_CANDIDATES = frozenset({"finished", "idle", "error", "stuck", "waiting_for_confirmation", "paused"})


@dataclass
class SettleTracker:
    """Decides whether a V1 ``finished``/``idle`` belongs to the turn the caller started.

    After a message the old ``finished`` stays visible until the agent picks the message up,
    and the run passes through ``idle`` (finished → idle → running → finished, CONTRACT §6.3).
    A status ``s`` counts once any of these holds since the action:

    - ``running`` was seen;
    - ``s`` is not ``idle`` and some status other than the one before the action was seen
      (``s`` itself included: a fresh ``error`` after ``finished`` is news);
    - ``s`` has not changed for ``window`` seconds (the run was too quick to observe);
    - the events prove it (:meth:`confirm`): a status update newer than the caller's message.

    ``before`` is the execution status just before the action. Without an action (a plain
    wait, or a wait right after a create) everything counts at once: a new conversation's
    ``idle`` before its first run is told apart by :func:`with_answer` (no answer yet).
    """

    acted: bool = False
    before: str | None = None
    window: float = 10.0
    before_message_id: str | None = None
    seen_running: bool = False
    seen_other: bool = False
    confirmed: bool = False
    _current: str | None = None
    _current_since: float = 0.0

    @classmethod
    def after_message(
        cls, before: str | None, before_message_id: str | None = None, window: float = 10.0
    ) -> SettleTracker:
        return cls(acted=True, before=before, before_message_id=before_message_id, window=window)

    def wants_proof(self, status: str | None, settled: bool) -> bool:
        """Worth asking the events (:func:`events_prove_new_turn`) whether ``status``, not yet
        settled by observation, already belongs to the caller's turn."""
        return not settled and self.acted and status in SETTLE_CANDIDATES

    def confirm(self) -> None:
        """The events showed that the current status belongs to the new turn."""
        self.confirmed = True

    def observe(self, status: str | None, now: float) -> bool:
        """Record one observation at monotonic time ``now``; True if ``status`` counts."""
        if not self.acted or self.confirmed:
            return True
        if status is None:
            return False
        if status == "running":
            self.seen_running = True
        if status != self.before:
            self.seen_other = True
        if status != self._current:
            self._current, self._current_since = status, now
        if self.seen_running or (status != "idle" and self.seen_other):
            return True
        return now - self._current_since >= self.window
