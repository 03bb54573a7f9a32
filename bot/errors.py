"""The bot's own error tree: data about what went wrong, never Slack text.

    BotError
    ├── ConfigError          one or more settings missing or invalid (all listed at once)
    ├── UsageError           a command, button value or alert the user got wrong
    │   └── InvalidFieldError    one named field of a request is invalid
    ├── PolicyFileError      the policy file does not parse or validate
    └── AuditWriteError      an audit event could not be written (the app fails closed)

The VectorShift client has its own tree in `bot.vectorshift`; the words a user sees for any
of these live in `bot.slack.blocks`.
"""

from __future__ import annotations


class BotError(Exception):
    """Base class for every error the bot raises on purpose."""


class ConfigError(BotError):
    """The environment does not make a usable configuration.

    Args:
        problems: one line per missing or invalid variable.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class UsageError(BotError):
    """The user's input cannot be parsed; `str()` says exactly what was wrong."""


class InvalidFieldError(UsageError):
    """One field of a structured request (an alert, a button value) is invalid.

    Args:
        field: the field's name as the caller sent it.
        problem: what is wrong with it.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class PolicyFileError(BotError):
    """The policy file is unreadable or invalid.

    Args:
        problems: one line per problem, each naming the line or field it is about.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class AuditWriteError(BotError):
    """An audit event could not be written; the caller must not go on to the API."""
