"""A child process of the ``detection`` benchmark: WIDTH concurrent first calls of a fresh
``AsyncOpenHandsAPI`` in a fresh process, so nothing a previous run learnt (a detected version
remembered in memory or on disk) makes the calls less "first". Prints one JSON line:
``{"seconds": …, "requests": …}``.

Usage: ``python bench/_first_calls.py BASE_URL API_VERSION WIDTH``
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from _harness import AsyncCountingTransport, Meter

from openhands_api import AsyncOpenHandsAPI


async def first_calls(base_url: str, version: str, width: int, meter: Meter) -> float:
    """Seconds from the calls' start to their end; building the client (TLS context and all)
    happens before, as it does once in a program that then fans out."""
    async with AsyncOpenHandsAPI(
        base_url=base_url,
        api_version=version,  # type: ignore[arg-type]
        transport=AsyncCountingTransport(meter),
    ) as api:
        start = time.perf_counter()
        await asyncio.gather(*(api.create_conversation(f"Detect {n}.") for n in range(width)))
        return time.perf_counter() - start


def main() -> None:
    base_url, version, width = sys.argv[1], sys.argv[2], int(sys.argv[3])
    meter = Meter()
    seconds = asyncio.run(first_calls(base_url, version, width, meter))
    print(json.dumps({"seconds": seconds, "requests": meter.requests}))


if __name__ == "__main__":
    main()
