"""The §4.1 grammar and button values: exact results and exact messages."""

from __future__ import annotations

import pytest

from bot.domain import (
    ActionCommand,
    CanICommand,
    HelpCommand,
    HistoryCommand,
    PipelineRef,
    StatusCommand,
    clean_reason,
    parse_button_value,
    parse_command,
)
from bot.errors import UsageError

RUN = "65f2a0c0ffee0123456789ab"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpCommand()),
        ("   ", HelpCommand()),
        ("help", HelpCommand()),
        ("HELP", HelpCommand()),
        (f"nightly-etl {RUN}", ActionCommand(PipelineRef("nightly-etl"), RUN)),
        (
            f"nightly-etl {RUN} stuck   in a loop",
            ActionCommand(PipelineRef("nightly-etl"), RUN, "stuck   in a loop"),
        ),
        (
            f'"Nightly ETL" {RUN}',
            ActionCommand(PipelineRef("Nightly ETL", quoted=True), RUN),
        ),
        (
            f"“Nightly ETL” {RUN} reason",
            ActionCommand(PipelineRef("Nightly ETL", quoted=True), RUN, "reason"),
        ),
        (
            f'"R&amp;D &lt;prod&gt;" {RUN} a &amp; b',
            ActionCommand(PipelineRef("R&D <prod>", quoted=True), RUN, "a & b"),
        ),
        (f"status nightly {RUN}", StatusCommand(PipelineRef("nightly"), RUN)),
        ("history", HistoryCommand()),
        ("history nightly", HistoryCommand(PipelineRef("nightly"))),
        (f"history nightly {RUN}", HistoryCommand(PipelineRef("nightly"), RUN)),
        ("can-i nightly", CanICommand(PipelineRef("nightly"))),
        ('can-i "Nightly ETL"', CanICommand(PipelineRef("Nightly ETL", quoted=True))),
    ],
)
def test_command_text_parses_to_the_expected_command(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nightly", "a pipeline and a run id are both needed"),
        (
            "nightly run/../x",
            "`run/../x` is not a valid run id (1–128 letters, digits, `-` or `_`)",
        ),
        (
            'nightly "quoted run"',
            "`quoted run` is not a valid run id (1–128 letters, digits, `-` or `_`)",
        ),
        (f'"Nightly ETL {RUN}', "a quote opened at character 1 is never closed"),
        ("status nightly", "`status` takes a pipeline and a run id"),
        (f"history a {RUN} extra", "`history` takes at most a pipeline and a run id"),
        ("can-i", "`can-i` takes exactly one pipeline"),
        ("can-i a b", "`can-i` takes exactly one pipeline"),
        (f"<@U123> {RUN}", "`<@U123>` is not a pipeline id, alias or name"),
        (f"&lt;!channel&gt; {RUN}", "`<!channel>` is not a pipeline id, alias or name"),
        (f'"" {RUN}', "the pipeline name is empty"),
        (f"nightly {RUN} \x00", "the command contains control or invisible characters"),
        ("x" * 3001, "the command text is longer than 3000 characters"),
        (f"nightly {RUN} " + "r" * 1001, "the reason is longer than 1000 characters"),
        (f'"{"n" * 201}" {RUN}', "the pipeline name is longer than 200 characters"),
        (
            "nightly " + "r" * 129,
            f"`{'r' * 39}…` is not a valid run id (1–128 letters, digits, `-` or `_`)",
        ),
    ],
)
def test_bad_command_text_says_exactly_what_was_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    assert str(caught.value) == message


def test_button_value_is_parsed_like_typed_text() -> None:
    assert parse_button_value(f'"Nightly ETL" {RUN}') == ActionCommand(
        PipelineRef("Nightly ETL", quoted=True), RUN
    )


@pytest.mark.parametrize(
    "value", [None, 42, "", "help", f"nightly {RUN} extra words", "nightly bad/run"]
)
def test_button_values_that_are_not_pipeline_and_run_are_refused(value: object) -> None:
    with pytest.raises(UsageError):
        parse_button_value(value)


def test_reason_is_stripped_and_checked() -> None:
    assert clean_reason("  stuck \n in a loop  ") == "stuck \n in a loop"
    assert clean_reason(None) == ""
    with pytest.raises(UsageError, match="longer than 1000"):
        clean_reason("x" * 1001)
    with pytest.raises(UsageError, match="control or invisible"):
        clean_reason("a\u202eb")
