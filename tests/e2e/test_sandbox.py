"""`make sandbox` (`python -m devkit.sandbox`) run as a user would: the scripted tour and an interactive session.

Each test starts `python -m devkit.sandbox` as a child process (which itself starts the fakes and
the real `serve`) and reads what it printed: every step's visible outcome, the audit trail and
`audit verify`, and the exit status.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.render import Audience, Shown, ack_shown, block_lines, flatten

TIMEOUT_S = 120
ROOT = Path(__file__).resolve().parents[2]


def run_sandbox(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devkit.sandbox", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def section(output: str, title: str) -> str:
    """The lines printed under `── title ──`, up to the next heading."""
    start = output.index(f"── {title} ──")
    end = output.find("\n── ", start + 1)
    return output[start : end if end != -1 else None]


@pytest.mark.e2e
def test_scripted_sandbox_shows_every_step_and_a_verified_audit_trail() -> None:
    result = run_sandbox()
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "\x1b[" not in out  # no colours when stdout is not a terminal

    step1 = section(out, "1. Alice (on-call) stops a stuck run")
    assert "[modal for @alice] opened\n" in step1
    assert "│ ⏳ Checking…" not in step1  # the details came quickly: no placeholder first
    assert "│ Reason: [ stuck in a retry loop since 02:00 ] *required" in step1
    assert "└─ [ Cancel ]  [ Terminate ] " in step1
    assert "│ ⏳ Terminating…" in step1
    assert (
        "\n  [#incidents]\n    ✅ @alice asked to terminate run 66aa00bb11cc22dd33ee4401 of "
        in step1
    )
    assert "  ✓ terminated: result in the modal and in #incidents\n" in step1

    step2 = section(out, "2. Bob (not on-call), and Alice outside #incidents, are turned away")
    assert "[ephemeral to @alice in #random]\n    ⛔ You may not terminate this run here." in step2
    assert "[ephemeral to @bob in #incidents]\n    ⛔ You may not terminate this run here." in step2
    assert "  ✓ both denied with the reason and who can; VectorShift was not called\n" in step2

    step3 = section(out, "3. Dana (admin) picks a run that has already finished")
    assert "│ ℹ️ The run has already finished (completed); there is nothing to terminate." in step3
    assert "  ✓ the modal says the run has already finished; no Terminate button\n" in step3

    step4 = section(out, "4. A terminate fails; Alice clicks Retry")
    assert (
        "\n  [#incidents]\n    ❌ @alice asked to terminate run 66aa00bb11cc22dd33ee4404" in step4
    )
    assert "[ Retry ]" in step4
    assert "▸ @alice clicks Retry on the failure message" in step4
    assert (
        "\n  [#incidents thread]\n    ✅ @alice asked to terminate run 66aa00bb11cc22dd33ee4404"
        in step4
    )
    assert (
        "  ✓ failed first, Retry opened a fresh confirmation, terminated in the thread\n" in step4
    )

    step5 = section(out, "5. An alert arrives with a Terminate button; Carol clicks it")
    assert "    Nightly ETL has been running for 3h12m (usual: 40 min)\n" in step5
    assert "    [ Pause ]  [ Terminate ]\n" in step5
    assert (
        "\n  [#incidents thread]\n    ✅ @carol asked to terminate run 66aa00bb11cc22dd33ee4405"
        in step5
    )
    assert "\n  [#incidents] message edited\n" in step5
    assert (
        "  ✓ result in the alert's thread; the alert shows the outcome, button removed\n" in step5
    )

    audit = section(out, "Audit trail (vs-terminate-bot audit export)")
    assert re.findall(r"  (succeeded|failed|denied|already_finished) ", audit) == [
        "succeeded", "denied", "denied", "already_finished", "failed", "succeeded", "succeeded",
        "succeeded", "succeeded", "succeeded", "succeeded", "succeeded",
    ]  # fmt: skip
    assert re.findall(r"  (terminate|pause|resume) ", audit) == [
        "terminate", "terminate", "terminate", "terminate", "terminate", "terminate", "terminate",
        "pause", "resume", "pause", "terminate", "terminate",
    ]  # fmt: skip
    assert "  (12 attempts; `audit export --format csv` for all fields)" in audit

    step6 = section(out, "6. Carol pauses a run from an alert, looks, resumes; pauses, terminates")
    assert "    [ Pause ]  [ Terminate ]\n" in step6  # the alert
    assert "    ✅ Paused — verified paused. It can be resumed or terminated.\n" in step6
    assert "    [ Resume ]  [ Terminate ]\n" in step6  # the pause's result
    assert "    ✅ Resumed — verified running again (running).\n" in step6
    assert "  ✓ paused, resumed, paused again and terminated, each in the alert's thread\n" in step6

    step7 = section(out, "7. Billing needs two people: Alice asks, Bob cannot approve, Erin does")
    assert "    [ Approve ]  [ Reject ]\n" in step7
    assert "Needs approval from @erin (never the requester)" in step7
    assert "  [ephemeral to @bob in #incidents]\n    ℹ️ Only @erin may approve this." in step7
    assert "    ✅ Approved by @erin at " in step7
    assert (
        "  [#incidents thread]\n    ✅ @alice asked to terminate run 66aa00bb11cc22dd33ee4407"
        in step7
    )
    assert (
        "  ✓ nothing ran until Erin approved; Bob was told who may; one terminate call\n" in step7
    )

    verify = section(out, "vs-terminate-bot audit verify")
    assert re.search(r"\n  ok: \d+ events verified, head [0-9a-f]{64}\n", verify), verify
    assert out.rstrip().endswith("✓ every step showed what it should; the audit chain verifies")


@pytest.mark.e2e
def test_interactive_sandbox_runs_typed_commands_as_any_user() -> None:
    typed = "\n".join(
        [
            "U0ALICE01 C0INCIDENTS /vs-terminate nightly-etl run-ok-1 disk filling up",
            "submit",
            "U0BOB0001 /vs-terminate nightly-etl run-ok-2",
            "U0ALICE01 C0INCIDENTS /vs-terminate help",
            "frobnicate",
            "quit",
            "U0ALICE01 /vs-terminate this line is never read",
        ]
    )
    result = run_sandbox("--interactive", stdin=typed + "\n")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "  /vs-terminate <text>         the slash command, e.g." in out
    assert "  U0ALICE01  @alice  on-call (in @data-oncall)" in out

    alice = out.split("> U0ALICE01 C0INCIDENTS /vs-terminate nightly-etl run-ok-1", 1)[1]
    alice = alice.split("> submit", 1)[0]
    assert "│ Reason: [ disk filling up ] *required" in alice
    assert "(@alice has a confirmation open: `submit [<reason>]` or `cancel`)" in alice

    submitted = out.split("> submit\n", 1)[1].split("> U0BOB0001", 1)[0]
    assert "│ ⏳ Terminating…" in submitted
    assert (
        "\n  [#incidents]\n    ✅ @alice asked to terminate run run-ok-1 of Nightly ETL"
        in submitted
    )

    bob = out.split("> U0BOB0001 /vs-terminate nightly-etl run-ok-2\n", 1)[1]
    assert "You may not terminate this run here." in bob.split("> U0ALICE01", 1)[0]
    assert "  ✗ unknown action 'frobnicate'; type help" in out
    assert "this line is never read" not in out


# The renderer is a pure function: a few exact cases (the sandbox's own output is checked above).

AUDIENCE = Audience(
    users={"U0ALICE01": "alice"},
    channels={"C0INCIDENTS": "incidents"},
    groups={"S0ONCALL01": "oncall"},
)


def test_mrkdwn_is_flattened_to_what_a_reader_sees() -> None:
    text = (
        ":no_entry: *Denied* in <#C0INCIDENTS>: ask <@U0ALICE01> or <!subteam^S0ONCALL01>, "
        "see <https://example.test/runbook|the runbook>; run `abc` &lt;b&gt; &amp; :unknown_emoji:"
    )
    assert flatten(text, AUDIENCE) == (
        "⛔ Denied in #incidents: ask @alice or @oncall, see the runbook "
        "(https://example.test/runbook); run abc <b> & :unknown_emoji:"
    )


def test_plain_text_blocks_are_shown_verbatim_and_buttons_and_inputs_are_drawn() -> None:
    blocks = [
        {"type": "section", "text": {"type": "plain_text", "text": "<!channel> *not bold*"}},
        {"type": "section", "fields": [{"type": "plain_text", "text": "Run: r1"}]},
        {"type": "context", "elements": [{"type": "plain_text", "text": "Attempt a1"}]},
        {
            "type": "input",
            "block_id": "reason",
            "optional": False,
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "reason",
                        "placeholder": {"type": "plain_text", "text": "Why?"}},
        },
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "vs_terminate_retry", "value": "a1",
             "text": {"type": "plain_text", "text": "Retry"}},
        ]},
    ]  # fmt: skip
    assert block_lines(blocks, AUDIENCE) == [
        "<!channel> *not bold*",
        "Run: r1",
        "· Attempt a1",
        "Reason: [ (Why?) ] *required",
        "[ Retry ]",
    ]


def test_an_ack_with_text_is_an_ephemeral_reply_and_an_empty_ack_shows_nothing() -> None:
    shown = ack_shown(
        {"response_type": "ephemeral", "text": "Hi <@U0ALICE01>"},
        user="U0ALICE01",
        channel="C0INCIDENTS",
        audience=AUDIENCE,
    )
    assert shown == Shown("[ephemeral to @alice in #incidents]", "", ("Hi @alice",), "ack")
    assert ack_shown(None, user="U0ALICE01", channel="C0INCIDENTS", audience=AUDIENCE) is None
    errors = ack_shown(
        {"response_action": "errors", "errors": {"reason": "A reason is required."}},
        user="U0ALICE01",
        channel=None,
        audience=AUDIENCE,
    )
    assert errors == Shown(
        "[modal for @alice]", "shows an error", ("reason: A reason is required.",), "ack"
    )
