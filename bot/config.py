"""Settings: the one place that reads the environment (SPEC §2).

`load_settings()` is called once by the entry point and its `Settings` passed down; tests build
`Settings` directly. A `.env` file in the working directory fills in what the real environment
does not set. Every problem is collected and raised together as one `ConfigError` (exit 2).
Secrets are wrapped in `Secret`, whose repr is `***`, so they cannot leak through logging.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from dotenv import dotenv_values

from bot.errors import ConfigError

_CHANNEL_ID: Final = re.compile(r"[CG][A-Z0-9]{2,30}")
"""A public (C…) or private (G…) channel id; alerts never go to DMs."""

DEFAULT_SLACK_API_URL: Final = "https://slack.com/api/"
DEFAULT_VECTORSHIFT_BASE_URL: Final = "https://api.vectorshift.ai/v1"
DEFAULT_DATABASE_URL: Final = "sqlite:///vs_terminate.db"
LOG_LEVELS: Final = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


class Secret:
    """A string that never shows itself in `repr`, `str` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value; call only where it is sent to its one destination."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the bot is configured with. Build with `load_settings()` or directly in tests."""

    slack_bot_token: Secret = field(default_factory=lambda: Secret(""))
    vectorshift_api_key: Secret = field(default_factory=lambda: Secret(""))
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    vectorshift_base_url: str = DEFAULT_VECTORSHIFT_BASE_URL
    database_url: str = "sqlite+pysqlite:///vs_terminate.db"
    policy_file: Path = Path("policy.toml")
    audit_channel: str | None = None
    alerts_default_channel: str | None = None
    audit_hmac_key: Secret | None = None
    alerts_tokens: tuple[Secret, ...] = ()
    host: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on every interface
    port: int = 3000
    log_level: str = "INFO"
    log_format: str = "text"
    ephemeral_disk: bool = False

    @property
    def is_sqlite(self) -> bool:
        """Whether the audit store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction backstop."""
        values = [self.slack_bot_token, self.vectorshift_api_key, *self.alerts_tokens]
        for optional in (self.slack_signing_secret, self.slack_app_token, self.audit_hmac_key):
            if optional is not None:
                values.append(optional)
        return [s.get() for s in values if s.get()]


REQUIRED_BY_COMMAND: Final[Mapping[str, tuple[str, ...]]] = {
    "serve": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "VECTORSHIFT_API_KEY"),
    "socket": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "VECTORSHIFT_API_KEY"),
}
"""What each command cannot start without; the others (migrate, audit, policy, doctor) need none."""


