"""The exception tree (errors.py) and the CLI's exit code for each branch of it."""

from __future__ import annotations

import pytest

from openhands_api import errors
from openhands_api.cli import exit_codes
from openhands_api.cli.app import exit_code_for


def _timeout() -> errors.APITimeoutError:
    return errors.APITimeoutError("GET /x: timed out", method="GET", path="/x", request_sent=True)


def test_a_request_timeout_is_a_connection_error() -> None:
    """As in the openai and anthropic SDKs: ``except APIConnectionError`` catches timeouts."""
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    with pytest.raises(errors.APIConnectionError):
        raise _timeout()


def test_a_connection_error_is_not_a_timeout() -> None:
    refused = errors.APIConnectionError("could not connect", request_sent=False)
    assert not isinstance(refused, errors.APITimeoutError)


@pytest.mark.parametrize("cls", [errors.APIConnectionError, errors.APITimeoutError])
def test_transport_errors_stay_transport_errors(cls: type[errors.TransportError]) -> None:
    assert issubclass(cls, errors.TransportError)
    assert issubclass(cls, errors.OpenHandsError)
    assert not issubclass(cls, (errors.APIStatusError, errors.ProtocolError, TimeoutError))


def test_a_request_timeout_and_a_wait_timeout_stay_apart() -> None:
    """A wait that ran out of time is not a failed request, nor the other way round."""
    assert not issubclass(errors.WaitTimeoutError, errors.TransportError)
    assert not issubclass(errors.APITimeoutError, errors.WaitTimeoutError)


def test_timeouts_and_connection_errors_exit_with_the_api_error_code() -> None:
    refused = errors.APIConnectionError("could not connect", request_sent=False)
    assert exit_code_for(_timeout()) == exit_codes.API_ERROR == 7
    assert exit_code_for(refused) == exit_codes.API_ERROR


def test_every_outcome_has_an_exit_code() -> None:
    from openhands_api import Outcome

    assert set(exit_codes.BY_OUTCOME) == {outcome.value for outcome in Outcome}
    assert exit_codes.BY_OUTCOME["in_progress"] == exit_codes.IN_PROGRESS == 8


def test_a_remedy_names_settings_as_each_front_end_spells_them() -> None:
    from openhands_api.cli.app import CLI_SPELLING

    error = errors.NotSupportedError("No V1 here", remedy="Try {api_version:auto} or {api_key}")
    assert error.message == str(error) == "No V1 here. Try api_version='auto' or api_key=."
    assert error.worded(CLI_SPELLING) == "No V1 here. Try --api-version auto or --api-key."
    assert set(CLI_SPELLING) == set(errors.LIBRARY_SPELLING)


def test_a_note_goes_between_the_problem_and_the_remedy_and_a_front_end_may_reword_the_problem() -> None:
    error = errors.ConfigurationError("Refused", remedy="Pass {allow_insecure_http:True}")
    error.add_sentence("It may exist")
    assert error.message == "Refused. It may exist. Pass allow_insecure_http=True."
    assert error.args == (error.message,)
    assert (
        error.worded(errors.LIBRARY_SPELLING, problem="Nope")
        == "Nope. It may exist. Pass allow_insecure_http=True."
    )
    plain = errors.OpenHandsError("Just this (no period)")
    assert plain.message == "Just this (no period)"
