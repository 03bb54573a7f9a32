"""devkit.slack_html: Block Kit drawn as Slack would, every payload character escaped.

Pure string checks, no browser: pages are parsed with the standard library's HTMLParser, so
"no script" means no `<script>` element, not merely a missing substring.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from devkit.slack_html import (
    APP_NAME,
    Audience,
    blocks_html,
    call_page,
    message_page,
    modal_page,
    mrkdwn_html,
    slack_time,
    text_html,
)

NAMES = Audience(
    users={"U0ALICE01": "alice"},
    channels={"C0INCIDENTS": "incidents"},
    groups={"S0ONCALL01": "data-oncall"},
)
SCRIPT = "<script>alert(1)</script>"


class Parsed(HTMLParser):
    """Start tags with their attributes, and the text a reader sees."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def names(self) -> list[str]:
        return [tag for tag, _ in self.tags]

    def with_class(self, cls: str) -> list[dict[str, str | None]]:
        return [a for _, a in self.tags if cls in (a.get("class") or "").split()]


def plain(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, **extra}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def button(label: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain(label), "action_id": "a"}
    if style:
        element["style"] = style
    return element


# -- escaping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": plain(SCRIPT)}],
        [{"type": "section", "fields": [plain(SCRIPT)]}],
        [{"type": "context", "elements": [plain(SCRIPT, emoji=True)]}],
        [{"type": "header", "text": plain(SCRIPT)}],
        [{"type": "actions", "elements": [button(SCRIPT, "danger")]}],
        [
            {
                "type": "rich_text",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": SCRIPT}]}
                ],
            }
        ],
        [
            {
                "type": "input",
                "label": plain(SCRIPT),
                "element": {"type": "plain_text_input", "initial_value": SCRIPT},
            }
        ],
        [
            {
                "type": "input",
                "label": plain("Reason"),
                "element": {"type": "plain_text_input", "placeholder": plain(SCRIPT)},
            }
        ],
    ],
    ids=["section", "fields", "context", "header", "button", "rich_text", "input", "placeholder"],
)
def test_plain_text_is_shown_verbatim_never_as_markup(blocks: list[dict[str, Any]]) -> None:
    page = Parsed(message_page({"blocks": blocks}, NAMES))
    assert "script" not in page.names()
    assert SCRIPT in page.text


def test_plain_text_keeps_entities_mentions_and_markers_literal() -> None:
    shown = Parsed(text_html(plain("&lt;b&gt; <@U0ALICE01> *not bold* :x:"), NAMES))
    assert shown.text == "&lt;b&gt; <@U0ALICE01> *not bold* :x:"
    assert shown.tags == []


def test_plain_text_draws_emoji_only_when_it_asks_for_them() -> None:
    assert Parsed(text_html(plain(":x: no", emoji=True), NAMES)).text == "❌ no"
    assert Parsed(text_html(plain(":x: no"), NAMES)).text == ":x: no"


def test_mrkdwn_shows_slack_escapes_as_the_characters_they_stand_for() -> None:
    markup = mrkdwn_html("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more", NAMES)
    page = Parsed(markup)
    assert "script" not in page.names()
    assert page.text == f"{SCRIPT} & more"


def test_raw_angle_brackets_in_mrkdwn_are_text_not_tags() -> None:
    page = Parsed(mrkdwn_html(f"before {SCRIPT} after <b onmouseover=x>", NAMES))
    assert page.names() == []
    assert page.text == f"before {SCRIPT} after <b onmouseover=x>"


def test_links_only_for_web_and_mail_addresses() -> None:
    page = Parsed(
        mrkdwn_html("<javascript:alert(1)|click> <https://e.x/a?b=1&amp;c=2|docs>", NAMES)
    )
    assert [a["href"] for t, a in page.tags if t == "a"] == ["https://e.x/a?b=1&c=2"]
    assert page.text == "<javascript:alert(1)|click> docs"


def test_a_payload_cannot_forge_the_renderers_placeholders() -> None:
    page = Parsed(mrkdwn_html("\ue0000\ue001 <@U0ALICE01> \ue000", NAMES))
    assert page.text == "0 @alice "


def test_quotes_in_attributes_are_escaped() -> None:
    page = Parsed(mrkdwn_html('<https://e.x/"onmouseover="x|a>', NAMES))
    (anchor,) = [a for t, a in page.tags if t == "a"]
    assert anchor == {"href": 'https://e.x/"onmouseover="x'}


