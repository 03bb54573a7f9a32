"""bot.logs: context fields on every record, text and JSON lines, secret redaction."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from bot import logs

SECRET = "vs-key-7f3a9c2e41"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    third_party = {name: logging.getLogger(name).level for name in logs.THIRD_PARTY_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in third_party.items():
        logging.getLogger(name).setLevel(old)


def configure(
    fmt: str = "text", level: str = "INFO", secrets: list[str] | None = None
) -> io.StringIO:
    stream = io.StringIO()
    logs.configure_logging(level, fmt, secrets if secrets is not None else [SECRET], stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_text_line_carries_level_logger_request_id_and_message() -> None:
    stream = configure()
    with logs.bind(request_id="abc123def456"):
        logging.getLogger("bot.example").info("run %s stopped", "r-1")

    [line] = lines(stream)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO bot\.example \[abc123def456\] run r-1 stopped",
        line,
    )


def test_text_line_shows_a_dash_when_no_request_is_bound() -> None:
    stream = configure()
    logging.getLogger("bot.example").warning("no request here")

    [line] = lines(stream)
    assert line.endswith(" WARNING bot.example [-] no request here")


def test_json_line_has_every_field_with_the_bound_context() -> None:
    stream = configure("json")
    with logs.bind(request_id="0123456789ab", team_id="T1", user_id="U1"):
        logging.getLogger("bot.flows").info("opened modal for %s", "p-1")

    [line] = lines(stream)
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry.pop("time"))
    assert entry == {
        "level": "INFO",
        "logger": "bot.flows",
        "message": "opened modal for p-1",
        "request_id": "0123456789ab",
        "team_id": "T1",
        "user_id": "U1",
    }


def test_json_line_includes_the_redacted_traceback() -> None:
    stream = configure("json")
    try:
        raise RuntimeError(f"upstream said key={SECRET}")
    except RuntimeError:
        logging.getLogger("bot.flows").exception("call failed")

    [line] = lines(stream)
    entry = json.loads(line)
    assert entry["message"] == "call failed"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert entry["exc_info"].endswith("RuntimeError: upstream said key=***")
    assert SECRET not in line


def test_configured_secret_is_redacted_from_message_and_exception_text() -> None:
    stream = configure()
    try:
        raise ValueError(f"bad key {SECRET}")
    except ValueError:
        logging.getLogger("bot.x").exception("sending %s failed", SECRET)

    output = stream.getvalue()
    assert SECRET not in output
    assert "] sending *** failed\n" in output
    assert output.rstrip("\n").endswith("ValueError: bad key ***")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("token xoxb-1234-5678-abcdEFGH in use", "token *** in use"),
        ("user token xoxp-99-aa-bb", "user token ***"),
        ("app token xapp-1-A0B1-123-abc", "app token ***"),
        ("refresh xoxe-1-abc and config xoxa-2-def", "refresh *** and config ***"),
        ("Authorization: Bearer eyJhbGciOi.J9.x", "Authorization: Bearer ***"),
        ("{'authorization': 'bearer abc123'}", "{'authorization': 'bearer ***'}"),
    ],
)
def test_token_shapes_are_redacted_without_being_configured(message: str, expected: str) -> None:
    stream = configure(secrets=[])
    logging.getLogger("bot.x").info(message)

    [line] = lines(stream)
    assert line.endswith(f"[-] {expected}")


def test_the_longer_of_two_overlapping_secrets_is_redacted_whole() -> None:
    stream = configure(secrets=["abcd", "abcdefgh"])
    logging.getLogger("bot.x").info("one abcdefgh two abcd")

    assert lines(stream)[0].endswith("[-] one *** two ***")


def test_values_too_short_to_be_secrets_are_left_alone() -> None:
    stream = configure(secrets=["", "ab"])
    logging.getLogger("bot.x").info("a cab ab")

    assert lines(stream)[0].endswith("[-] a cab ab")


def test_records_from_any_logger_are_redacted_because_the_filter_is_on_the_handler() -> None:
    stream = configure()
    logging.getLogger("slack_sdk.web").error("request failed with %s", SECRET)

    assert lines(stream)[0].endswith("[-] request failed with ***")


def test_a_record_with_mismatched_arguments_is_redacted_without_raising() -> None:
    # Fed to the filter directly: pytest's own capture handler raises on such records by design.
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "two %s %s", (SECRET,), None)

    assert logs.RedactingFilter(logs.Redactor([SECRET])).filter(record) is True
    assert record.getMessage() == "two %s %s [unformattable log arguments: ('***',)]"


def test_bind_restores_the_previous_values_on_exit() -> None:
    def body() -> None:
        logs.set_context(request_id="outer", team_id=None, user_id="U0")
        with logs.bind(request_id="inner", team_id="T9"):
            assert logs.current_context() == {
                "request_id": "inner",
                "team_id": "T9",
                "user_id": "U0",
            }
        assert logs.current_context() == {"request_id": "outer", "team_id": None, "user_id": "U0"}

    # set_context lasts for the whole context; a copy keeps it out of the other tests.
    contextvars.copy_context().run(body)
    assert logs.current_context() == {"request_id": None, "team_id": None, "user_id": None}


def test_unknown_context_fields_are_rejected() -> None:
    with pytest.raises(TypeError, match="unknown log context field\\(s\\): channel"):
        logs.set_context(channel="C1")
    with (
        pytest.raises(TypeError, match="unknown log context field\\(s\\): channel"),
        logs.bind(channel="C1"),
    ):
        pass


async def test_a_task_started_inside_a_request_logs_under_that_request_id() -> None:
    stream = configure()

    async def later() -> None:
        await asyncio.sleep(0)
        logging.getLogger("bot.flows").info("in the task")

    with logs.bind(request_id="feedfacecafe"):
        task = asyncio.create_task(later())
    logging.getLogger("bot.flows").info("outside")
    await task

    assert [line.split(" ", 4)[-1] for line in lines(stream)] == [
        "[-] outside",
        "[feedfacecafe] in the task",
    ]


def test_new_request_ids_are_twelve_hex_characters_and_distinct() -> None:
    ids = {logs.new_request_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in ids)


def test_third_party_loggers_are_held_at_warning_or_the_configured_level_if_higher() -> None:
    configure(level="DEBUG")
    assert {n: logging.getLogger(n).level for n in logs.THIRD_PARTY_LOGGERS} == dict.fromkeys(
        logs.THIRD_PARTY_LOGGERS, logging.WARNING
    )
    assert logging.getLogger().level == logging.DEBUG

    configure(level="ERROR")
    assert logging.getLogger("httpx").level == logging.ERROR


def test_configuring_twice_replaces_the_handler_instead_of_adding_one() -> None:
    first = configure("text")
    second = configure("json")
    logging.getLogger("bot.x").info("once")

    ours = [h for h in logging.getLogger().handlers if h.get_name() == "vs-terminate"]
    assert len(ours) == 1
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "once"


def test_unknown_level_or_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        logs.configure_logging("LOUD", "text", [])
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        logs.configure_logging("INFO", "xml", [])
