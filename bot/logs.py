"""Logging: the per-request context (request id, team, user), text or JSON lines, secret redaction.

`configure_logging()` is called once by the entry point with the settings' level, format and
secret values. Every record that reaches the root handler then carries `request_id`, `team_id`
and `user_id` from context variables, which `bind()` / `set_context()` set per request; asyncio
copies them into tasks, so post-ack work logs under the request that caused it.

Redaction is a backstop: secrets are `Secret` objects that never print themselves, but a token
can still arrive inside a third-party exception or a payload. The handler's filter rewrites the
final message, exception text and stack text, replacing every configured secret value and
anything shaped like a Slack token (`xoxb-…`, `xapp-…`) or a `Bearer …` credential with `***`.
"""

from __future__ import annotations

import json
import logging
import re
import secrets as _secrets
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Final, TextIO

REDACTED: Final = "***"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
THIRD_PARTY_LOGGERS: Final = (
    "slack_bolt",
    "slack_sdk",
    "httpx",
    "httpcore",
    "aiohttp",
    "uvicorn.access",
    "sqlalchemy",
    "alembic",
)
"""Chatty libraries held at WARNING (or the configured level, if that is higher)."""

MIN_SECRET_LENGTH: Final = 4
"""Shorter configured values are not redacted by value: replacing every "abc" in every line
would make the logs unreadable, and such a value is no secret anyway."""

_SLACK_TOKEN: Final = re.compile(
    r"xox[abeprs]-[A-Za-z0-9-]+"  # bot, user, config, refresh and legacy tokens
    r"|xapp-[A-Za-z0-9-]+"  # app-level tokens (Socket Mode)
)
_BEARER: Final = re.compile(r"(\bBearer\s+)[^\s\"',;]+", re.IGNORECASE)

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
team_id_var: ContextVar[str | None] = ContextVar("team_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

_CONTEXT_VARS: Final[dict[str, ContextVar[str | None]]] = {
    "request_id": request_id_var,
    "team_id": team_id_var,
    "user_id": user_id_var,
}
_HANDLER_NAME: Final = "vs-terminate"


def new_request_id() -> str:
    """A fresh correlation id: 12 hex characters, short enough to read out to an admin.

    Returns:
        The id, e.g. `"3f9a0c41d2b7"`.
    """
    return _secrets.token_hex(6)


def current_request_id() -> str | None:
    """The request id bound in the current context, if any (the correlation id users see)."""
    return request_id_var.get()


def current_context() -> dict[str, str | None]:
    """The `request_id`, `team_id` and `user_id` bound in the current context."""
    return {name: var.get() for name, var in _CONTEXT_VARS.items()}


def _check_names(fields: dict[str, str | None]) -> None:
    unknown = sorted(set(fields) - set(_CONTEXT_VARS))
    if unknown:
        raise TypeError(f"unknown log context field(s): {', '.join(unknown)}")


def set_context(**fields: str | None) -> None:
    """Set log context fields for the rest of the current context (task or request).

    Fields not named keep their value; `None` clears one.

    Args:
        **fields: any of `request_id`, `team_id`, `user_id`.

    Raises:
        TypeError: for any other field name.
    """
    _check_names(fields)
    for name, value in fields.items():
        _CONTEXT_VARS[name].set(value)


@contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Set log context fields inside a `with` block and restore the previous values after it.

    Args:
        **fields: any of `request_id`, `team_id`, `user_id`; `None` clears one.

    Yields:
        Nothing; the fields apply to every record logged inside the block.

    Raises:
        TypeError: for any other field name.
    """
    _check_names(fields)
    tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = [
        (_CONTEXT_VARS[name], _CONTEXT_VARS[name].set(value)) for name, value in fields.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context variables onto every record (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id`, `team_id` and `user_id` unless the caller passed them in `extra`."""
        for name, var in _CONTEXT_VARS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class Redactor:
    """Replaces secret values and token-shaped strings with `***`.

    Args:
        secrets: the configured secret values; empty and very short ones are ignored.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        # Longest first, so a secret that contains another is replaced whole.
        self._values = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, text: str) -> str:
        """Return `text` with every secret replaced by `***`."""
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        text = _SLACK_TOKEN.sub(REDACTED, text)
        return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's final message, exception text and stack text through a `Redactor`.

    It runs as a handler filter, before formatting, so every formatter and every later handler
    sees only the redacted text.

    Args:
        redactor: what to replace.
    """

    _formatter = logging.Formatter()

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A broken format call must not turn into an exception at the logging site.
            message = f"{record.msg!s} [unformattable log arguments: {record.args!r}]"
        record.msg = self.redactor(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and exception text."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record (already redacted by the handler's filter)."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_VARS:
            entry[name] = getattr(record, name, None)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The line shows "-" rather than "None" when no request is bound; the record keeps None
        # for any other handler.
        bound = record.__dict__.get("request_id")
        record.__dict__["request_id"] = "-" if bound is None else bound
        try:
            return super().format(record)
        finally:
            record.__dict__["request_id"] = bound


def configure_logging(
    level: str, fmt: str, secrets: Iterable[str], *, stream: TextIO | None = None
) -> None:
    """Install the bot's root handler; calling it again replaces it rather than adding another.

    Args:
        level: a `logging` level name such as `"INFO"`.
        fmt: `"text"` or `"json"` (one JSON object per line).
        secrets: every secret value, redacted from all output as a backstop.
        stream: where lines go; stderr when omitted (tests pass a `StringIO`).

    Raises:
        ValueError: for an unknown level or format.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in {"text", "json"}:
        raise ValueError(f"unknown log format {fmt!r} (expected text or json)")

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(Redactor(secrets)))
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter(TEXT_FORMAT))

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
