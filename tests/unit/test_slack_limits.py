"""Slack's Block Kit limits as devkit.slack_limits checks them, and FakeSlack enforcing them.

Every row of `LIMITS` is exercised just inside the limit (no problem) and just outside it
(exactly one problem, naming the JSON pointer of the offending field). FakeSlack is driven with
slack_sdk's `AsyncWebClient`, the client the bot uses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from devkit.fakes import FakeSlack
from devkit.slack_limits import (
    LIMITS,
    Check,
    message_problems,
    method_problems,
    response_problems,
    sdk_validator_exists,
    view_problems,
)

pytest_plugins = ("pytester",)

TOKEN = "xoxb-test-token"
SUITE_CONFTEST = Path(__file__).parents[1] / "conftest.py"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def section(text: str = "hello") -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str = "go", text: str = "Go", **fields: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text), **fields}


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


def option(text: str = "One", value: str = "one", **fields: Any) -> dict[str, Any]:
    return {"text": {"type": "mrkdwn", "text": text}, "value": value, **fields}


def radio(*options: dict[str, Any]) -> dict[str, Any]:
    return {"type": "radio_buttons", "action_id": "pick", "options": list(options)}


def modal(*blocks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain("Terminate run"),
        "submit": plain("Terminate"),
        "close": plain("Cancel"),
        "blocks": list(blocks),
        **fields,
    }


def text_input(**fields: Any) -> dict[str, Any]:
    element = {"type": "plain_text_input", "action_id": "reason", **fields}
    return {"type": "input", "block_id": "reason", "label": plain("Reason"), "element": element}


def in_message(*blocks: dict[str, Any]) -> list[str]:
    return message_problems("fallback", list(blocks))


@dataclass(frozen=True)
class Case:
    """One row of LIMITS: problems for a payload inside the limit and one just outside it."""

    row: str
    problems: Callable[[bool], list[str]]
    pointer: str


def sized(row: str, limit: int, build: Callable[[int], list[str]], pointer: str) -> Case:
    """A row whose payload grows with n: n = limit is inside, limit + 1 outside."""
    return Case(row, lambda outside: build(limit + 1 if outside else limit), pointer)


CASES = [
    # -- messages and views
    sized("message text", 40_000, lambda n: message_problems("x" * n, None), "/text"),
    sized(
        "blocks per message",
        50,
        lambda n: message_problems("x", [{"type": "divider"}] * n),
        "/blocks",
    ),
    sized("blocks per view", 100, lambda n: view_problems(modal(*[section()] * n)), "/blocks"),
    Case(
        "view blocks",
        lambda out: (
            view_problems({k: v for k, v in modal(section()).items() if k != "blocks"})
            if out
            else view_problems(modal(section()))
        ),
        "/blocks",
    ),
    sized(
        "view private_metadata",
        3000,
        lambda n: view_problems(modal(section(), private_metadata="m" * n)),
        "/private_metadata",
    ),
    sized(
        "view callback_id",
        255,
        lambda n: view_problems(modal(section(), callback_id="c" * n)),
        "/callback_id",
    ),
    Case(
        "modal title",
        lambda out: (
            view_problems({k: v for k, v in modal(section()).items() if k != "title"})
            if out
            else view_problems(modal(section()))
        ),
        "/title",
    ),
    sized(
        "modal title text",
        24,
        lambda n: view_problems(modal(section(), title=plain("T" * n))),
        "/title/text",
    ),
    sized(
        "modal submit text",
        24,
        lambda n: view_problems(modal(section(), submit=plain("S" * n))),
        "/submit/text",
    ),
    sized(
        "modal close text",
        24,
        lambda n: view_problems(modal(section(), close=plain("C" * n))),
        "/close/text",
    ),
    Case(
        "modal submit with inputs",
        lambda out: view_problems(
            {k: v for k, v in modal(text_input()).items() if not (out and k == "submit")}
        ),
        "/submit",
    ),
    # -- every block, element and text object
    sized(
        "block_id",
        255,
        lambda n: in_message({"type": "divider", "block_id": "b" * n}),
        "/blocks/0/block_id",
    ),
    Case(
        "block_id unique",
        lambda out: in_message(
            {"type": "divider", "block_id": "a"},
            {"type": "divider", "block_id": "a" if out else "b"},
        ),
        "/blocks/1/block_id",
    ),
    sized(
        "action_id",
        255,
        lambda n: in_message(actions(button("a" * n))),
        "/blocks/0/elements/0/action_id",
    ),
    Case(
        "action_id unique",
        lambda out: in_message(actions(button("go")), actions(button("go" if out else "stop"))),
        "/blocks/1/elements/0/action_id",
    ),
    sized(
        "text object text",
        3000,
        lambda n: in_message({"type": "context", "elements": [plain("t" * n)]}),
        "/blocks/0/elements/0/text",
    ),
    Case(
        "text object text minimum",
        lambda out: in_message(section("" if out else "x")),
        "/blocks/0/text/text",
    ),
    # -- blocks
    sized("section text", 3000, lambda n: in_message(section("s" * n)), "/blocks/0/text/text"),
    sized(
        "section fields",
        10,
        lambda n: in_message({"type": "section", "fields": [plain("f")] * n}),
        "/blocks/0/fields",
    ),
    sized(
        "section field text",
        2000,
        lambda n: in_message({"type": "section", "fields": [plain("f" * n)]}),
        "/blocks/0/fields/0/text",
    ),
    sized(
        "header text",
        150,
        lambda n: in_message({"type": "header", "text": plain("h" * n)}),
        "/blocks/0/text/text",
    ),
    sized(
        "context elements",
        10,
        lambda n: in_message({"type": "context", "elements": [plain("c")] * n}),
        "/blocks/0/elements",
    ),
    sized(
        "actions elements",
        25,
        lambda n: in_message(actions(*[button(f"b{i}") for i in range(n)])),
        "/blocks/0/elements",
    ),
    sized(
        "input label",
        2000,
        lambda n: view_problems(modal({**text_input(), "label": plain("l" * n)})),
        "/blocks/0/label/text",
    ),
    sized(
        "input hint",
        2000,
        lambda n: view_problems(modal({**text_input(), "hint": plain("h" * n)})),
        "/blocks/0/hint/text",
    ),
    # -- elements
    sized(
        "button text",
        75,
        lambda n: in_message(actions(button(text="b" * n))),
        "/blocks/0/elements/0/text/text",
    ),
    sized(
        "button value",
        2000,
        lambda n: in_message(actions(button(value="v" * n))),
        "/blocks/0/elements/0/value",
    ),
    sized(
        "button url",
        3000,
        lambda n: in_message(actions(button(url="u" * n))),
        "/blocks/0/elements/0/url",
    ),
    sized(
        "placeholder",
        150,
        lambda n: view_problems(modal(text_input(placeholder=plain("p" * n)))),
        "/blocks/0/element/placeholder/text",
    ),
    sized(
        "plain_text_input max_length",
        3000,
        lambda n: view_problems(modal(text_input(max_length=n))),
        "/blocks/0/element/max_length",
    ),
    sized(
        "plain_text_input min_length",
        3000,
        lambda n: view_problems(modal(text_input(min_length=n))),
        "/blocks/0/element/min_length",
    ),
    sized(
        "plain_text_input initial_value",
        3000,
        lambda n: view_problems(modal(text_input(initial_value="i" * n))),
        "/blocks/0/element/initial_value",
    ),
    sized(
        "radio_buttons options",
        10,
        lambda n: in_message(actions(radio(*[option(value=f"v{i}") for i in range(n)]))),
        "/blocks/0/elements/0/options",
    ),
    sized(
        "static_select options",
        100,
        lambda n: in_message(
            {
                "type": "section",
                "text": plain("Pick"),
                "accessory": {
                    "type": "static_select",
                    "action_id": "pick",
                    "placeholder": plain("Pick one"),
                    "options": [{"text": plain(f"Option {i}"), "value": f"v{i}"} for i in range(n)],
                },
            }
        ),
        "/blocks/0/accessory/options",
    ),
    # -- options
    sized(
        "option text",
        75,
        lambda n: in_message(actions(radio(option(text="o" * n)))),
        "/blocks/0/elements/0/options/0/text/text",
    ),
    sized(
        "option description",
        75,
        lambda n: in_message(actions(radio(option(description=plain("d" * n))))),
        "/blocks/0/elements/0/options/0/description/text",
    ),
    sized(
        "option value",
        75,
        lambda n: in_message(actions(radio(option(value="v" * n)))),
        "/blocks/0/elements/0/options/0/value",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.row)
def test_a_payload_just_inside_a_limit_has_no_problem(case: Case):
    assert case.problems(False) == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.row)
def test_a_payload_just_outside_a_limit_has_one_problem_naming_the_pointer(case: Case):
    [problem] = case.problems(True)

    assert problem.endswith(f"[json-pointer:{case.pointer}]")


def test_every_limit_has_a_case():
    assert sorted(case.row for case in CASES) == sorted(row.name for row in LIMITS)


def test_the_initial_value_of_an_input_must_fit_its_own_max_length():
    assert view_problems(modal(text_input(max_length=10, initial_value="i" * 10))) == []
    assert view_problems(modal(text_input(max_length=10, initial_value="i" * 11))) == [
        "must be less than 11 characters (max_length) "
        "[json-pointer:/blocks/0/element/initial_value]"
    ]


def test_every_row_cites_slacks_docs_and_every_slack_sdk_validator_exists():
    for row in LIMITS:
        assert row.source.startswith(("https://docs.slack.dev/", "https://api.slack.com/"))
        assert row.slack_sdk is None or sdk_validator_exists(row.slack_sdk), row.slack_sdk
        assert (row.maximum is None) == (
            row.check in (Check.UNIQUE, Check.REQUIRED, Check.REQUIRED_WITH_INPUT, Check.NOT_EMPTY)
        )


def test_problems_read_like_slacks_own_refusals():
    assert in_message(section("s" * 3001)) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert message_problems("x", [{"type": "divider"}] * 51) == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert in_message(actions(button("go")), actions(button("go"))) == [
        "duplicate action_id 'go', first used at /blocks/0/elements/0/action_id "
        "[json-pointer:/blocks/1/elements/0/action_id]"
    ]


def test_every_violation_is_reported_not_only_the_first():
    problems = view_problems(
        modal(section("s" * 3001), title=plain("T" * 25), private_metadata="m" * 3001),
        at="/view",
    )

    assert problems == [
        "must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]",
        "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        "must be less than 25 characters [json-pointer:/view/title/text]",
    ]


def test_what_only_slack_sdk_knows_is_reported_in_its_words():
    assert in_message({"type": "carousel_of_dreams"}) == [
        "unknown block type 'carousel_of_dreams' [json-pointer:/blocks/0]"
    ]
    assert in_message(actions({"type": "hologram", "action_id": "h"})) == [
        "unknown element type 'hologram' [json-pointer:/blocks/0/elements/0]"
    ]
    [unreadable] = in_message({"type": "section", "text": {"type": "plain_text"}})
    assert unreadable.startswith("slack_sdk cannot read this block:")
    assert unreadable.endswith("[json-pointer:/blocks/0]")
    confirm = {
        "title": plain("t" * 101),
        "text": plain("Sure?"),
        "confirm": plain("Yes"),
        "deny": plain("No"),
    }
    assert in_message(actions(button(confirm=confirm))) == [
        "title attribute cannot exceed 100 characters [json-pointer:/blocks/0/elements/0/confirm]"
    ]


def test_attachment_blocks_are_checked_like_the_messages_own():
    attachments = [{"color": "#ff0000", "blocks": [section("a" * 3001)]}]

    assert message_problems("x", None, attachments=attachments) == [
        "must be less than 3001 characters [json-pointer:/attachments/0/blocks/0/text/text]"
    ]


def test_web_api_calls_are_checked_by_what_they_carry():
    long_section = [section("s" * 3001)]

    assert method_problems("chat.postEphemeral", {"text": "x", "blocks": long_section}) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]
    assert method_problems("chat.update", {"channel": "C1", "ts": "1.2"}) == []
    assert method_problems("views.update", {"view": modal(*long_section)}) == [
        "must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]"
    ]
    assert method_problems("users.info", {"user": "U1", "blocks": long_section}) == []


def test_a_response_url_delete_carries_nothing_to_check():
    assert response_problems({"delete_original": True, "blocks": "ignored"}) == []
    assert response_problems({"replace_original": True, "text": "t" * 40_001}) == [
        "must be less than 40001 characters [json-pointer:/text]"
    ]


# -- FakeSlack --------------------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack().serve() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url, timeout=5)


async def test_fake_slack_refuses_an_oversized_section_field_as_slack_does(
    slack: FakeSlack, web: AsyncWebClient
):
    blocks = [{"type": "section", "fields": [plain("ok"), plain("f" * 2001)]}]

    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel="C0INC", text="fallback", blocks=blocks)

    problem = "must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]"
    assert raised.value.response.data == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": [problem],
        "response_metadata": {"messages": [f"[ERROR] {problem}"]},
    }
    assert slack.messages("C0INC") == []
    assert [c.error for c in slack.calls("chat.postMessage")] == ["invalid_blocks"]
    assert slack.take_limit_violations() == [("chat.postMessage", problem)]
    assert slack.limit_violations == []


async def test_fake_slack_refuses_an_oversized_modal_with_invalid_arguments(
    slack: FakeSlack, web: AsyncWebClient
):
    with pytest.raises(SlackApiError) as raised:
        await web.views_open(
            trigger_id=slack.mint_trigger_id("U0ALICE"),
            view=modal(section(), private_metadata="m" * 3001),
        )

    assert raised.value.response["error"] == "invalid_arguments"
    assert raised.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
    ]
    assert slack.current_view("U0ALICE") is None
    assert len(slack.take_limit_violations()) == 1


async def test_fake_slack_refuses_text_over_40000_characters_as_msg_too_long(
    slack: FakeSlack, web: AsyncWebClient
):
    with pytest.raises(SlackApiError) as raised:
        await web.chat_postEphemeral(channel="C0INC", user="U0ALICE", text="t" * 40_001)

    assert raised.value.response["error"] == "msg_too_long"
    assert slack.take_limit_violations() == [
        ("chat.postEphemeral", "must be less than 40001 characters [json-pointer:/text]")
    ]


async def test_a_violation_is_recorded_even_when_slack_refuses_the_call_for_another_reason(
    slack: FakeSlack, web: AsyncWebClient
):
    slack.fail("chat.postMessage", "not_in_channel")

    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel="C0INC", text="x", blocks=[section("s" * 3001)])

    assert raised.value.response["error"] == "not_in_channel"
    assert [method for method, _ in slack.take_limit_violations()] == ["chat.postMessage"]


async def test_a_response_url_refuses_invalid_blocks_and_keeps_the_original(
    slack: FakeSlack, web: AsyncWebClient
):
    alert = await web.chat_postMessage(channel="C0INC", text="Alert")
    url = slack.response_url(channel="C0INC", message_ts=alert["ts"], user_id="U0ALICE")

    answer = await AsyncWebhookClient(url).send_dict(
        {"replace_original": True, "text": "Done", "blocks": [section("s" * 3001)]}
    )

    assert answer.status_code == 400
    assert json.loads(answer.body)["error"] == "invalid_blocks"
    assert slack.message("C0INC", alert["ts"]).text == "Alert"
    assert [method for method, _ in slack.take_limit_violations()] == ["response_url"]


def test_fake_slack_checks_the_message_in_an_ack():
    slack = FakeSlack()

    assert slack.check_ack({"response_action": "update", "view": {}}) == []
    assert slack.check_ack({"response_type": "ephemeral", "text": "t" * 40_001}) == [
        "must be less than 40001 characters [json-pointer:/text]"
    ]
    with pytest.raises(AssertionError, match=r"ack: must be less than 40001 characters"):
        slack.assert_within_limits()
    slack.take_limit_violations()
    slack.assert_within_limits()


def test_a_test_that_leaves_a_violation_behind_fails_at_teardown(pytester: pytest.Pytester):
    pytester.makeconftest(SUITE_CONFTEST.read_text())
    pytester.makepyfile(
        """
        from devkit.fakes import FakeSlack

        def test_clean():
            FakeSlack().check_ack({"text": "fine"})

        def test_sends_too_much():
            FakeSlack().check_ack({"text": "t" * 40001})
        """
    )

    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    )

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_sends_too_much*",
            "*ack: must be less than 40001 characters [[]json-pointer:/text[]]*",
        ]
    )
