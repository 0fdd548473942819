"""``create_conversation``'s own options are checked before anything is sent."""

from __future__ import annotations

import pytest

from openhands_api import InvalidInputError, OpenHandsAPI


@pytest.mark.parametrize("start_timeout", [0, -1, True, "5"])
def test_a_start_timeout_that_is_not_a_positive_number_is_refused(start_timeout: object) -> None:
    with (
        OpenHandsAPI(base_url="http://127.0.0.1:9", api_version="v1", max_retries=0) as api,
        pytest.raises(InvalidInputError, match="start_timeout"),
    ):
        api.create_conversation("Fix it.", start_timeout=start_timeout)  # type: ignore[arg-type]
