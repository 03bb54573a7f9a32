"""`vs-terminate-bot doctor`: checks an installation and says how to fix what is wrong (§3).

Each check returns a `Check`; the CLI prints one line per check (✓, ! for a warning, ✗) and
exits 1 if any failed. Checks never print secrets and never change anything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.db import Database
from bot.audit.migrate import current_revision, head_revision
from bot.config import REQUIRED_BY_COMMAND, Settings
from bot.errors import PolicyFileError
from bot.policy import load_policy, suspicious_ids
from bot.slack import ids
from bot.vectorshift import AuthError, VectorShiftClient, VectorShiftError, default_timeout

TIMEOUT_S = 10


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    hint: str = ""
    warning: bool = False


def _config(settings: Settings) -> list[Check]:
    missing = []
    for name in REQUIRED_BY_COMMAND["serve"]:
        attribute = name.lower()
        value = getattr(settings, attribute, None)
        if value is None or not value.get():
            missing.append(name)
    checks = [
        Check(
            "config",
            not missing,
            "serve can start" if not missing else f"missing {', '.join(missing)}",
            hint="set them in the environment or .env (see .env.example)",
        )
    ]
    if settings.audit_hmac_key is None:
        checks.append(
            Check(
                "audit key",
                False,
                "VS_AUDIT_HMAC_KEY is unset: the chain is plain SHA-256",
                hint="set VS_AUDIT_HMAC_KEY (stored outside the database)",
                warning=True,
            )
        )
    if settings.ephemeral_disk and settings.is_sqlite:
        checks.append(
            Check(
                "storage",
                False,
                "SQLite on an ephemeral disk (DYNO is set)",
                hint="set DATABASE_URL to a PostgreSQL database",
            )
        )
    return checks


async def _database(settings: Settings) -> Check:
    database = Database.open(settings.database_url)
    try:
        if not await database.ping():
            return Check("database", False, "does not answer", hint="check DATABASE_URL")
    finally:
        await database.close()
    current = await asyncio.to_thread(current_revision, settings.database_url)
    head = head_revision()
    if current != head:
        return Check(
            "database",
            False,
            f"at revision {current or 'none'}, latest is {head}",
            hint="run `vs-terminate-bot migrate`",
        )
    return Check("database", True, f"reachable, schema at {head}")


def manifest_scopes(manifest: Path) -> set[str]:
    """The bot scopes a manifest requests."""
    data: Any = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    return set(data["oauth_config"]["scopes"]["bot"])


def _wanted_scopes(manifest: Path) -> set[str]:
    return manifest_scopes(manifest) if manifest.is_file() else set(ids.SCOPES)


async def _slack(settings: Settings, manifest: Path) -> Check:
    if not settings.slack_bot_token.get():
        return Check("slack", False, "SLACK_BOT_TOKEN is not set", hint="set SLACK_BOT_TOKEN")
    client = AsyncWebClient(
        token=settings.slack_bot_token.get(), base_url=settings.slack_api_url, timeout=TIMEOUT_S
    )
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        return Check(
            "slack",
            False,
            f"auth.test failed: {exc.response.get('error')}",
            hint="reinstall the app and copy its bot token",
        )
    except Exception as exc:
        return Check(
            "slack",
            False,
            f"auth.test failed: {type(exc).__name__}",
            hint="check SLACK_API_URL and the network",
        )
    granted_header = response.headers.get("x-oauth-scopes") or response.headers.get(
        "X-OAuth-Scopes"
    )
    wanted = await asyncio.to_thread(_wanted_scopes, manifest)
    if granted_header is None:
        return Check(
            "slack", True, f"auth.test ok as {response.get('user_id')} (scopes not reported)"
        )
    granted = {s.strip() for s in str(granted_header).split(",") if s.strip()}
    missing, extra = wanted - granted, granted - wanted
    if missing:
        return Check(
            "slack",
            False,
            f"missing scopes: {', '.join(sorted(missing))}",
            hint="reinstall the app from manifest.yml",
        )
    detail = f"auth.test ok as {response.get('user_id')}, scopes match the manifest"
    if extra:
        return Check(
            "slack scopes",
            False,
            f"unneeded scopes granted: {', '.join(sorted(extra))}",
            hint="reinstall from manifest.yml (least privilege)",
            warning=True,
        )
    return Check("slack", True, detail)


async def _vectorshift(settings: Settings) -> Check:
    if not settings.vectorshift_api_key.get():
        return Check(
            "vectorshift", False, "VECTORSHIFT_API_KEY is not set", hint="set VECTORSHIFT_API_KEY"
        )
    async with httpx.AsyncClient(timeout=default_timeout()) as http:
        client = VectorShiftClient(
            http, base_url=settings.vectorshift_base_url, api_key=settings.vectorshift_api_key.get()
        )
        try:
            await client.check_key()
        except AuthError:
            return Check(
                "vectorshift",
                False,
                "the API key was rejected",
                hint="create a new key in VectorShift and set VECTORSHIFT_API_KEY",
            )
        except VectorShiftError as exc:
            return Check(
                "vectorshift",
                False,
                f"not reachable: {type(exc).__name__}",
                hint="check VECTORSHIFT_BASE_URL and the network",
            )
    return Check("vectorshift", True, "API key accepted")


def _policy(settings: Settings) -> Check:
    path = settings.policy_file
    if not path.is_file():
        return Check(
            "policy",
            False,
            f"{path} does not exist: every request will be denied",
            hint="copy policy.example.toml to policy.toml and edit it",
        )
    try:
        policy = load_policy(path)
    except PolicyFileError as exc:
        return Check("policy", False, "; ".join(exc.problems), hint=f"fix {path}")
    odd = suspicious_ids(policy)
    if odd:
        return Check(
            "policy",
            False,
            f"ids that do not look like Slack ids: {', '.join(odd)}",
            hint="use U…/W… user, S… group and C…/G… channel ids",
            warning=True,
        )
    return Check("policy", True, f"{len(policy.rules)} rules, {len(policy.admins)} admins")


async def run_checks(settings: Settings, *, manifest: Path) -> list[Check]:
    """Run every check concurrently where they are independent.

    Args:
        settings: the configuration under test.
        manifest: the app manifest whose scopes the token should have.

    Returns:
        The checks, in a stable order.
    """
    checks = _config(settings)
    slow = await asyncio.gather(
        _database(settings),
        _slack(settings, manifest),
        _vectorshift(settings),
        return_exceptions=True,
    )
    names = ("database", "slack", "vectorshift")
    for name, result in zip(names, slow, strict=True):
        if isinstance(result, Check):
            checks.append(result)
        else:
            checks.append(Check(name, False, f"check crashed: {type(result).__name__}"))
    checks.append(_policy(settings))
    return checks