# -- mrkdwn ------------------------------------------------------------------------------------


def test_mentions_are_named() -> None:
    page = Parsed(mrkdwn_html("<@U0ALICE01> in <#C0INCIDENTS> for <!subteam^S0ONCALL01>", NAMES))
    assert page.text == "@alice in #incidents for @data-oncall"
    assert len(page.with_class("mention")) == 3


def test_unknown_ids_and_labelled_mentions() -> None:
    page = Parsed(mrkdwn_html("<@U0NOBODY1> <@U0BOB0001|bob> <#C0OTHER01|other> <!here>", NAMES))
    assert page.text == "@U0NOBODY1 @bob #other @here"


def test_formatting_and_emoji() -> None:
    markup = mrkdwn_html(":white_check_mark: *done* _now_ ~old~ `a *b* :x:` :nope:", NAMES)
    page = Parsed(markup)
    assert page.text == "✅ done now old a *b* :x: :nope:"
    assert [t for t in page.names() if t in {"b", "i", "s", "code"}] == ["b", "i", "s", "code"]


@pytest.mark.parametrize(
    ("code", "char"),
    [
        ("white_check_mark", "✅"),
        ("x", "❌"),
        ("warning", "⚠️"),
        ("no_entry", "⛔"),
        ("information_source", "ℹ️"),
        ("hourglass", "⏳"),
        ("hourglass_flowing_sand", "⏳"),
        ("heavy_minus_sign", "➖"),
        ("link", "🔗"),
        ("double_vertical_bar", "⏸️"),
        ("arrow_forward", "▶️"),
    ],
)
def test_the_bots_emoji_become_unicode(code: str, char: str) -> None:
    assert Parsed(mrkdwn_html(f":{code}:", NAMES)).text == char


def test_a_mention_inside_code_is_named_too() -> None:
    page = Parsed(mrkdwn_html("`<@U0ALICE01> <b>` ```x <#C0INCIDENTS>```", NAMES))
    assert page.text == "@alice <b> x #incidents"
    assert "\ue000" not in page.text


def test_bold_spans_a_mention_and_snake_case_stays_plain() -> None:
    page = Parsed(mrkdwn_html("*<@U0ALICE01> did it* in run_id_here", NAMES))
    assert page.text == "@alice did it in run_id_here"
    assert page.names()[0] == "b"
    assert "i" not in page.names()


# -- blocks ------------------------------------------------------------------------------------


def test_buttons_are_drawn_with_their_styles() -> None:
    blocks = [
        {
            "type": "actions",
            "elements": [button("Retry"), button("Terminate", "danger"), button("Go", "primary")],
        }
    ]
    page = Parsed(blocks_html(blocks, NAMES))
    assert [len(page.with_class(f"button-{s}")) for s in ("default", "danger", "primary")] == [
        1,
        1,
        1,
    ]
    assert page.text == "RetryTerminateGo"


def test_radio_buttons_mark_the_initial_option() -> None:
    options = [{"text": plain("Pause"), "value": "pause"}, {"text": plain("Stop"), "value": "stop"}]
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "radio_buttons", "options": options, "initial_option": options[1]}
            ],
        }
    ]
    page = Parsed(blocks_html(blocks, NAMES))
    assert len(page.with_class("option")) == 2
    (selected,) = page.with_class("selected")
    assert selected["class"] == "option selected"
    assert page.text.endswith("Stop")
    assert len(page.with_class("on")) == 1


def test_radio_buttons_without_initial_option_select_nothing() -> None:
    options = [{"text": plain("Pause"), "value": "pause"}]
    blocks = [{"type": "actions", "elements": [{"type": "radio_buttons", "options": options}]}]
    assert Parsed(blocks_html(blocks, NAMES)).with_class("selected") == []


def test_rich_text_sections_and_lists() -> None:
    section = {
        "type": "rich_text_section",
        "elements": [
            {"type": "emoji", "name": "x"},
            {"type": "text", "text": " "},
            {"type": "user", "user_id": "U0ALICE01"},
            {"type": "text", "text": " ran "},
            {"type": "text", "text": "run-1", "style": {"code": True}},
            {"type": "text", "text": " in "},
            {"type": "channel", "channel_id": "C0INCIDENTS"},
            {"type": "text", "text": " · ", "style": {"bold": True}},
            {"type": "link", "url": "https://e.x", "text": "message"},
        ],
    }
    bullets = {
        "type": "rich_text_list",
        "style": "bullet",
        "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]},
        ],
    }
    page = Parsed(blocks_html([{"type": "rich_text", "elements": [section, bullets]}], NAMES))
    assert page.text == "❌ @alice ran run-1 in #incidents · messageonetwo"
    assert {"code", "b", "a", "ul"} <= set(page.names())
    assert page.names().count("li") == 2


