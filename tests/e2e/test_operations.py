"""Running it for real: several instances, health, metrics, doctor, config, exports, rate limits,
and fuzzed signed payloads (SPEC §3, §4.4, §7)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import ADMIN, ALICE, INCIDENTS, PIPELINE_ID, add_run, make_stack

from devkit import payloads as signing
from devkit.expect import modal, posted, terminate_via_modal, texts
from devkit.stack import LocalStack, run_cli

pytestmark = pytest.mark.e2e


async def test_two_instances_on_one_postgresql_make_one_terminate_call_for_concurrent_clicks(
    tmp_path: Path, pg_database: str
) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    first = make_stack(tmp_path / "a", database_url=url)
    second = LocalStack(
        tmp_path / "b",
        policy=first.policy_file.read_text() if first.policy_file.exists() else "",
        database_url=url,
        slack=first.slack,
        vectorshift=first.vectorshift,
        fakes_running=True,
    )
    with first:
        second._policy = first.policy_file.read_text()
        with second:
            run = add_run(first, "run-race-0001")
            async with first.client() as one, second.client() as two:
                await one.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
                await modal(first.slack, "vs_terminate_confirm")
                await two.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
                await modal(first.slack, "vs_terminate_confirm", count=2)
                await asyncio.gather(
                    one.submit(user=ADMIN, reason="me"), two.submit(user=ALICE, reason="no, me")
                )
                await posted(first.slack, INCIDENTS, count=2)
            records = first.audit_records()
            verify = second.cli("audit", "verify")
    assert len(first.vectorshift.terminate_calls) == 1
    assert sorted(r["outcome"] for r in records) == ["duplicate", "succeeded"]
    assert verify.returncode == 0, verify.stderr


async def test_healthz_reports_503_when_the_database_is_gone(
    tmp_path: Path, pg_database: str
) -> None:
    stack = make_stack(tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{pg_database}")
    with stack:
        assert stack.healthz() == 200
        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as admin:
            admin.execute(f'ALTER DATABASE "{pg_database}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (pg_database,),
            )
        try:
            assert stack.healthz() == 503
        finally:
            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as admin:
                admin.execute(f'ALTER DATABASE "{pg_database}" ALLOW_CONNECTIONS true')


async def test_doctor_checks_everything_against_the_running_fakes(stack: LocalStack) -> None:
    result = stack.cli("doctor")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(":")[0] for line in lines] == [
        "✓ config",
        "✓ database",
        "✓ slack",
        "✓ vectorshift",
        "✓ policy",
    ]


def test_doctor_fails_when_the_vectorshift_key_is_wrong(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    with stack:
        env = stack.environment()
        env["VECTORSHIFT_API_KEY"] = "not-the-key"
        result = run_cli(["doctor"], env, tmp_path)
    assert result.returncode == 1
    assert "✗ vectorshift: the API key was rejected" in result.stdout
    assert "not-the-key" not in result.stdout + result.stderr


def test_missing_configuration_is_listed_at_once_with_exit_2(tmp_path: Path) -> None:
    result = run_cli(["serve"], {"PORT": "nope"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[:5] == [
        "vs-terminate-bot: configuration problems:",
        "  - SLACK_BOT_TOKEN is required for `serve` but is not set",
        "  - SLACK_SIGNING_SECRET is required for `serve` but is not set",
        "  - VECTORSHIFT_API_KEY is required for `serve` but is not set",
        "  - PORT must be a number from 1 to 65535",
    ]


async def test_csv_export_defuses_formulas_and_jsonl_has_the_spec_fields(stack: LocalStack) -> None:
    run = add_run(stack, "run-csv-00001")
    async with stack.client() as slack:
        await terminate_via_modal(
            slack,
            stack.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason='=HYPERLINK("http://evil")',
        )
    exported = stack.cli("audit", "export", "--format", "csv", "--outcome", "succeeded")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["reason"] for row in rows] == ['\'=HYPERLINK("http://evil")']
    [line] = stack.cli("audit", "export", "--run", run).stdout.splitlines()
    assert list(json.loads(line)) == [
        "id",
        "request_id",
        "requested_at",
        "completed_at",
        "team_id",
        "enterprise_id",
        "user_id",
        "user_name",
        "channel_id",
        "thread_ts",
        "source",
        "pipeline_id",
        "pipeline_name",
        "run_id",
        "reason",
        "rule",
        "outcome",
        "http_status",
        "api_status",
        "error",
        "verified_status",
        "action",
        "approved_by",
        "approved_at",
    ]
    assert "response_url" not in line
    assert (
        stack.cli("audit", "export", "--pipeline", PIPELINE_ID, "--user", "U0NOBODY").stdout == ""
    )


def test_policy_check_explains_one_decision(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.policy_file.parent.mkdir(parents=True, exist_ok=True)
    stack.policy_file.write_text(stack._policy)
    env = {"VS_POLICY_FILE": str(stack.policy_file)}
    overview = run_cli(["policy", "check"], env, tmp_path)
    assert overview.returncode == 0
    assert overview.stdout.startswith(f"{stack.policy_file}: valid")
    denied = run_cli(
        [
            "policy",
            "check",
            "--user",
            ALICE,
            "--pipeline",
            "nightly-etl",
            "--channel",
            "C0RANDOM001",
            "--group",
            "S0DATAONC1",
        ],
        env,
        tmp_path,
    )
    assert denied.returncode == 1
    assert denied.stdout.startswith("DENIED")
    assert "data-oncall" in denied.stdout
    allowed = run_cli(
        [
            "policy",
            "check",
            "--user",
            ALICE,
            "--pipeline",
            "nightly-etl",
            "--channel",
            INCIDENTS,
            "--group",
            "S0DATAONC1",
        ],
        env,
        tmp_path,
    )
    assert (allowed.returncode, allowed.stdout.split("\n")[0]) == (0, "ALLOWED")


# --- fuzzing -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.fixed_dictionaries(
    {"type": st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut", "x"])},
    optional={
        "user": json_values,
        "actions": json_values,
        "view": json_values,
        "team": json_values,
        "channel": json_values,
        "message": json_values,
        "trigger_id": json_values,
        "response_url": st.just("http://127.0.0.1:9/nowhere") | json_values,
    },
)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = make_stack(tmp_path_factory.mktemp("fuzz"))
    with stack:
        stack.vectorshift.add_run(PIPELINE_ID, "run-fuzz-0001")
        yield stack


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=payloads, raw=st.binary(max_size=200), text=st.text(max_size=300))
def test_fuzzed_signed_payloads_never_500_never_terminate_and_keep_the_chain(
    fuzz_stack: LocalStack, payload: dict[str, object], raw: bytes, text: str
) -> None:
    import urllib.parse

    bodies = [
        urllib.parse.urlencode({"payload": json.dumps(payload)}),
        raw.decode("latin-1"),
        signing.slash_command_body(
            text, user_id=ADMIN, channel_id=INCIDENTS, response_url="http://127.0.0.1:9/nowhere"
        ),
    ]
    for body in bodies:
        request = urllib.request.Request(  # noqa: S310
            f"{fuzz_stack.url}/slack/events",
            data=body.encode("latin-1", "replace") if isinstance(body, str) else body,
            method="POST",
            headers=signing.sign(body, "sandbox-signing-secret"),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status < 500
    assert fuzz_stack.vectorshift.terminate_calls == []


def test_after_fuzzing_the_audit_chain_still_verifies(fuzz_stack: LocalStack) -> None:
    result = fuzz_stack.cli("audit", "verify")
    assert result.returncode == 0, result.stderr
    assert texts({"text": result.stdout}).startswith("ok: ")
