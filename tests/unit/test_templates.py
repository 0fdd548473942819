"""``fill_template``: ``{{NAME}}`` placeholders, strict about missing and unused names."""

from __future__ import annotations

import pytest

from openhands_api.errors import InvalidInputError
from openhands_api.templates import TemplateError, fill_template, placeholders


def test_placeholders_are_filled_with_or_without_spaces() -> None:
    text = "Fix #{{ISSUE}} in {{ repo }}; then {{ISSUE}} again.\n{{  repo}}"
    assert fill_template(text, {"ISSUE": "42", "repo": "me/app"}) == (
        "Fix #42 in me/app; then 42 again.\nme/app"
    )


def test_a_text_without_placeholders_needs_no_values() -> None:
    assert fill_template("Just do it.", {}) == "Just do it."


def test_missing_values_are_all_named() -> None:
    with pytest.raises(TemplateError) as caught:
        fill_template("{{B}} {{A}} {{B}}", {})
    assert caught.value.missing == ("A", "B")
    assert "{{A}}" in caught.value.message
    assert "{{B}}" in caught.value.message
    assert isinstance(caught.value, InvalidInputError)


def test_an_unused_value_is_a_typo_unless_allowed() -> None:
    with pytest.raises(TemplateError) as caught:
        fill_template("{{ISSUE}}", {"ISSUE": "1", "ISUE": "2"})
    assert caught.value.unused == ("ISUE",)
    assert caught.value.missing == ()
    assert fill_template("{{ISSUE}}", {"ISSUE": "1", "OTHER": "2"}, allow_unused=True) == "1"


def test_missing_and_unused_are_reported_together() -> None:
    with pytest.raises(TemplateError) as caught:
        fill_template("{{ISSUE}}", {"ISUE": "2"})
    assert (caught.value.missing, caught.value.unused) == (("ISSUE",), ("ISUE",))


def test_names_are_case_sensitive() -> None:
    with pytest.raises(TemplateError) as caught:
        fill_template("{{issue}}", {"ISSUE": "1"})
    assert caught.value.missing == ("issue",)


@pytest.mark.parametrize("name", ["1X", "A-B", "", "a b"])
def test_a_name_that_cannot_be_a_placeholder_is_refused(name: str) -> None:
    with pytest.raises(TemplateError) as caught:
        fill_template("x", {name: "1"})
    assert caught.value.invalid == (name,)


def test_a_backslash_keeps_a_placeholder_literally() -> None:
    assert fill_template("\\{{A}} and {{A}}", {"A": "1"}) == "{{A}} and 1"
    assert placeholders("\\{{A}}") == []


def test_github_actions_expressions_are_not_placeholders() -> None:
    text = "Use ${{ secrets.TOKEN }} and ${{ matrix }} in the workflow for {{REPO}}."
    assert fill_template(text, {"REPO": "me/app"}) == (
        "Use ${{ secrets.TOKEN }} and ${{ matrix }} in the workflow for me/app."
    )


def test_other_braces_stay_as_they_are() -> None:
    text = 'JSON {{"a": 1}}, empty {{}}, dotted {{ a.b }}, single {A}.'
    assert fill_template(text, {}) == text


def test_values_are_not_filled_again() -> None:
    assert fill_template("{{A}}", {"A": "{{B}}"}) == "{{B}}"


def test_placeholders_in_order_of_first_appearance() -> None:
    assert placeholders("{{B}} {{A}} {{ B }}") == ["B", "A"]
