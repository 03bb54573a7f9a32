"""Slack manifests valid against Slack's schema, in line with bot.slack.ids and each other."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from bot.slack import ids

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "manifest.schema.1.0.0.json"
HTTP = "manifest.yml"
SOCKET = "manifest.socket.yml"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def problems(validator: Draft7Validator, manifest: dict[str, Any]) -> list[str]:
    return sorted(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(manifest)
    )


def command(manifest: dict[str, Any]) -> dict[str, Any]:
    [only] = manifest["features"]["slash_commands"]
    assert isinstance(only, dict)
    return only


def test_the_vendored_schema_is_the_one_the_manifests_declare_and_keeps_its_licence() -> None:
    for name in (HTTP, SOCKET):
        assert load(name)["_metadata"]["major_version"] == 1
    licence = (SCHEMA_FILE.parent / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License\n\nCopyright (c) Slack Technologies, LLC")


@pytest.mark.parametrize("name", [HTTP, SOCKET])
def test_manifest_validates_against_slacks_schema(validator: Draft7Validator, name: str) -> None:
    assert problems(validator, load(name)) == []


def test_the_schema_check_would_catch_a_broken_manifest(validator: Draft7Validator) -> None:
    broken = load(HTTP)
    broken["features"]["slash_commands"][0]["command"] = "vs-terminate"
    broken["settings"]["interactivity"]["is_enabled"] = "yes"
    broken["oauth_config"]["scopez"] = []

    assert problems(validator, broken) == [
        "features/slash_commands/0/command: 'vs-terminate' does not match '^\\\\/'",
        "oauth_config: Additional properties are not allowed ('scopez' was unexpected)",
        "settings/interactivity/is_enabled: 'yes' is not of type 'boolean'",
    ]


@pytest.mark.parametrize("name", [HTTP, SOCKET])
def test_the_slash_command_is_the_one_the_code_handles(name: str) -> None:
    cmd = command(load(name))

    assert cmd["command"] == ids.COMMAND
    assert cmd["should_escape"] is False
    for word in ("<pipeline> <run> [reason]", "status", "history", "can-i", "help"):
        assert word in cmd["usage_hint"]


@pytest.mark.parametrize("name", [HTTP, SOCKET])
def test_bot_scopes_are_exactly_the_codes_scopes(name: str) -> None:
    scopes = load(name)["oauth_config"]["scopes"]

    assert list(scopes) == ["bot"]
    assert len(scopes["bot"]) == len(set(scopes["bot"]))
    assert set(scopes["bot"]) == set(ids.SCOPES)
    assert sorted(ids.SCOPES) == sorted(
        ["commands", "chat:write", "chat:write.public", "usergroups:read", "users:read"]
    )


def test_http_manifest_sends_commands_and_interactions_to_the_events_path() -> None:
    manifest = load(HTTP)
    settings = manifest["settings"]
    urls = [command(manifest)["url"], settings["interactivity"]["request_url"]]

    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert all(url.startswith("https://") and url.endswith(ids.EVENTS_PATH) for url in urls)
    assert len(set(urls)) == 1


def test_socket_manifest_uses_socket_mode_and_has_no_request_urls() -> None:
    manifest = load(SOCKET)
    settings = manifest["settings"]

    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"] == {"is_enabled": True}
    assert "url" not in command(manifest)
    assert "event_subscriptions" not in settings


@pytest.mark.parametrize("name", [HTTP, SOCKET])
def test_no_org_deploy_no_token_rotation_and_no_event_subscriptions(name: str) -> None:
    settings = load(name)["settings"]

    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    assert "event_subscriptions" not in settings


def test_the_two_manifests_differ_only_in_transport() -> None:
    http, socket = load(HTTP), load(SOCKET)
    expected = copy.deepcopy(http)
    expected["settings"]["socket_mode_enabled"] = True
    del expected["settings"]["interactivity"]["request_url"]
    del expected["features"]["slash_commands"][0]["url"]

    assert socket == expected


def test_procfile_runs_migrations_on_release_and_offers_both_transports() -> None:
    entries = [
        line
        for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]

    assert entries == [
        "release: vs-terminate-bot migrate",
        "web: vs-terminate-bot serve",
        "worker: vs-terminate-bot socket",
    ]


def test_env_example_lists_every_documented_variable_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    variables = {
        "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
        "VECTORSHIFT_API_KEY", "VECTORSHIFT_BASE_URL", "DATABASE_URL", "VS_POLICY_FILE",
        "VS_AUDIT_CHANNEL", "VS_AUDIT_HMAC_KEY", "VS_ALERTS_TOKEN", "VS_ALERTS_DEFAULT_CHANNEL", "HOST",
        "PORT", "LOG_LEVEL",
        "LOG_FORMAT",
    }  # fmt: skip
    assigned = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}

    assert assigned == variables
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"{line.split('=')[0]} has no comment"
