"""What only the real process shows: its log lines (JSON format) never carry a secret."""

from __future__ import annotations

import json

import pytest
from scenario import ADMIN, INCIDENTS, add_run, make_stack

from devkit.expect import terminate_via_modal

pytestmark = pytest.mark.e2e


async def test_json_log_lines_never_contain_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stack = make_stack(tmp_path)
    stack._extra_env["LOG_FORMAT"] = "json"
    stack._extra_env["LOG_LEVEL"] = "DEBUG"
    with stack:
        run = add_run(stack, "run-log-0001")
        async with stack.client() as slack:
            await terminate_via_modal(
                slack,
                stack.slack,
                f"nightly-etl {run}",
                user=ADMIN,
                channel=INCIDENTS,
                reason="x",
            )
        log = stack.log()
    for secret in ("xoxb-sandbox-0000-token", "sandbox-signing-secret", stack.vectorshift.api_key):
        assert secret not in log
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines
    assert all("level" in json.loads(line) for line in lines)
