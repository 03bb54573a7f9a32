"""Settings: one place, every problem at once, secrets that never show themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Secret, load_settings, map_database_url
from bot.errors import ConfigError

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_SIGNING_SECRET": "s3cr3t",
    "VECTORSHIFT_API_KEY": "sk_live_key",
}


def test_good_environment_gives_settings_with_defaults() -> None:
    settings = load_settings(GOOD, dotenv_path=None)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.vectorshift_base_url == "https://api.vectorshift.ai/v1"
    assert settings.database_url == "sqlite+pysqlite:///vs_terminate.db"
    assert settings.policy_file == Path("policy.toml")
    assert settings.port == 3000
    assert settings.secrets() == ["xoxb-1-2-abc", "sk_live_key", "s3cr3t"]


def test_every_problem_is_reported_at_once() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxp-wrong",
        "PORT": "99999",
        "LOG_FORMAT": "xml",
        "DATABASE_URL": "mysql://x",
        "VS_ALERTS_TOKEN": "short",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(env, dotenv_path=None)
    assert caught.value.problems == [
        "SLACK_SIGNING_SECRET is required for `serve` but is not set",
        "VECTORSHIFT_API_KEY is required for `serve` but is not set",
        "SLACK_BOT_TOKEN must start with 'xoxb-'",
        "DATABASE_URL scheme 'mysql' is not supported (use sqlite:// or postgresql://)",
        "VS_ALERTS_TOKEN tokens must be at least 16 characters",
        "PORT must be a number from 1 to 65535",
        "LOG_FORMAT must be text or json",
    ]
    assert "xoxp-wrong" not in str(caught.value)


def test_socket_mode_needs_the_app_token_not_the_signing_secret() -> None:
    env = {k: v for k, v in GOOD.items() if k != "SLACK_SIGNING_SECRET"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env, command="socket", dotenv_path=None)
    assert caught.value.problems == ["SLACK_APP_TOKEN is required for `socket` but is not set"]


def test_commands_that_need_no_slack_start_without_tokens() -> None:
    assert load_settings({}, command="migrate", dotenv_path=None).database_url.startswith("sqlite")


@pytest.mark.parametrize(
    ("url", "mapped"),
    [
        ("sqlite:///x.db", "sqlite+pysqlite:///x.db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_map_to_the_drivers_the_app_uses(url: str, mapped: str) -> None:
    assert map_database_url(url) == mapped


def test_sqlite_is_refused_on_an_ephemeral_disk() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**GOOD, "DYNO": "web.1"}, dotenv_path=None)
    assert caught.value.problems[0].startswith("DATABASE_URL must point at PostgreSQL")
    settings = load_settings(
        {**GOOD, "DYNO": "web.1", "DATABASE_URL": "postgres://u@h/db"}, dotenv_path=None
    )
    assert settings.ephemeral_disk


def test_slack_api_url_gets_its_trailing_slash() -> None:
    settings = load_settings({**GOOD, "SLACK_API_URL": "http://127.0.0.1:9/api"}, dotenv_path=None)
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_dotenv_fills_in_under_the_real_environment(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("VECTORSHIFT_API_KEY=from-file\nPORT=4000\n")
    settings = load_settings({**GOOD, "PORT": "5000"}, dotenv_path=dotenv)
    assert settings.vectorshift_api_key.get() == "sk_live_key"
    assert settings.port == 5000
    partial = {k: v for k, v in GOOD.items() if k != "VECTORSHIFT_API_KEY"}
    assert load_settings(partial, dotenv_path=dotenv).vectorshift_api_key.get() == "from-file"


def test_secrets_never_show_in_repr_or_str() -> None:
    settings = load_settings(GOOD, dotenv_path=None)
    for text in (repr(settings), str(settings), f"{settings.slack_bot_token}"):
        assert "xoxb-1-2-abc" not in text
        assert "s3cr3t" not in text
    assert repr(Secret("x")) == "Secret('***')"


def test_alert_tokens_allow_a_rotation_pair() -> None:
    settings = load_settings(
        {**GOOD, "VS_ALERTS_TOKEN": "a" * 20 + ", " + "b" * 20}, dotenv_path=None
    )
    assert [t.get() for t in settings.alerts_tokens] == ["a" * 20, "b" * 20]
