"""A batch run as its own process, for the SIGKILL test (tests/e2e/test_batch.py):

    python batch_script.py BASE_URL STATE_FILE COUNT CONCURRENCY

Runs COUNT tasks (the same ones every time, so a second run resumes the first) and prints one
line per result."""

from __future__ import annotations

import sys

from openhands_api.batch import Task, run_batch_sync


def main() -> None:
    base_url, state, count, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    work = [Task(prompt=f"Killed batch task {i}. [fake-llm steps=2]") for i in range(count)]
    for result in run_batch_sync(
        work,
        concurrency=concurrency,
        state=state,
        base_url=base_url,
        poll_interval=0.05,
        max_poll_interval=0.2,
        throttle=False,
        # A short request timeout: a resumed run believes a lost create absent once one
        # request timeout has passed since it was sent.
        timeout=5.0,
    ):
        print(result.status, result.key, result.conversation_id, result.error or "", flush=True)


if __name__ == "__main__":
    main()
