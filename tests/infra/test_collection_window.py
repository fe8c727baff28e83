"""The deployment's collection window: chosen with `-c collectionWindowHours=N`, given to every function, shown
as an output for the CLI, and refused on one line when not allowed."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from carbonmeter.settings import Settings
from infra.application import build_app
from infra.constants import COLLECTION_WINDOW_CONTEXT_KEY
from tests.support.templates import carbonmeter_functions, cli_context

WINDOW_ENV = Settings.env_name("collection_window_hours")


def _synth(**context: Any) -> Template:
    # Asset bundling skipped: it changes no resource these tests read.
    app = App(context=cli_context(**context, **{"aws:cdk:bundling-stacks": []}))
    return Template.from_stack(build_app(app).stack)


def _windows(template: Template) -> set[str | None]:
    return {
        function["Properties"]["Environment"]["Variables"].get(WINDOW_ENV)
        for function in carbonmeter_functions(template).values()
    }


def test_by_default_the_functions_collect_hourly_and_the_output_says_so(template: Template):
    assert _windows(template) == {None}
    (output,) = template.find_outputs("CollectionWindowHours").values()
    assert (output["Value"], output["Description"]) == ("1", WINDOW_ENV)


def test_a_chosen_window_reaches_every_function_and_the_output():
    template = _synth(**{COLLECTION_WINDOW_CONTEXT_KEY: "6"})
    assert _windows(template) == {"6"}
    (output,) = template.find_outputs("CollectionWindowHours").values()
    assert output["Value"] == "6"


@pytest.mark.parametrize("value", ["5", "hourly"])
def test_a_window_not_allowed_is_refused_naming_the_allowed_ones(value: str):
    with pytest.raises(ValueError, match=r"collectionWindowHours=.*1, 3, 6, 12 or 24") as refused:
        _synth(**{COLLECTION_WINDOW_CONTEXT_KEY: value})
    assert "\n" not in str(refused.value)
