"""Soak: many conversations created and waited on concurrently by the async client while the
fake server injects random faults (fixed seed). Nothing may be lost, nothing duplicated, and no
task may hang.

``python -m tests.faults.soak [--conversations N] [--seed S] [--generation v0|v1]`` prints the
figures; ``test_soak.py`` runs it in the suite with assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from dataclasses import dataclass, field

from openhands_api import AsyncOpenHandsAPI, OpenHandsError
from openhands_api.testing import Chaos, FakeOpenHandsServer

FAULTS = ("reset_before", "reset_after", "slow", "status", "html", "truncated_json", "rate_limit")


@dataclass
class SoakReport:
    generation: str
    creates_attempted: int = 0
    creates_returned: int = 0
    create_errors: list[str] = field(default_factory=list)
    conversations_on_server: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    wait_errors: list[str] = field(default_factory=list)
    retries: int = 0
    faults_fired: int = 0
    hung_tasks: int = 0
    seconds: float = 0.0
    duplicate_ids: int = 0

    def summary(self) -> str:
        return (
            f"{self.generation}: {self.creates_attempted} creates attempted, "
            f"{self.creates_returned} returned an id ({len(self.create_errors)} errors), "
            f"{self.conversations_on_server} conversations exist, {self.duplicate_ids} duplicate ids, "
            f"outcomes {self.outcomes}, {len(self.wait_errors)} wait errors, "
            f"{self.retries} retries, {self.faults_fired} faults fired, {self.hung_tasks} hung tasks, "
            f"{self.seconds:.1f} s"
        )


class _RetryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("retrying"):
            self.count += 1


async def _one(api: AsyncOpenHandsAPI, index: int, report: SoakReport, ids: list[str]) -> None:
    report.creates_attempted += 1
    try:
        conversation = await api.create_conversation(f"Soak task {index}. [fake-llm steps=2]")
    except OpenHandsError as exc:
        report.create_errors.append(str(exc))
        return
    report.creates_returned += 1
    ids.append(conversation.id)
    try:
        result = await api.wait(conversation.id, timeout=120)
    except OpenHandsError as exc:
        report.wait_errors.append(str(exc))
        return
    report.outcomes[result.outcome.value] = report.outcomes.get(result.outcome.value, 0) + 1


async def run_soak(
    *,
    conversations: int = 40,
    seed: int = 7,
    generation: str = "v1",
    budget: float = 240.0,
    probability: float = 0.15,
) -> SoakReport:
    report = SoakReport(generation)
    counter = _RetryCounter()
    logger = logging.getLogger("openhands_api")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    chaos = Chaos(probability=probability, faults=FAULTS, statuses=(502, 503, 504), seed=seed)
    started = time.monotonic()
    try:
        with FakeOpenHandsServer(
            generations=generation,
            rate_limit=False,
            speed=5.0,
            max_concurrent_conversations=conversations * 2,
            chaos=chaos,
            fault_seed=seed,
        ) as server:
            async with AsyncOpenHandsAPI(
                base_url=server.base_url,
                api_version=generation,
                timeout=2.0,
                max_retries=6,  # type: ignore[arg-type]
                poll_interval=0.1,
                max_poll_interval=0.5,
            ) as api:
                ids: list[str] = []
                tasks = [asyncio.create_task(_one(api, i, report, ids)) for i in range(conversations)]
                _done, pending = await asyncio.wait(tasks, timeout=budget)
                report.hung_tasks = len(pending)
                for task in pending:
                    task.cancel()
            report.faults_fired = len(server.state.faults.fired)
            server.state.faults.chaos = None
            on_server = server.state.conversations if generation == "v0" else server.state.app_conversations
            report.conversations_on_server = len(on_server)
            report.duplicate_ids = len(ids) - len(set(ids))
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)
    report.retries = counter.count
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--generation", choices=("v0", "v1"), default=None)
    args = parser.parse_args()
    for generation in [args.generation] if args.generation else ["v0", "v1"]:
        report = asyncio.run(
            run_soak(conversations=args.conversations, seed=args.seed, generation=generation)
        )
        print(report.summary())


if __name__ == "__main__":
    main()
