"""Fault rules and chaos: *which* requests the fake server answers badly, and with what.

Responsible for:

* ``FaultRule`` — one scripted fault: its kind, which requests it matches (method, ``fnmatch``
  glob on the path), how many it hits (``skip``, ``times``, ``probability``) and the kind's
  parameters; validated on construction, with a JSON form for ``/_fake/faults`` and ``serve
  --fault``.
* ``Chaos`` — random faults of a set of kinds on a share of the matching requests.
* ``FaultRecord`` — one fault that fired (``state.faults.fired``).
* ``FaultSet`` — ``state.faults``: the rules with their counters, the chaos setting, the seeded
  random draws and the log of fired faults. ``pick()`` is the single decision per request.
  Thread-safe (the server thread picks while a test thread adds rules).

Not responsible for: carrying a fault out — ``faults/injector.py`` answers, holds, truncates and drops
connections — nor refusing connections, which happens before any request exists
(``FakeOpenHandsServer.refuse_connections``). Pure Python, no ASGI: ``FaultRule`` and ``Chaos``
can be built without the ``testing`` extra's web stack.
"""

from __future__ import annotations

import dataclasses
import email.utils
import fnmatch
import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

FAULT_KINDS: tuple[str, ...] = (
    "reset_before",
    "reset_after",
    "slow",
    "status",
    "html",
    "truncated_json",
    "wrong_shape",
    "rate_limit",
    "concurrency_limit",
    "trickle",
    "corrupt_gzip",
    "oversize",
    "gzip_bomb",
    "ws_refuse",
    "ws_stall",
    "ws_drop",
)
"""Every ``fault`` a ``FaultRule`` accepts (documented in ``faults/injector.py``; the ``ws_``
kinds in ``v1/agent_server.py``)."""

WEBSOCKET_FAULT_KINDS: tuple[str, ...] = ("ws_refuse", "ws_stall", "ws_drop")
"""Faults of WebSocket connections (the agent server's ``/sockets/events/{id}``): they match
only WebSocket handshakes, and the other kinds only HTTP requests. Chaos never draws them."""

CHAOS_FAULTS: tuple[str, ...] = (
    "reset_before",
    "reset_after",
    "status",
    "html",
    "truncated_json",
    "rate_limit",
)
"""``Chaos``'s default kinds: the transient failures a robust client rides out. Left out:
``slow`` and ``trickle`` (stall the suite), ``wrong_shape``, ``concurrency_limit``, ``oversize``
and ``gzip_bomb`` (not transient: a client is right to give up on them), ``corrupt_gzip``
(a garbled answer like ``truncated_json``, left out to keep the default mix as it was)."""