def map_database_url(url: str) -> str:
    """Map the URL forms SPEC §2 accepts onto the drivers the app uses.

    Raises:
        ValueError: for a scheme the app cannot use.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("is not a URL (expected sqlite:///path or postgresql://…)")
    scheme = scheme.lower()
    if scheme in {"sqlite", "sqlite+pysqlite"}:
        return f"sqlite+pysqlite://{rest}"
    if scheme in {"postgres", "postgresql", "postgresql+psycopg"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"scheme {scheme!r} is not supported (use sqlite:// or postgresql://)")


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    command: str = "serve",
    dotenv_path: Path | None = Path(".env"),
) -> Settings:
    """Read and validate the configuration.

    Args:
        environ: the environment to read; `os.environ` when omitted.
        command: the CLI command being run; it decides which variables are required.
        dotenv_path: a `.env` file whose values apply under the real environment.

    Returns:
        The validated settings.

    Raises:
        ConfigError: listing every missing or invalid variable.
    """
    env: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    for name in REQUIRED_BY_COMMAND.get(command, ()):
        if get(name) is None:
            problems.append(f"{name} is required for `{command}` but is not set")

    def secret(name: str, prefix: str | None = None) -> Secret | None:
        value = get(name)
        if value is None:
            return None
        if prefix and not value.startswith(prefix):
            problems.append(f"{name} must start with {prefix!r}")
        return Secret(value)

    bot_token = secret("SLACK_BOT_TOKEN", "xoxb-")
    app_token = secret("SLACK_APP_TOKEN", "xapp-")

    slack_api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not slack_api_url.startswith(("http://", "https://")):
        problems.append("SLACK_API_URL must be an http(s) URL")
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    vs_base = (get("VECTORSHIFT_BASE_URL") or DEFAULT_VECTORSHIFT_BASE_URL).rstrip("/")
    if not vs_base.startswith(("http://", "https://")):
        problems.append("VECTORSHIFT_BASE_URL must be an http(s) URL")

    database_url = DEFAULT_DATABASE_URL
    try:
        database_url = map_database_url(get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    except ValueError as exc:
        problems.append(f"DATABASE_URL {exc}")
    ephemeral = get("DYNO") is not None
    if ephemeral and database_url.startswith("sqlite") and command not in {"doctor", "policy"}:
        problems.append(
            "DATABASE_URL must point at PostgreSQL: this platform's disk is ephemeral (DYNO is "
            "set), so a SQLite audit trail would be lost on every restart"
        )

    audit_channel = get("VS_AUDIT_CHANNEL")
    if audit_channel is not None and audit_channel[:1] not in {"C", "G"}:
        problems.append("VS_AUDIT_CHANNEL must be a channel id such as C0123ABCD")
    alerts_channel = get("VS_ALERTS_DEFAULT_CHANNEL")
    if alerts_channel is not None and not _CHANNEL_ID.fullmatch(alerts_channel):
        problems.append("VS_ALERTS_DEFAULT_CHANNEL must be a channel id such as C0123ABCD")

    alerts_raw = get("VS_ALERTS_TOKEN")
    alerts = tuple(Secret(t.strip()) for t in (alerts_raw or "").split(",") if t.strip())
    if alerts_raw is not None and not 1 <= len(alerts) <= 2:
        problems.append("VS_ALERTS_TOKEN must be one token, or two separated by a comma")
    if any(len(t.get()) < 16 for t in alerts):
        problems.append("VS_ALERTS_TOKEN tokens must be at least 16 characters")

    port = 3000
    port_raw = get("PORT")
    if port_raw is not None:
        if port_raw.isdigit() and 0 < int(port_raw) < 65536:
            port = int(port_raw)
        else:
            problems.append("PORT must be a number from 1 to 65535")
    log_level = (get("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(sorted(LOG_LEVELS))}")
    log_format = (get("LOG_FORMAT") or "text").lower()
    if log_format not in {"text", "json"}:
        problems.append("LOG_FORMAT must be text or json")

    if problems:
        raise ConfigError(problems)
    return Settings(
        slack_bot_token=bot_token or Secret(""),
        vectorshift_api_key=secret("VECTORSHIFT_API_KEY") or Secret(""),
        slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
        slack_app_token=app_token,
        slack_api_url=slack_api_url,
        vectorshift_base_url=vs_base,
        database_url=database_url,
        policy_file=Path(get("VS_POLICY_FILE") or "policy.toml"),
        audit_channel=audit_channel,
        alerts_default_channel=alerts_channel,
        audit_hmac_key=secret("VS_AUDIT_HMAC_KEY"),
        alerts_tokens=alerts,
        host=get("HOST") or "0.0.0.0",  # noqa: S104
        port=port,
        log_level=log_level,
        log_format=log_format,
        ephemeral_disk=ephemeral,
    )


APP_VARIABLE_PREFIXES: Final = ("SLACK_", "VECTORSHIFT_", "VS_", "DATABASE_URL", "DYNO")


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child `vs-terminate-bot` process (sandbox, tests, benchmark).

    The parent's own settings for the app are dropped so a developer's real tokens can never
    leak into a process pointed at local fakes; everything else (PATH, HOME, locale) is kept.
    """
    kept = {k: v for k, v in os.environ.items() if not k.startswith(APP_VARIABLE_PREFIXES)}
    kept.pop("HOST", None)
    kept.pop("PORT", None)
    return {**kept, **overrides}
