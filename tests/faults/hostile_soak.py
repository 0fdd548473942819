"""The hostile soak: many creates and waits at once by the async client while the fake adds
the faults of a hostile network on top of the ordinary ones (issue 10): trickled answers,
corrupt gzip, answers over the size cap, gzip bombs, first requests held past the client's
timeout, the V0 server's own limit of 3 running conversations (it evicts the oldest), the same
prompt sent to different repositories at once, and slow V1 starts.

It counts on the server directly. What must hold: never more than one conversation per create,
and exactly one for every create that returned an id; every wait ends within its timeout;
nothing but library errors; memory bounded.

``python -m tests.faults.hostile_soak [--generation v0|v1] [--conversations N]`` prints the
figures; ``test_hostile_soak.py`` runs it with assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from collections import Counter
from dataclasses import dataclass, field

from openhands_api import AsyncOpenHandsAPI, OpenHandsError
from openhands_api.testing import Chaos, FakeOpenHandsServer, FaultRule

CHAOS = ("reset_before", "reset_after", "status", "html", "truncated_json", "rate_limit", "corrupt_gzip")
WAIT_TIMEOUT = 60.0
CLIENT_TIMEOUT = 2.0


def hostile_rules() -> list[FaultRule]:
    return [
        FaultRule("trickle", method="GET", probability=0.03, times=None, delay=0.5),
        FaultRule("oversize", method="GET", probability=0.02, times=None, size=40_000_000),
        FaultRule("gzip_bomb", method="GET", probability=0.02, times=None, size=64 * 1024 * 1024),
        # A first request held past the client's timeout, then delivered.
        FaultRule("slow", method="POST", path="/api/conversations", probability=0.15, times=None, delay=3.0),
        FaultRule(
            "slow", method="POST", path="/api/v1/app-conversations", probability=0.15, times=None, delay=3.0
        ),
    ]


@dataclass
class HostileReport:
    generation: str
    creates_attempted: int = 0
    creates_returned: int = 0
    create_errors: list[str] = field(default_factory=list)
    foreign_errors: list[str] = field(default_factory=list)
    conversations_on_server: int = 0
    most_per_create: int = 0
    returned_missing_on_server: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    wait_errors: list[str] = field(default_factory=list)
    longest_wait: float = 0.0
    faults_fired: dict[str, int] = field(default_factory=dict)
    hung_tasks: int = 0
    peak_rss_growth_mib: float = 0.0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.generation}: {self.creates_attempted} creates, {self.creates_returned} returned an id "
            f"({len(self.create_errors)} library errors, {len(self.foreign_errors)} foreign), "
            f"{self.conversations_on_server} on the server, at most {self.most_per_create} per create, "
            f"{self.returned_missing_on_server} returned ids missing; outcomes {self.outcomes}, "
            f"{len(self.wait_errors)} wait errors, longest wait {self.longest_wait:.1f} s "
            f"(timeout {WAIT_TIMEOUT:g} s); faults {self.faults_fired}; {self.hung_tasks} hung; "
            f"peak RSS +{self.peak_rss_growth_mib:.0f} MiB; {self.seconds:.1f} s"
        )


def _task(index: int) -> tuple[str, str]:
    """Prompt and repository: every pair of tasks shares a prompt, each with its own repository."""
    return f"Hostile soak task {index // 2}. [fake-llm steps=2]", f"soak/repo-{index}"


async def _one(api: AsyncOpenHandsAPI, index: int, report: HostileReport, ids: list[str]) -> None:
    prompt, repository = _task(index)
    report.creates_attempted += 1
    try:
        conversation = await api.create_conversation(prompt, repository=repository)
    except OpenHandsError as exc:
        report.create_errors.append(str(exc))
        return
    except Exception as exc:  # anything else is a bug the soak is here to find
        report.foreign_errors.append(f"create: {type(exc).__name__}: {exc}")
        return
    report.creates_returned += 1
    ids.append(conversation.id)
    started = time.monotonic()
    try:
        result = await api.wait(conversation.id, timeout=WAIT_TIMEOUT)
    except OpenHandsError as exc:
        report.wait_errors.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        report.foreign_errors.append(f"wait: {type(exc).__name__}: {exc}")
    else:
        report.outcomes[result.outcome.value] = report.outcomes.get(result.outcome.value, 0) + 1
    finally:
        report.longest_wait = max(report.longest_wait, time.monotonic() - started)


def _count(server: FakeOpenHandsServer, generation: str, ids: list[str], report: HostileReport) -> None:
    if generation == "v0":
        conversations = server.state.conversations
        per_create = Counter((c.initial_user_msg, c.selected_repository) for c in conversations.values())
        present = set(conversations)
    else:
        conversations = server.state.app_conversations
        per_create = Counter(str(t.request.get("conversation_id")) for t in server.state.start_tasks.values())
        present = set(conversations)
    report.conversations_on_server = len(conversations)
    report.most_per_create = max(per_create.values(), default=0)
    report.returned_missing_on_server = sum(1 for i in ids if i.replace("-", "") not in present)


async def run_hostile_soak(*, generation: str, conversations: int = 24, seed: int = 11) -> HostileReport:
    report = HostileReport(generation)
    started = time.monotonic()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with FakeOpenHandsServer(
        generations=generation,
        rate_limit=False,
        speed=5.0,
        # V0: the real server's own limit (it evicts the oldest running conversation).
        max_concurrent_conversations=3 if generation == "v0" else conversations * 2,
        start_task_delay=50.0,  # V1: slow starts, 10 s at this speed (the case)
        faults=hostile_rules(),
        chaos=Chaos(probability=0.1, faults=CHAOS, statuses=(502, 503, 504), seed=seed),
        fault_seed=seed,
    ) as server:
        async with AsyncOpenHandsAPI(
            base_url=server.base_url,
            api_version=generation,  # type: ignore[arg-type]
            timeout=CLIENT_TIMEOUT,
            max_retries=6,
            poll_interval=0.1,
            max_poll_interval=0.5,
            start_timeout=30.0,
            throttle=False,
        ) as api:
            ids: list[str] = []
            tasks = [asyncio.create_task(_one(api, i, report, ids)) for i in range(conversations)]
            _done, pending = await asyncio.wait(tasks, timeout=WAIT_TIMEOUT + 120.0)
            report.hung_tasks = len(pending)
            for task in pending:
                task.cancel()
        server.state.faults.chaos = None
        report.faults_fired = dict(Counter(record.fault for record in server.state.faults.fired))
        _count(server, generation, ids, report)
    report.peak_rss_growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=24)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--generation", choices=("v0", "v1"), default=None)
    args = parser.parse_args()
    for generation in [args.generation] if args.generation else ["v0", "v1"]:
        report = asyncio.run(
            run_hostile_soak(generation=generation, conversations=args.conversations, seed=args.seed)
        )
        print(report.summary())


if __name__ == "__main__":
    main()