def _check_retry_after(value: str | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("retry_after must be seconds ('2') or an HTTP-date")
    text = str(value).strip()
    if text.isdigit():
        return text
    try:
        email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise ValueError(f"retry_after must be seconds ('2') or an HTTP-date, not {value!r}") from None
    return text


def _check_probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError("probability must be a number from 0 to 1")
    return float(value)


@dataclass(frozen=True)
class FaultRule:
    """A fault for the requests that match ``method`` and ``path``.

    ``FaultRule("status", path="/api/conversations", method="POST", status=503, times=2)``
    answers the next two creates with a gateway's 503. Matching: ``method`` is compared
    case-insensitively (None: any); ``path`` is an ``fnmatch`` glob on the path without the
    query (None: any; ``*`` also matches ``/``). Of the matching requests the rule lets the
    first ``skip`` through, then hits each with ``probability`` (drawn from the server's
    seeded random generator) until it has hit ``times`` of them (None: no end).
    """

    fault: str
    _: KW_ONLY
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    skip: int = 0
    probability: float = 1.0
    status: int | None = None
    """``status``: the code (default 500); ``html``: 500 (default), 200 or another 5xx."""
    delay: float | None = None
    """``slow``: seconds the answer is held (required); ``trickle``: seconds between two bytes
    of the answer (default 0.5)."""
    size: int | None = None
    """``oversize``: bytes of the JSON answer sent (default 50 MB); ``gzip_bomb``: bytes the
    gzip body inflates to (default 512 MiB)."""
    retry_after: str | None = None
    """``rate_limit`` (and ``status``): the ``Retry-After`` header, seconds (``"2"``) or an
    HTTP-date; None sends none. An int is taken as seconds."""
    ratelimit_headers: bool = False
    """``rate_limit``: also send ``X-RateLimit-Limit``/``-Remaining``/``-Reset``, as Cloud does."""
    body: Any = None
    """``wrong_shape``: the JSON sent instead of the real answer (default ``{"unexpected": true}``;
    e.g. ``[]`` for a list where an object belongs)."""
    frames: int | None = None
    """``ws_drop``: event frames the socket sends before the connection drops (required, >= 0)."""

    def __post_init__(self) -> None:
        fault = self.fault
        if fault == "refuse":
            raise ValueError(
                "connections are refused before any request exists, so not per route: use "
                "FakeOpenHandsServer.refuse_connections(seconds) or POST /_fake/refuse_connections"
            )
        if fault not in FAULT_KINDS:
            raise ValueError(f"fault must be one of {FAULT_KINDS}, not {fault!r}")
        if self.method is not None:
            if not isinstance(self.method, str) or not self.method:
                raise ValueError("method must be an HTTP method such as 'POST', or None")
            object.__setattr__(self, "method", self.method.upper())
        if self.path is not None and (not isinstance(self.path, str) or not self.path):
            raise ValueError("path must be a glob such as '/api/conversations/*', or None")
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or self.times < 1
        ):
            raise ValueError("times must be >= 1, or None for every matching request")
        if isinstance(self.skip, bool) or not isinstance(self.skip, int) or self.skip < 0:
            raise ValueError("skip must be >= 0")
        object.__setattr__(self, "probability", _check_probability(self.probability))
        if not isinstance(self.ratelimit_headers, bool):
            raise ValueError("ratelimit_headers must be true or false")

        status = self.status
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise ValueError("status must be an integer HTTP status")
        if fault == "status":
            status = 500 if status is None else status
            if not 400 <= status <= 599:
                raise ValueError('a "status" fault needs a 4xx or 5xx status')
        elif fault == "html":
            status = 500 if status is None else status
            if status != 200 and not 500 <= status <= 599:
                raise ValueError('an "html" fault answers 200 or a 5xx status')
        elif fault == "ws_refuse":
            status = 403 if status is None else status
            if not 400 <= status <= 599:
                raise ValueError('a "ws_refuse" fault needs a 4xx or 5xx status')
        elif status is not None:
            raise ValueError('status applies to "status", "html" and "ws_refuse" faults only')
        object.__setattr__(self, "status", status)

        delay = 0.5 if fault == "trickle" and self.delay is None else self.delay
        if fault in ("slow", "trickle", "ws_stall"):
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay <= 0:
                raise ValueError(f'a "{fault}" fault needs delay=SECONDS > 0')
            object.__setattr__(self, "delay", float(delay))
        elif delay is not None:
            raise ValueError('delay applies to "slow", "trickle" and "ws_stall" faults only')
        if fault == "ws_drop":
            if isinstance(self.frames, bool) or not isinstance(self.frames, int) or self.frames < 0:
                raise ValueError('a "ws_drop" fault needs frames=N >= 0')
        elif self.frames is not None:
            raise ValueError('frames applies to "ws_drop" faults only')
        size = (
            {"oversize": 50_000_000, "gzip_bomb": 512 * 1024 * 1024}.get(fault)
            if self.size is None
            else self.size
        )
        if fault in ("oversize", "gzip_bomb"):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f'a "{fault}" fault needs size=BYTES >= 1')
        elif size is not None:
            raise ValueError('size applies to "oversize" and "gzip_bomb" faults only')
        object.__setattr__(self, "size", size)

        if self.retry_after is not None and fault not in ("rate_limit", "status"):
            raise ValueError('retry_after applies to "rate_limit" and "status" faults only')
        object.__setattr__(self, "retry_after", _check_retry_after(self.retry_after))
        if self.ratelimit_headers and fault != "rate_limit":
            raise ValueError('ratelimit_headers applies to "rate_limit" faults only')
        if self.body is not None and fault != "wrong_shape":
            raise ValueError('body applies to "wrong_shape" faults only')

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """A rule from its JSON form (``{"fault": "status", "status": 503, "path": "/api/*"}``);
        ``ValueError`` on unknown keys or bad values."""
        if not isinstance(data, Mapping):
            raise ValueError("a fault rule is a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault rule keys: {unknown}")
        if "fault" not in data:
            raise ValueError('a fault rule needs "fault"')
        values = dict(data)
        return cls(values.pop("fault"), **values)


def _str_tuple(value: Any, name: str, *, upper: bool = False) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{name} must be a non-empty list of strings, or None")
    return tuple(item.upper() for item in items) if upper else items


