"""The API's refusals: a bad parameter's message names it and its problem, never the value sent."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from functions.api.errors import REFUSALS, parameter_problems


def test_each_bad_parameter_is_named_with_its_problem_once():
    errors = [
        {"loc": ("query", "granularity"), "msg": "Input should be 'hour', 'day' or 'month'", "input": "<script>"},
        {"loc": ("query", "start"), "msg": "Value error, timestamp must carry a timezone (end it with Z)"},
        {"loc": ("query", "start"), "msg": "Value error, timestamp must carry a timezone (end it with Z)"},
    ]
    message = parameter_problems(RequestValidationError(errors))
    assert message == (
        "granularity: Input should be 'hour', 'day' or 'month'; start: timestamp must carry a timezone (end it with Z)"
    )
    assert "<script>" not in message


def test_a_problem_without_a_place_names_the_request():
    assert (
        parameter_problems(RequestValidationError([{"loc": (), "msg": "Field required"}])) == "request: Field required"
    )


def test_no_refusal_is_given_two_statuses():
    # One would shadow the other: its handler is found by the exception's type alone.
    kinds = [kind for refused in REFUSALS.values() for kind in refused]
    assert len(kinds) == len(set(kinds))
