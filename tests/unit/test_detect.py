"""Which API generation a server speaks (protocol/detect.py, CONTRACT §1.6)."""

from __future__ import annotations

import pytest

from openhands_api.errors import AuthenticationError, NotSupportedError, PermissionDeniedError, ServerError
from openhands_api.protocol.detect import detect_version
from openhands_api.protocol.http import Request, Response
from tests.unit.opdriver import Driver, json_response
from tests.unit.scripted import error, html, text_500

V1_PROBE = "/api/v1/app-conversations/search"
V0_PROBE = "/api/conversations"
V1_PAGE = json_response({"items": [], "next_page_id": None})
V0_PAGE = json_response({"results": [], "next_page_id": None})
MISSING = {"404": error(404, "Not Found"), "405": error(405, "Method Not Allowed"), "web page": html()}


def _server(v1: Response, v0: Response) -> Driver:
    def answer(request: Request) -> Response:
        return {V1_PROBE: v1, V0_PROBE: v0}[request.path]

    return Driver(answer)


def test_cloud_is_v1_without_any_request() -> None:
    driver = _server(V1_PAGE, V0_PAGE)
    assert driver.run(detect_version(is_cloud=True)) == "v1"
    assert driver.requests == []


def test_the_probes_ask_for_one_item_of_each_listing() -> None:
    driver = _server(V1_PAGE, V0_PAGE)
    driver.run(detect_version(is_cloud=False))
    assert [(r.path, r.params) for r in driver.requests] == [
        (V1_PROBE, (("limit", "1"),)),
        (V0_PROBE, (("limit", "1"),)),
    ]


@pytest.mark.parametrize("missing", list(MISSING))
def test_a_server_with_only_v0_is_v0(missing: str) -> None:
    assert _server(MISSING[missing], V0_PAGE).run(detect_version(is_cloud=False)) == "v0"


@pytest.mark.parametrize("missing", list(MISSING))
def test_a_server_with_only_v1_is_v1(missing: str) -> None:
    assert _server(V1_PAGE, MISSING[missing]).run(detect_version(is_cloud=False)) == "v1"


def test_a_server_with_both_is_v0() -> None:
    assert _server(V1_PAGE, V0_PAGE).run(detect_version(is_cloud=False)) == "v0"


@pytest.mark.parametrize("missing", list(MISSING))
def test_a_server_with_neither_is_not_supported(missing: str) -> None:
    with pytest.raises(NotSupportedError, match="neither OpenHands API"):
        _server(MISSING[missing], MISSING[missing]).run(detect_version(is_cloud=False))


def test_json_without_the_listing_key_is_not_that_api() -> None:
    other = json_response({"status": "ok"})
    with pytest.raises(NotSupportedError):
        _server(other, other).run(detect_version(is_cloud=False))


def test_401_on_the_first_probe_is_an_authentication_error_at_once() -> None:
    driver = _server(error(401, "Invalid API key"), V0_PAGE)
    with pytest.raises(AuthenticationError):
        driver.run(detect_version(is_cloud=False))
    assert len(driver.requests) == 1


def test_401_on_the_second_probe_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        _server(error(404, "Not Found"), error(401, "Invalid API key")).run(detect_version(is_cloud=False))


def test_403_on_a_probe_is_a_permission_error() -> None:
    with pytest.raises(PermissionDeniedError):
        _server(error(403, "Forbidden"), V0_PAGE).run(detect_version(is_cloud=False))


@pytest.mark.parametrize("failing", ["v1", "v0"])
def test_a_failing_server_is_not_taken_for_a_missing_api(failing: str) -> None:
    v1, v0 = (text_500(), V0_PAGE) if failing == "v1" else (V1_PAGE, error(503, "unavailable"))
    with pytest.raises(ServerError):
        _server(v1, v0).run(detect_version(is_cloud=False))