@dataclass(frozen=True)
class Chaos:
    """Random faults: each matching request is hit with ``probability``; the kind is drawn
    from ``faults`` and a ``status`` fault's code from ``statuses``.

    Draws come from a generator seeded with ``seed`` (None: the server's ``fault_seed``) when
    chaos is switched on, so one seed and one sequence of requests give the same faults every
    run. ``paths`` (globs) and ``methods`` narrow the requests (None: all). ``delay`` is the
    hold of ``slow``; ``retry_after`` and ``ratelimit_headers`` shape ``rate_limit``.
    Scripted rules come first: chaos only sees requests no rule hit.
    """

    probability: float = 0.1
    _: KW_ONLY
    faults: tuple[str, ...] = CHAOS_FAULTS
    statuses: tuple[int, ...] = (502, 503, 504, 500)
    paths: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None
    seed: int | None = None
    delay: float = 1.0
    retry_after: str | None = "1"
    ratelimit_headers: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "probability", _check_probability(self.probability))
        faults = _str_tuple(self.faults, "faults")
        if faults is None:
            raise ValueError("faults must be a non-empty list of fault kinds")
        http_kinds = tuple(k for k in FAULT_KINDS if k not in WEBSOCKET_FAULT_KINDS)
        bad = [f for f in faults if f not in http_kinds]
        if bad:
            raise ValueError(f"unknown fault kinds {bad}; chaos draws from {http_kinds}")
        object.__setattr__(self, "faults", faults)
        statuses = tuple(self.statuses)
        if not statuses or not all(
            isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599 for s in statuses
        ):
            raise ValueError("statuses must be a non-empty list of 4xx/5xx codes")
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "paths", _str_tuple(self.paths, "paths"))
        object.__setattr__(self, "methods", _str_tuple(self.methods, "methods", upper=True))
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError("seed must be an integer or None")
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) or self.delay <= 0:
            raise ValueError("delay must be > 0")
        object.__setattr__(self, "delay", float(self.delay))
        object.__setattr__(self, "retry_after", _check_retry_after(self.retry_after))

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.paths is None or any(fnmatch.fnmatchcase(path, glob) for glob in self.paths)

    def rule_for(self, fault: str, status: int | None) -> FaultRule:
        """The one-off rule that carries out a fault this chaos drew."""
        if fault == "slow":
            return FaultRule(fault, delay=self.delay)
        if fault == "rate_limit":
            return FaultRule(fault, retry_after=self.retry_after, ratelimit_headers=self.ratelimit_headers)
        if fault == "status":
            return FaultRule(fault, status=status)
        return FaultRule(fault)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ("faults", "statuses", "paths", "methods"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Chaos:
        """Chaos from its JSON form (``{"probability": 0.2, "seed": 7}``); ``ValueError`` on
        unknown keys or bad values."""
        if not isinstance(data, Mapping):
            raise ValueError("chaos is a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown chaos keys: {unknown}")
        return cls(**data)


@dataclass(frozen=True)
class FaultRecord:
    """A fault that fired."""

    rule_id: int | None
    """The rule's id, None when chaos drew it."""
    fault: str
    method: str
    path: str
    """Without the query string."""
    when: float
    """The server clock's time (epoch seconds) when the request arrived."""
    status: int | None = None
    """The code of a ``status`` or ``html`` fault."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FaultRuleStatus:
    """A rule in ``state.faults.rules`` with its counters."""

    id: int
    rule: FaultRule
    matched: int
    """Matching requests seen (skipped ones included)."""
    hits: int
    """Requests it hit."""

    @property
    def exhausted(self) -> bool:
        return self.rule.times is not None and self.hits >= self.rule.times

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.rule.to_json(), "matched": self.matched, "hits": self.hits}


class _ActiveRule:
    __slots__ = ("hits", "id", "matched", "rule")

    def __init__(self, rule_id: int, rule: FaultRule) -> None:
        self.id = rule_id
        self.rule = rule
        self.matched = 0
        self.hits = 0


class FaultSet:
    """``state.faults``: scripted rules, chaos and the log of what fired.

    Each request is offered to the rules in the order they were added; a rule that matches
    counts it (towards ``skip``) and may hit it; the first rule that hits takes the request
    and the rules after it do not see it. Only a request no rule hit is offered to chaos.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int = 0, chaos: Chaos | None = None) -> None:
        self._configured_rules = tuple(rules)
        self._configured_chaos = chaos
        self._seed = seed
        self._lock = threading.Lock()
        self._next_id = 1
        self._rules: list[_ActiveRule] = []
        self._fired: deque[FaultRecord] = deque(maxlen=10_000)
        self._random = random.Random(seed)
        self._chaos: Chaos | None = None
        self._chaos_random = random.Random(seed)
        self.reset()

    # ------------------------------------------------------------------ rules
    def add(self, rule: FaultRule) -> int:
        """Add a rule after the existing ones; returns its id (ids are never reused)."""
        if not isinstance(rule, FaultRule):
            raise TypeError("add() takes a FaultRule")
        with self._lock:
            rule_id = self._next_id
            self._next_id += 1
            self._rules.append(_ActiveRule(rule_id, rule))
            return rule_id

    def remove(self, rule_id: int) -> None:
        """Remove one rule; ``KeyError`` if there is no such rule."""
        with self._lock:
            for index, active in enumerate(self._rules):
                if active.id == rule_id:
                    del self._rules[index]
                    return
        raise KeyError(rule_id)

    def clear(self) -> None:
        """No rules, no chaos, an empty log: the server behaves again."""
        with self._lock:
            self._rules.clear()
            self._chaos = None
            self._fired.clear()

    def reset(self) -> None:
        """Back to the configured rules (fresh counters, new ids) and chaos, the random
        generators re-seeded, the log emptied (``state.reset()``, ``POST /_fake/reset``)."""
        with self._lock:
            self._rules.clear()
            self._fired.clear()
            self._random = random.Random(self._seed)
        for rule in self._configured_rules:
            self.add(rule)
        self.chaos = self._configured_chaos

    @property
    def rules(self) -> list[FaultRuleStatus]:
        """The rules in matching order, exhausted ones included, with their counters."""
        with self._lock:
            return [FaultRuleStatus(a.id, a.rule, a.matched, a.hits) for a in self._rules]

    # ------------------------------------------------------------------ chaos
    @property
    def chaos(self) -> Chaos | None:
        return self._chaos

    @chaos.setter
    def chaos(self, chaos: Chaos | None) -> None:
        """Switch chaos on (re-seeding its generator, so a run is repeatable) or off (None)."""
        if chaos is not None and not isinstance(chaos, Chaos):
            raise TypeError("chaos must be a Chaos or None")
        with self._lock:
            self._chaos = chaos
            if chaos is not None:
                self._chaos_random = random.Random(self._seed if chaos.seed is None else chaos.seed)

    # ------------------------------------------------------------------ log
    @property
    def fired(self) -> list[FaultRecord]:
        """Every fault that fired, oldest first (the last 10 000)."""
        with self._lock:
            return list(self._fired)

    # ------------------------------------------------------------------ the decision
    def pick(
        self, method: str, path: str, now: float, *, websocket: bool = False
    ) -> tuple[FaultRule, FaultRecord] | None:
        """The fault for this request (``websocket``: this WebSocket handshake), logged, or
        None to serve it normally."""
        with self._lock:
            hit = self._pick_rule(method, path, websocket)
            rule_id: int | None = None
            if hit is not None:
                rule_id, rule = hit
            elif websocket:
                return None
            else:
                drawn = self._draw_chaos(method, path)
                if drawn is None:
                    return None
                rule = drawn
            record = FaultRecord(rule_id, rule.fault, method, path, now, rule.status)
            self._fired.append(record)
            return rule, record

    def _pick_rule(self, method: str, path: str, websocket: bool) -> tuple[int, FaultRule] | None:
        for active in self._rules:
            rule = active.rule
            if (rule.fault in WEBSOCKET_FAULT_KINDS) != websocket or not rule.matches(method, path):
                continue
            active.matched += 1
            if active.matched <= rule.skip:
                continue
            if rule.times is not None and active.hits >= rule.times:
                continue
            # Draw only for a real chance, so certain rules leave the sequence alone.
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            active.hits += 1
            return active.id, rule
        return None

    def _draw_chaos(self, method: str, path: str) -> FaultRule | None:
        chaos = self._chaos
        if chaos is None or not chaos.matches(method, path):
            return None
        draw = self._chaos_random
        if draw.random() >= chaos.probability:
            return None
        fault = draw.choice(chaos.faults)
        status = draw.choice(chaos.statuses) if fault == "status" else None
        return chaos.rule_for(fault, status)

    def summary(self) -> dict[str, Any]:
        """``GET /_fake/faults``: rules with counters, chaos, the log."""
        chaos = self.chaos
        return {
            "rules": [status.to_json() for status in self.rules],
            "chaos": None if chaos is None else chaos.to_json(),
            "fired": [record.to_json() for record in self.fired],
        }