def test_input_shows_label_optional_marker_and_value_or_placeholder() -> None:
    def block(optional: bool, **element: Any) -> dict[str, Any]:
        return {
            "type": "input",
            "optional": optional,
            "label": plain("Reason"),
            "element": {"type": "plain_text_input", "multiline": True, **element},
        }

    required = Parsed(blocks_html([block(False, initial_value="stuck")], NAMES))
    assert required.text == "Reasonstuck"
    optional = Parsed(blocks_html([block(True, placeholder=plain("Why?"))], NAMES))
    assert optional.text == "Reason (optional)Why?"
    assert optional.with_class("placeholder")
    assert optional.with_class("multiline")


def test_section_fields_header_divider_and_context() -> None:
    blocks = [
        {"type": "header", "text": plain("Head")},
        {"type": "section", "text": mrkdwn("*Lead*"), "fields": [plain("A: 1"), plain("B: 2")]},
        {"type": "divider"},
        {"type": "context", "elements": [plain("small"), mrkdwn("<@U0ALICE01>")]},
    ]
    page = Parsed(blocks_html(blocks, NAMES))
    assert page.text == "HeadLeadA: 1B: 2small@alice"
    assert len(page.with_class("field")) == 2
    assert "hr" in page.names()


def test_garbage_and_unknown_blocks_do_not_break_the_page() -> None:
    assert blocks_html("not a list", NAMES) == ""
    page = Parsed(blocks_html([1, None, {"type": "video"}, {"type": "section", "text": 3}], NAMES))
    assert "'video'" in page.text
    assert len(page.with_class("unknown")) == 1


# -- pages -------------------------------------------------------------------------------------


def test_message_page_looks_like_a_message_and_loads_nothing() -> None:
    markup = message_page(
        {"text": "fallback", "blocks": [{"type": "section", "text": plain("hi")}]},
        NAMES,
        where="#incidents",
        ts="1700000000.000100",
        edited=True,
    )
    page = Parsed(markup)
    assert APP_NAME in page.text
    assert "10:13 PM" in page.text
    assert "(edited)" in page.text
    assert "#incidents" in page.text
    assert "fallback" not in page.text
    assert not {"script", "link", "img", "iframe"} & set(page.names())
    (csp,) = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert "default-src 'none'" in (csp["content"] or "")


def test_message_without_blocks_shows_its_text_as_mrkdwn() -> None:
    page = Parsed(message_page({"text": "*hi* <@U0ALICE01>"}, NAMES))
    assert "hi @alice" in page.text


def test_modal_page_has_title_blocks_and_both_buttons() -> None:
    view = {
        "type": "modal",
        "title": plain("Terminate run"),
        "close": plain("Cancel"),
        "submit": plain("Terminate"),
        "blocks": [{"type": "section", "text": mrkdwn("*Sure?*")}],
    }
    page = Parsed(modal_page(view, NAMES))
    assert "Terminate run" in page.text
    assert "Sure?" in page.text
    assert [a["class"] for a in page.with_class("button")] == [
        "button button-default",
        "button button-primary",
    ]


def test_call_page_picks_modal_message_thread_and_edit() -> None:
    view = {"type": "modal", "title": plain("T"), "blocks": []}
    assert Parsed(call_page("views.update", {"view": view}, NAMES)).with_class("modal")
    edited = Parsed(call_page("chat.update", {"channel": "C0INCIDENTS", "text": "x"}, NAMES))
    assert "(edited)" in edited.text
    reply = Parsed(
        call_page(
            "chat.postMessage", {"channel": "C0INCIDENTS", "thread_ts": "1.2", "text": "x"}, NAMES
        )
    )
    assert "Thread" in reply.text
    assert "#incidents" in reply.text


@pytest.mark.parametrize(
    ("ts", "shown"),
    [
        ("1700000000.000100", "10:13 PM"),
        ("0", "12:00 AM"),
        ("43200", "12:00 PM"),
        (None, ""),
        ("x", ""),
    ],
)
def test_slack_time(ts: str | None, shown: str) -> None:
    assert slack_time(ts) == shown
