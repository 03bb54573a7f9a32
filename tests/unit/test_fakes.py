"""The local fakes behave like the services they stand in for, as seen by the real clients.

FakeSlack is driven with slack_sdk's `AsyncWebClient` (the client the bot uses), FakeVectorShift
with httpx, and the signed bodies are checked with slack_sdk's `SignatureVerifier` and a real
Bolt `AsyncApp`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.internals import (
    extract_channel_id,
    extract_enterprise_id,
    extract_team_id,
    extract_user_id,
    parse_body,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.domain import Action, RunState
from bot.vectorshift import VectorShiftClient
from devkit.fakes import FakeServer, FakeSlack, FakeVectorShift, RunScript, SlackUser, serve_in_loop
from devkit.fakes.vectorshift_api import API_KEY
from devkit.payloads import (
    SlackClient,
    block_actions_body,
    sign,
    slash_command_body,
    view_submission_body,
)

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
PIPELINE = "65f1c0ffee0123456789abcd"
RUN = "66aa00bb11cc22dd33ee44ff"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "vs_terminate_confirm",
    "title": {"type": "plain_text", "text": "Terminate run"},
    "submit": {"type": "plain_text", "text": "Terminate"},
    "notify_on_close": True,
    "private_metadata": "att-1:nonce-1",
    "blocks": [
        {"type": "section", "text": {"type": "plain_text", "text": "Checking…"}},
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "reason"},
        },
    ],
}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack().serve() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url, timeout=5)


@pytest.fixture
async def vectorshift() -> AsyncIterator[FakeVectorShift]:
    async with FakeVectorShift(hang_s=0.05).serve() as fake:
        fake.add_pipeline(PIPELINE, "Nightly ETL")
        yield fake


@pytest.fixture
async def vs_http(vectorshift: FakeVectorShift) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(
        base_url=vectorshift.base_url, headers=headers, timeout=5
    ) as client:
        yield client


# -- FakeSlack through slack_sdk --------------------------------------------------------------


async def test_auth_test_answers_for_the_test_workspace(slack: FakeSlack, web: AsyncWebClient):
    answer = await web.auth_test()

    assert slack.api_url.endswith("/api/")
    assert slack.api_url.startswith("http://127.0.0.1:")
    assert (answer["team_id"], answer["user_id"], answer["bot_id"], answer["team"]) == (
        "T0TEST",
        "U0BOT",
        "B0BOT",
        "Test",
    )
    assert "enterprise_id" not in answer.data
    assert answer.headers["X-OAuth-Scopes"] == (
        "commands,chat:write,chat:write.public,usergroups:read,users:read"
    )
    [call] = slack.calls("auth.test")
    assert (call.token, call.error) == (TOKEN, None)


async def test_auth_test_reports_the_configured_enterprise():
    async with FakeSlack(enterprise_id="E0GRID").serve() as slack:
        answer = await AsyncWebClient(token=TOKEN, base_url=slack.api_url).auth_test()

    assert answer["enterprise_id"] == "E0GRID"


async def test_a_token_other_than_the_configured_one_is_invalid_auth():
    async with FakeSlack(bot_token=TOKEN).serve() as slack:
        with pytest.raises(SlackApiError) as raised:
            await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()

    assert raised.value.response["error"] == "invalid_auth"
    assert [c.error for c in slack.calls()] == ["invalid_auth"]


async def test_views_open_then_update_keeps_the_id_and_changes_the_hash(
    slack: FakeSlack, web: AsyncWebClient
):
    trigger_id = slack.mint_trigger_id("U0ALICE")

    opened = await web.views_open(trigger_id=trigger_id, view=MODAL)
    view_id = opened["view"]["id"]
    updated = await web.views_update(
        view_id=view_id, view={**MODAL, "title": {"type": "plain_text", "text": "Done"}}
    )

    assert view_id.startswith("V")
    assert opened["view"]["blocks"] == MODAL["blocks"]
    assert opened["view"]["private_metadata"] == "att-1:nonce-1"
    assert updated["view"]["id"] == view_id
    assert updated["view"]["hash"] != opened["view"]["hash"]
    assert slack.current_view("U0ALICE")["title"]["text"] == "Done"
    assert [c.method for c in slack.calls()] == ["views.open", "views.update"]
    assert slack.calls("views.open")[0].args["trigger_id"] == trigger_id


async def test_views_update_with_a_stale_hash_is_a_hash_conflict(
    slack: FakeSlack, web: AsyncWebClient
):
    opened = await web.views_open(trigger_id=slack.mint_trigger_id("U0ALICE"), view=MODAL)
    await web.views_update(view_id=opened["view"]["id"], view=MODAL)

    with pytest.raises(SlackApiError) as raised:
        await web.views_update(
            view_id=opened["view"]["id"], view=MODAL, hash=opened["view"]["hash"]
        )

    assert raised.value.response["error"] == "hash_conflict"


async def test_a_closed_view_cannot_be_updated(slack: FakeSlack, web: AsyncWebClient):
    opened = await web.views_open(trigger_id=slack.mint_trigger_id("U0ALICE"), view=MODAL)
    slack.close_view(opened["view"]["id"])

    with pytest.raises(SlackApiError) as raised:
        await web.views_update(view_id=opened["view"]["id"], view=MODAL)

    assert raised.value.response["error"] == "not_found"


async def test_a_trigger_id_opens_one_view_only(slack: FakeSlack, web: AsyncWebClient):
    trigger_id = slack.mint_trigger_id("U0ALICE")
    await web.views_open(trigger_id=trigger_id, view=MODAL)

    with pytest.raises(SlackApiError) as raised:
        await web.views_open(trigger_id=trigger_id, view=MODAL)

    assert raised.value.response["error"] == "exchanged_trigger_id"


async def test_a_trigger_older_than_the_ttl_is_expired():
    async with FakeSlack(trigger_ttl_s=0.0).serve() as slack:
        web = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
        with pytest.raises(SlackApiError) as raised:
            await web.views_open(trigger_id=slack.mint_trigger_id("U0ALICE"), view=MODAL)

    assert raised.value.response["error"] == "expired_trigger_id"


async def test_a_scripted_expired_trigger_fails_views_open_once(
    slack: FakeSlack, web: AsyncWebClient
):
    slack.fail("views.open", "expired_trigger_id", times=1)

    with pytest.raises(SlackApiError) as raised:
        await web.views_open(trigger_id=slack.mint_trigger_id(), view=MODAL)
    retried = await web.views_open(trigger_id=slack.mint_trigger_id(), view=MODAL)

    assert raised.value.response["error"] == "expired_trigger_id"
    assert retried["ok"] is True
    assert [c.error for c in slack.calls("views.open")] == ["expired_trigger_id", None]


async def test_a_modal_title_over_24_characters_is_refused(slack: FakeSlack, web: AsyncWebClient):
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "Terminate this pipeline run"}}

    with pytest.raises(SlackApiError) as raised:
        await web.views_open(trigger_id=slack.mint_trigger_id(), view=long_title)

    assert raised.value.response["error"] == "invalid_arguments"
    assert raised.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    assert slack.take_limit_violations() == [
        ("views.open", "must be less than 25 characters [json-pointer:/view/title/text]")
    ]


async def test_not_in_channel_fails_only_the_scripted_channel(
    slack: FakeSlack, web: AsyncWebClient
):
    slack.fail("chat.postMessage", "not_in_channel", channel="C0PRIVATE")

    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel="C0PRIVATE", text="stopped")
    public = await web.chat_postMessage(channel="C0PUBLIC", text="stopped")

    assert raised.value.response["error"] == "not_in_channel"
    assert (public["channel"], public["message"]["text"]) == ("C0PUBLIC", "stopped")
    assert [(c.args["channel"], c.error) for c in slack.calls("chat.postMessage")] == [
        ("C0PRIVATE", "not_in_channel"),
        ("C0PUBLIC", None),
    ]


async def test_a_private_channel_refuses_chat_but_not_its_response_url(
    slack: FakeSlack, web: AsyncWebClient
):
    slack.private_channel("C0PRIVATE")
    url = slack.response_url(channel="C0PRIVATE", user_id="U0ALICE")

    with pytest.raises(SlackApiError) as posted:
        await web.chat_postMessage(channel="C0PRIVATE", text="stopped")
    with pytest.raises(SlackApiError) as ephemeral:
        await web.chat_postEphemeral(channel="C0PRIVATE", user="U0ALICE", text="stopped")
    fallback = await AsyncWebhookClient(url).send(text="stopped", response_type="in_channel")

    assert posted.value.response["error"] == "channel_not_found"
    assert ephemeral.value.response["error"] == "channel_not_found"
    assert fallback.status_code == 200
    assert [m.text for m in slack.messages("C0PRIVATE")] == ["stopped"]


async def test_slack_sdk_sees_a_429_with_retry_after(slack: FakeSlack, web: AsyncWebClient):
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=7, times=1)

    with pytest.raises(SlackApiError) as raised:
        await web.chat_postMessage(channel="C0INC", text="one")
    after = await web.chat_postMessage(channel="C0INC", text="two")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    assert after["ok"] is True


async def test_messages_get_increasing_ts_permalinks_and_updates(
    slack: FakeSlack, web: AsyncWebClient
):
    first = await web.chat_postMessage(channel="C0INC", text="first")
    second = await web.chat_postMessage(channel="C0INC", text="reply", thread_ts=first["ts"])
    link = await web.chat_getPermalink(channel="C0INC", message_ts=first["ts"])
    await web.chat_update(channel="C0INC", ts=first["ts"], text="first, edited")

    assert (first["ts"], second["ts"]) == ("1700000000.000100", "1700000000.000200")
    assert second["message"]["thread_ts"] == first["ts"]
    assert link["permalink"] == "https://test.slack.com/archives/C0INC/p1700000000000100"
    edited = slack.message("C0INC", first["ts"])
    assert (edited.text, edited.edits) == ("first, edited", 1)


async def test_updating_an_unknown_message_is_message_not_found(web: AsyncWebClient):
    with pytest.raises(SlackApiError) as raised:
        await web.chat_update(channel="C0INC", ts="1690000000.000001", text="x")

    assert raised.value.response["error"] == "message_not_found"


async def test_ephemeral_messages_and_dms_reach_one_user(slack: FakeSlack, web: AsyncWebClient):
    slack.set_users(SlackUser(id="U0ALICE", name="alice"))

    ephemeral = await web.chat_postEphemeral(channel="C0INC", user="U0ALICE", text="only you")
    dm = await web.conversations_open(users="U0ALICE")
    posted = await web.chat_postMessage(channel=dm["channel"]["id"], text="in your DMs")

    assert slack.message("C0INC", ephemeral["message_ts"]).ephemeral_to == "U0ALICE"
    assert dm["channel"]["id"] == "DU0ALICE"
    assert posted["channel"] == "DU0ALICE"


async def test_users_info_describes_configured_users_and_not_others(
    slack: FakeSlack, web: AsyncWebClient
):
    slack.set_users(
        SlackUser(id="U0GUEST", name="guest", is_restricted=True),
        SlackUser(id="W0GRID", name="grid", enterprise_id="E0GRID"),
    )

    guest = await web.users_info(user="U0GUEST")
    grid = await web.users_info(user="W0GRID")
    with pytest.raises(SlackApiError) as raised:
        await web.users_info(user="U0NOBODY")

    assert (guest["user"]["name"], guest["user"]["is_restricted"]) == ("guest", True)
    assert guest["user"]["is_ultra_restricted"] is False
    assert grid["user"]["enterprise_user"]["enterprise_id"] == "E0GRID"
    assert raised.value.response["error"] == "user_not_found"


async def test_usergroups_users_list_lists_members_of_known_groups_only(
    slack: FakeSlack, web: AsyncWebClient
):
    slack.set_group("S0DATAONCALL", ["U0ALICE", "U0BOB"])

    members = await web.usergroups_users_list(usergroup="S0DATAONCALL")
    with pytest.raises(SlackApiError) as raised:
        await web.usergroups_users_list(usergroup="S0UNKNOWN")

    assert members["users"] == ["U0ALICE", "U0BOB"]
    assert raised.value.response["error"] == "no_such_subteam"


async def test_an_unknown_method_is_unknown_method(slack: FakeSlack, web: AsyncWebClient):
    with pytest.raises(SlackApiError) as raised:
        await web.api_call("reactions.add", json={"channel": "C0INC"})

    assert raised.value.response["error"] == "unknown_method"
    assert slack.calls()[0].method == "reactions.add"


async def test_form_encoded_calls_are_decoded_like_json_ones(slack: FakeSlack, web: AsyncWebClient):
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "hi"}}]

    await web.api_call(
        "chat.postMessage", data={"channel": "C0INC", "text": "hi", "blocks": json.dumps(blocks)}
    )

    [call] = slack.calls("chat.postMessage")
    assert call.args == {"channel": "C0INC", "text": "hi", "blocks": blocks}
    assert call.token == TOKEN


async def test_a_delayed_method_makes_slack_sdk_time_out(slack: FakeSlack):
    slack.delay("chat.postMessage", 1.0)
    impatient = AsyncWebClient(token=TOKEN, base_url=slack.api_url, timeout=0.1)

    with pytest.raises(TimeoutError):
        await impatient.chat_postMessage(channel="C0INC", text="slow")

    assert [c.method for c in slack.calls()] == ["chat.postMessage"]


async def test_response_url_posts_are_recorded_and_replace_the_original(
    slack: FakeSlack, web: AsyncWebClient
):
    alert = await web.chat_postMessage(channel="C0INC", text="Alert")
    url = slack.response_url("R1", channel="C0INC", message_ts=alert["ts"], user_id="U0ALICE")

    answer = await AsyncWebhookClient(url).send_dict(
        {"replace_original": True, "text": "Terminated by alice"}
    )

    assert answer.status_code == 200
    assert url.endswith("/response/R1")
    [call] = slack.calls("response_url")
    assert call.args == {
        "replace_original": True,
        "text": "Terminated by alice",
        "response_url_id": "R1",
    }
    assert slack.message("C0INC", alert["ts"]).text == "Terminated by alice"
    assert slack.transcript() == [
        "[C0INC] Alert",
        "[response_url replace] Terminated by alice",
    ]


async def test_a_response_url_can_be_told_to_fail_for_one_channel(slack: FakeSlack):
    slack.fail("response_url", "expired_url", status=404, channel="C0PRIVATE")
    private = slack.response_url(channel="C0PRIVATE")
    public = slack.response_url(channel="C0PUBLIC")

    failed = await AsyncWebhookClient(private).send(text="x", response_type="in_channel")
    delivered = await AsyncWebhookClient(public).send(text="y", response_type="in_channel")

    assert (failed.status_code, json.loads(failed.body)["error"]) == (404, "expired_url")
    assert delivered.status_code == 200
    assert [m.text for m in slack.messages("C0PUBLIC")] == ["y"]


async def test_async_wait_for_returns_a_call_that_arrives_later(
    slack: FakeSlack, web: AsyncWebClient
):
    waiting = asyncio.ensure_future(
        slack.async_wait_for("chat.postMessage", lambda c: c.args["text"] == "second")
    )
    await web.chat_postMessage(channel="C0INC", text="first")
    await web.chat_postMessage(channel="C0INC", text="second")

    call = await waiting

    assert call.args["text"] == "second"


async def test_async_wait_for_times_out_naming_the_calls_it_saw(
    slack: FakeSlack, web: AsyncWebClient
):
    await web.auth_test()

    with pytest.raises(TimeoutError) as raised:
        await slack.async_wait_for("chat.postMessage", timeout=0.05)

    assert str(raised.value) == (
        "FakeSlack: fewer than 1 matching chat.postMessage call(s) within 0.05 s; "
        "calls so far: auth.test"
    )


def test_a_sync_test_can_wait_for_a_call_made_from_another_thread():
    with FakeSlack() as slack:
        web = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
        poster = threading.Thread(
            target=asyncio.run, args=(web.chat_postMessage(channel="C0INC", text="hello"),)
        )
        poster.start()

        call = slack.wait_for("chat.postMessage", timeout=5)
        poster.join()

    assert (call.args["channel"], call.args["text"]) == ("C0INC", "hello")


def test_a_fake_can_be_stopped_and_started_again_on_a_new_port():
    slack = FakeSlack()
    first = slack.start()
    slack.stop()
    with pytest.raises(RuntimeError):
        _ = slack.api_url
    second = slack.start()
    slack.stop()

    assert first.startswith("http://127.0.0.1:")
    assert second.startswith("http://127.0.0.1:")


def test_fake_server_serves_any_app_on_loopback_only():
    server = FakeServer(FakeVectorShift().make_app)
    with server as base_url:
        host = base_url.removeprefix("http://").split(":")[0]
        assert server.running is True

    assert host == "127.0.0.1"
    assert server.running is False


async def test_serve_in_loop_serves_an_app_in_the_running_loop():
    async with (
        serve_in_loop(FakeVectorShift().make_app) as base_url,
        httpx.AsyncClient() as client,
    ):
        answer = await client.get(f"{base_url}/v1/pipeline", params={"name": "x"})

    assert (answer.status_code, answer.json()) == (401, {"error": "Invalid API key"})


# -- FakeVectorShift through httpx ------------------------------------------------------------


async def test_pipeline_lookup_by_name_answers_an_oid(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    answer = await vs_http.get("/pipeline", params={"name": "Nightly ETL"})

    assert vectorshift.base_url.endswith("/v1")
    assert answer.status_code == 200
    assert answer.json()["status"] == "success"
    assert answer.json()["object"]["_id"] == {"$oid": PIPELINE}
    assert answer.json()["object"]["name"] == "Nightly ETL"
    assert [(lookup.by, lookup.value) for lookup in vectorshift.lookups] == [
        ("name", "Nightly ETL")
    ]


async def test_pipeline_lookup_by_id_can_answer_a_plain_string_id(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_pipeline("plainid01", "Plain", oid=False)

    answer = await vs_http.get("/pipeline", params={"id": "plainid01"})

    assert answer.json()["object"]["_id"] == "plainid01"


async def test_an_unknown_pipeline_is_a_404_naming_the_error(vs_http: httpx.AsyncClient):
    answer = await vs_http.get("/pipeline", params={"name": "nope"})

    assert (answer.status_code, answer.json()) == (
        404,
        {"status": "failed", "error": "Pipeline not found"},
    )


async def test_a_bad_key_is_401_and_the_terminate_is_still_recorded(
    vectorshift: FakeVectorShift,
):
    vectorshift.add_run(PIPELINE, RUN)
    async with httpx.AsyncClient(base_url=vectorshift.base_url) as client:
        answer = await client.post(
            f"/pipeline/{PIPELINE}/terminate",
            json={"run_id": RUN},
            headers={"Authorization": "Bearer wrong"},
        )

    assert (answer.status_code, answer.json()) == (401, {"error": "Invalid API key"})
    assert [(c.pipeline_id, c.run_id) for c in vectorshift.terminate_calls] == [(PIPELINE, RUN)]
    assert vectorshift.run_status(PIPELINE, RUN) == "running"


TERMINATE_ANSWERS: list[tuple[RunScript, int, dict[str, str], str]] = [
    (RunScript.SUCCEEDS, 200, {"status": "success"}, "cancelled"),
    (RunScript.FAILS, 500, {"status": "failed", "error": "internal error"}, "running"),
    (
        RunScript.FAILED_200,
        200,
        {"status": "failed", "error": "run could not be stopped"},
        "running",
    ),
    (RunScript.TIMES_OUT, 200, {"status": "success"}, "cancelled"),
    (
        RunScript.ALREADY_FINISHED,
        400,
        {"status": "failed", "error": "run is not active"},
        "completed",
    ),
    (RunScript.KEEPS_RUNNING, 200, {"status": "success"}, "running"),
    (
        RunScript.NOT_FOUND_ON_TERMINATE,
        404,
        {"status": "failed", "error": "Run not found"},
        "running",
    ),
]
"""Per script: terminate's HTTP status and body, then the status a poll reports (hang_s=0.05)."""


@pytest.mark.parametrize("case", TERMINATE_ANSWERS, ids=[c[0].value for c in TERMINATE_ANSWERS])
async def test_each_run_script_answers_terminate_and_then_status(
    vectorshift: FakeVectorShift,
    vs_http: httpx.AsyncClient,
    case: tuple[RunScript, int, dict[str, str], str],
):
    script, http_status, body, status_after = case
    vectorshift.add_run(PIPELINE, RUN, script)

    terminated = await vs_http.post(f"/pipeline/{PIPELINE}/terminate", json={"run_id": RUN})
    status = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")

    assert (terminated.status_code, terminated.json()) == (http_status, body)
    assert (status.status_code, status.json()) == (200, {"task_id": RUN, "status": status_after})


async def test_already_finished_runs_report_completed_before_any_terminate(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN, RunScript.ALREADY_FINISHED)

    status = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")

    assert status.json() == {"task_id": RUN, "status": "completed"}


async def test_fails_then_succeeds_fails_once_then_stops_the_run(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN, RunScript.FAILS_THEN_SUCCEEDS)
    path = f"/pipeline/{PIPELINE}/terminate"

    first = await vs_http.post(path, json={"run_id": RUN})
    second = await vs_http.post(path, json={"run_id": RUN})

    assert [first.status_code, second.status_code] == [500, 200]
    assert vectorshift.run_status(PIPELINE, RUN) == "cancelled"
    assert len(vectorshift.terminate_calls) == 2


async def test_a_hanging_terminate_leaves_the_run_active_when_the_client_gives_up(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.hang_s = 5.0
    vectorshift.add_run(PIPELINE, RUN, RunScript.TIMES_OUT)

    with pytest.raises(httpx.ReadTimeout):
        await vs_http.post(f"/pipeline/{PIPELINE}/terminate", json={"run_id": RUN}, timeout=0.1)
    status = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")

    assert status.json()["status"] == "running"


async def test_status_of_an_unknown_run_is_a_404_naming_the_error(
    vs_http: httpx.AsyncClient,
):
    answer = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/nosuchrun")

    assert (answer.status_code, answer.json()) == (
        404,
        {"status": "failed", "error": "Run not found"},
    )


async def test_injected_answers_apply_the_given_number_of_times(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN)
    vectorshift.inject("terminate", 429, {"status": "failed", "error": "rate limited"})
    vectorshift.inject("status", 405, None)

    limited = await vs_http.post(f"/pipeline/{PIPELINE}/terminate", json={"run_id": RUN})
    stopped = await vs_http.post(f"/pipeline/{PIPELINE}/terminate", json={"run_id": RUN})
    unavailable = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")

    assert limited.status_code == 429
    assert stopped.json() == {"status": "success"}
    assert (unavailable.status_code, unavailable.content) == (405, b"")


async def test_a_terminate_without_run_id_is_a_400(vs_http: httpx.AsyncClient):
    answer = await vs_http.post(f"/pipeline/{PIPELINE}/terminate", content=b"not json")

    assert (answer.status_code, answer.json()) == (
        400,
        {"status": "failed", "error": "run_id is required"},
    )


async def test_latency_delays_every_answer(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.latency_s = 0.1
    started = time.monotonic()

    await vs_http.get("/pipeline", params={"name": "Nightly ETL"})

    assert time.monotonic() - started >= 0.1


async def test_async_wait_for_terminate_returns_the_matching_call(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN)
    waiting = asyncio.ensure_future(vectorshift.async_wait_for_terminate(PIPELINE, RUN))

    await vs_http.post(f"/pipeline/{PIPELINE}/terminate", json={"run_id": RUN})
    call = await waiting

    assert (call.pipeline_id, call.run_id) == (PIPELINE, RUN)


def test_wait_for_terminate_blocks_a_sync_test_until_the_call_arrives():
    with FakeVectorShift() as vectorshift:
        vectorshift.add_pipeline(PIPELINE, "Nightly ETL")
        vectorshift.add_run(PIPELINE, RUN)

        async def terminate() -> None:
            async with httpx.AsyncClient(base_url=vectorshift.base_url) as client:
                await client.post(
                    f"/pipeline/{PIPELINE}/terminate",
                    json={"run_id": RUN},
                    headers={"Authorization": f"Bearer {API_KEY}"},
                )

        caller = threading.Thread(target=asyncio.run, args=(terminate(),))
        caller.start()
        call = vectorshift.wait_for_terminate(PIPELINE, RUN, timeout=5)
        caller.join()

    assert (call.pipeline_id, call.run_id) == (PIPELINE, RUN)
    assert vectorshift.run_status(PIPELINE, RUN) == "cancelled"


# -- FakeVectorShift: pause and resume ---------------------------------------------------------


PAUSE_ANSWERS: list[tuple[RunScript, int, dict[str, str], str]] = [
    (RunScript.SUCCEEDS, 200, {"status": "success"}, "paused"),
    (
        RunScript.PAUSE_FAILED_200,
        200,
        {"status": "failed", "error": "run could not be paused"},
        "running",
    ),
    (RunScript.PAUSE_TIMES_OUT, 200, {"status": "success"}, "paused"),
    (RunScript.FINISHES_ON_PAUSE, 200, {"status": "success"}, "completed"),
    (RunScript.KEEPS_RUNNING, 200, {"status": "success"}, "running"),
    (
        RunScript.ALREADY_FINISHED,
        400,
        {"status": "failed", "error": "run is not active"},
        "completed",
    ),
    (RunScript.FAILS, 200, {"status": "success"}, "paused"),
]
"""Per script: pause's HTTP status and body, then the status a poll reports (hang_s=0.05).

FAILS stands for the terminate-only scripts: they leave pause alone."""


@pytest.mark.parametrize("case", PAUSE_ANSWERS, ids=[c[0].value for c in PAUSE_ANSWERS])
async def test_each_run_script_answers_pause_and_then_status(
    vectorshift: FakeVectorShift,
    vs_http: httpx.AsyncClient,
    case: tuple[RunScript, int, dict[str, str], str],
):
    script, http_status, body, status_after = case
    vectorshift.add_run(PIPELINE, RUN, script)

    paused = await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})
    status = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")

    assert (paused.status_code, paused.json()) == (http_status, body)
    assert (status.status_code, status.json()) == (200, {"task_id": RUN, "status": status_after})


async def test_resume_gives_a_paused_run_back_its_status_and_both_calls_are_recorded(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN, status="in_progress")

    paused = await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})
    while_paused = vectorshift.run_status(PIPELINE, RUN)
    resumed = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})

    assert (paused.json(), resumed.json()) == ({"status": "success"}, {"status": "success"})
    assert (while_paused, vectorshift.run_status(PIPELINE, RUN)) == ("paused", "in_progress")
    assert [(c.action, c.pipeline_id, c.run_id) for c in vectorshift.action_calls()] == [
        ("pause", PIPELINE, RUN),
        ("resume", PIPELINE, RUN),
    ]
    assert [c.run_id for c in vectorshift.pause_calls] == [RUN]
    assert [c.run_id for c in vectorshift.resume_calls] == [RUN]
    assert vectorshift.terminate_calls == []


async def test_a_resumed_run_without_a_known_earlier_status_is_running(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN, status="paused")

    resumed = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})

    assert resumed.status_code == 200
    assert vectorshift.run_status(PIPELINE, RUN) == "running"


async def test_pausing_a_paused_run_and_resuming_a_running_one_are_400s(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN)

    not_paused = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})
    await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})
    again = await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})

    assert (not_paused.status_code, not_paused.json()) == (
        400,
        {"status": "failed", "error": "run is not paused"},
    )
    assert (again.status_code, again.json()) == (
        400,
        {"status": "failed", "error": "run is already paused"},
    )
    assert vectorshift.run_status(PIPELINE, RUN) == "paused"


@pytest.mark.parametrize(
    "body",
    [
        {"run_id": RUN},
        {"run_ids": RUN},
        {"run_ids": []},
        {"run_ids": [RUN, 5]},
        {"run_ids": [""]},
        [RUN],
        "not json",
    ],
    ids=["run_id-not-run_ids", "string", "empty", "non-string", "blank", "list-body", "text"],
)
async def test_a_resume_without_an_array_of_run_ids_is_a_400_and_still_recorded(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient, body: object
):
    vectorshift.add_run(PIPELINE, RUN, status="paused")
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()

    answer = await vs_http.post(f"/pipeline/{PIPELINE}/resume", content=content)

    assert (answer.status_code, answer.json()) == (
        400,
        {"status": "failed", "error": "run_ids must be a non-empty array of run ids"},
    )
    assert [(c.action, c.run_id) for c in vectorshift.resume_calls] == [("resume", "")]
    assert vectorshift.run_status(PIPELINE, RUN) == "paused"


@pytest.mark.parametrize("body", [{"run_ids": [RUN]}, {"run_id": ""}, {}], ids=str)
async def test_a_pause_without_a_run_id_is_a_400(vs_http: httpx.AsyncClient, body: object):
    answer = await vs_http.post(f"/pipeline/{PIPELINE}/pause", json=body)

    assert (answer.status_code, answer.json()) == (
        400,
        {"status": "failed", "error": "run_id is required"},
    )


async def test_a_resume_naming_two_runs_resumes_both_and_records_each(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    other = "77bb00cc11dd22ee33ff4400"
    vectorshift.add_run(PIPELINE, RUN, status="paused")
    vectorshift.add_run(PIPELINE, other, status="paused")

    answer = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN, other]})

    assert answer.json() == {"status": "success"}
    assert [c.run_id for c in vectorshift.resume_calls] == [RUN, other]
    assert vectorshift.run_status(PIPELINE, RUN) == vectorshift.run_status(PIPELINE, other)
    assert vectorshift.run_status(PIPELINE, other) == "running"


async def test_a_run_that_finishes_while_paused_cannot_be_resumed(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN)
    await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})

    vectorshift.finish(PIPELINE, RUN)
    status = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")
    resumed = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})

    assert status.json() == {"task_id": RUN, "status": "completed"}
    assert (resumed.status_code, resumed.json()) == (
        400,
        {"status": "failed", "error": "run is not active"},
    )


def test_finish_accepts_only_a_finished_status(vectorshift: FakeVectorShift):
    vectorshift.add_run(PIPELINE, RUN)

    vectorshift.finish(PIPELINE, RUN, status="failed")
    with pytest.raises(ValueError, match="'paused' is not a finished status"):
        vectorshift.finish(PIPELINE, RUN, status="paused")

    assert vectorshift.run_status(PIPELINE, RUN) == "failed"


async def test_terminate_stops_a_paused_run(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN, status="paused")

    answer = await vs_http.post(f"/pipeline/{PIPELINE}/terminate", json={"run_id": RUN})

    assert answer.json() == {"status": "success"}
    assert vectorshift.run_status(PIPELINE, RUN) == "cancelled"


async def test_a_hanging_pause_leaves_the_run_running_when_the_client_gives_up(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.hang_s = 5.0
    vectorshift.add_run(PIPELINE, RUN, RunScript.PAUSE_TIMES_OUT)

    with pytest.raises(httpx.ReadTimeout):
        await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN}, timeout=0.1)
    status = await vs_http.get(f"/pipeline/{PIPELINE}/run/status/{RUN}")

    assert status.json()["status"] == "running"
    assert len(vectorshift.pause_calls) == 1


async def test_injections_for_pause_and_resume_apply_to_their_endpoint_only(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN)
    vectorshift.inject("pause", 429, {"status": "failed", "error": "rate limited"})
    vectorshift.inject("resume", 503, "Service Unavailable")

    limited = await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})
    paused = await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})
    unavailable = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})
    resumed = await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})

    assert [limited.status_code, paused.status_code] == [429, 200]
    assert (unavailable.status_code, unavailable.text) == (503, "Service Unavailable")
    assert resumed.json() == {"status": "success"}


async def test_a_bad_key_is_401_and_the_pause_is_still_recorded(vectorshift: FakeVectorShift):
    vectorshift.add_run(PIPELINE, RUN)
    async with httpx.AsyncClient(base_url=vectorshift.base_url) as client:
        answer = await client.post(
            f"/pipeline/{PIPELINE}/pause",
            json={"run_id": RUN},
            headers={"Authorization": "Bearer wrong"},
        )

    assert (answer.status_code, answer.json()) == (401, {"error": "Invalid API key"})
    assert [(c.action, c.run_id) for c in vectorshift.pause_calls] == [("pause", RUN)]
    assert vectorshift.run_status(PIPELINE, RUN) == "running"


async def test_async_wait_for_action_matches_the_action_not_just_the_run(
    vectorshift: FakeVectorShift, vs_http: httpx.AsyncClient
):
    vectorshift.add_run(PIPELINE, RUN)
    waiting = asyncio.ensure_future(vectorshift.async_wait_for_action("resume", PIPELINE, RUN))

    await vs_http.post(f"/pipeline/{PIPELINE}/pause", json={"run_id": RUN})
    await vs_http.post(f"/pipeline/{PIPELINE}/resume", json={"run_ids": [RUN]})
    call = await waiting

    # The pause arrived first: a matcher blind to the action would have returned it.
    assert (call.action, call.pipeline_id, call.run_id) == ("resume", PIPELINE, RUN)
    with pytest.raises(TimeoutError):
        await vectorshift.async_wait_for_terminate(PIPELINE, RUN, timeout=0.05)


async def test_the_vectorshift_client_pauses_and_resumes_a_run_on_the_fake(
    vectorshift: FakeVectorShift,
):
    vectorshift.add_run(PIPELINE, RUN)
    async with httpx.AsyncClient() as http:
        client = VectorShiftClient(http, base_url=vectorshift.base_url, api_key=API_KEY)

        paused = await client.pause_run(pipeline_id=PIPELINE, run_id=RUN, deadline_s=5)
        while_paused = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)
        resumed = await client.resume_run(pipeline_id=PIPELINE, run_id=RUN, deadline_s=5)
        after = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert (paused.action, resumed.action) == (Action.PAUSE, Action.RESUME)
    assert (while_paused.state, while_paused.is_paused) == (RunState.ACTIVE, True)
    assert (after.status, after.is_active_unpaused) == ("running", True)


# -- signing ----------------------------------------------------------------------------------


def test_a_signed_body_is_accepted_by_slack_sdk():
    body = slash_command_body(
        "help", user_id="U0ALICE", channel_id="C0INC", response_url="http://127.0.0.1/r"
    )

    headers = sign(body, SECRET)

    assert SignatureVerifier(SECRET).is_valid_request(body, headers) is True


def test_a_tampered_body_is_rejected_by_slack_sdk():
    body = slash_command_body(
        "help", user_id="U0ALICE", channel_id="C0INC", response_url="http://127.0.0.1/r"
    )
    headers = sign(body, SECRET)

    tampered = body.replace("help", "nightly-etl")

    assert SignatureVerifier(SECRET).is_valid_request(tampered, headers) is False
    assert SignatureVerifier("other-secret").is_valid_request(body, headers) is False


def test_a_stale_signature_is_rejected_by_slack_sdk():
    body = "payload=%7B%7D"

    headers = sign(body, SECRET, timestamp=int(time.time()) - 600)

    assert SignatureVerifier(SECRET).is_valid_request(body, headers) is False


def test_a_slash_command_body_is_escaped_and_form_encoded_like_slack():
    body = slash_command_body(
        'nightly-etl <run> & "x"',
        user_id="W0GRID",
        channel_id="C0INC",
        response_url="http://127.0.0.1/response/R1",
        trigger_id="1.2.abc",
        enterprise_id="E0GRID",
    )

    fields = {k: v[0] for k, v in parse_qs(body).items()}

    assert fields["text"] == 'nightly-etl &lt;run&gt; &amp; "x"'
    assert fields["command"] == "/vs-terminate"
    assert (fields["user_id"], fields["user_name"], fields["channel_name"]) == (
        "W0GRID",
        "w0grid",
        "incidents",
    )
    assert (fields["team_id"], fields["enterprise_id"]) == ("T0TEST", "E0GRID")
    assert (fields["trigger_id"], fields["response_url"]) == (
        "1.2.abc",
        "http://127.0.0.1/response/R1",
    )


def test_a_block_actions_body_parses_in_bolt_like_a_real_click():
    body = block_actions_body(
        "vs_terminate",
        f"nightly-etl {RUN}",
        user_id="U0ALICE",
        channel_id="C0INC",
        message_ts="1700000000.000100",
        trigger_id="1.2.abc",
        response_url="http://127.0.0.1/response/R1",
        thread_ts="1699999999.000100",
        enterprise_id="E0GRID",
    )

    payload = parse_body(body, "application/x-www-form-urlencoded")

    assert payload["type"] == "block_actions"
    assert extract_user_id(payload) == "U0ALICE"
    assert extract_channel_id(payload) == "C0INC"
    assert extract_team_id(payload) == "T0TEST"
    assert extract_enterprise_id(payload) == "E0GRID"
    assert payload["container"]["thread_ts"] == "1699999999.000100"
    assert payload["message"]["ts"] == "1700000000.000100"
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "vs_terminate",
        "vs_terminate_actions",
        f"nightly-etl {RUN}",
        "button",
    )


def test_a_view_submission_body_carries_state_and_metadata():
    values = {"reason": {"reason": {"type": "plain_text_input", "value": "loop"}}}

    body = view_submission_body(
        "vs_terminate_confirm", "att-1:nonce-1", values, user_id="U0ALICE", view_id="V0001"
    )
    payload = parse_body(body, "application/x-www-form-urlencoded")

    assert payload["type"] == "view_submission"
    assert extract_team_id(payload) == "T0TEST"
    view = payload["view"]
    assert (view["id"], view["callback_id"], view["private_metadata"]) == (
        "V0001",
        "vs_terminate_confirm",
        "att-1:nonce-1",
    )
    assert view["state"]["values"] == values


# -- SlackClient against a real Bolt app ------------------------------------------------------


def _bolt_app(slack: FakeSlack, seen: list[tuple[str, Any]]) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.command("/vs-terminate")
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.append(("command", body["text"]))
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.action("vs_terminate")
    async def click(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(("click", (body["user"]["id"], body["channel"]["id"], body["actions"][0])))

    @app.view("vs_terminate_confirm")
    async def submit(ack: AsyncAck, view: dict[str, Any]) -> None:
        seen.append(("submit", view["state"]["values"]["reason"]["reason"]["value"]))
        done = {
            **MODAL,
            "title": {"type": "plain_text", "text": "Terminating…"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "Stopping…"}}],
        }
        del done["submit"]
        await ack(response_action="update", view=done)

    @app.view_closed("vs_terminate_confirm")
    async def closed(ack: AsyncAck, view: dict[str, Any]) -> None:
        await ack()
        seen.append(("closed", view["private_metadata"]))

    return app


async def test_slack_client_drives_a_bolt_app_through_command_submit_and_close(
    slack: FakeSlack,
):
    seen: list[tuple[str, Any]] = []
    transport = httpx.ASGITransport(app=AsyncSlackRequestHandler(_bolt_app(slack, seen)))
    async with SlackClient("http://bot", SECRET, slack, transport=transport) as user:
        ack = await user.command("nightly-etl <x>", user="U0ALICE", channel="C0INC")
        submitted = await user.submit(user="U0ALICE", reason="runaway loop")
        closed = await user.close_view(user="U0ALICE")

    assert [ack.status_code, submitted.status_code, closed.status_code] == [200, 200, 200]
    assert seen == [
        ("command", "nightly-etl &lt;x&gt;"),
        ("submit", "runaway loop"),
        ("closed", "att-1:nonce-1"),
    ]
    assert slack.user("U0ALICE") == SlackUser(id="U0ALICE", name="u0alice", real_name="U0Alice")
    assert slack.current_view("U0ALICE") is None
    assert [c.method for c in slack.calls()] == ["auth.test", "views.open"]


async def test_a_submission_acked_with_update_replaces_the_view_in_the_fake(slack: FakeSlack):
    seen: list[tuple[str, Any]] = []
    transport = httpx.ASGITransport(app=AsyncSlackRequestHandler(_bolt_app(slack, seen)))
    async with SlackClient("http://bot", SECRET, slack, transport=transport) as user:
        await user.command("x", user="U0ALICE", channel="C0INC")
        view_id = slack.current_view("U0ALICE")["id"]
        await user.submit(user="U0ALICE", reason="because")

    assert slack.view(view_id)["title"]["text"] == "Terminating…"
    assert slack.is_view_open(view_id) is True


async def test_slack_client_clicks_seed_the_message_and_bolt_routes_the_action(
    slack: FakeSlack,
):
    seen: list[tuple[str, Any]] = []
    transport = httpx.ASGITransport(app=AsyncSlackRequestHandler(_bolt_app(slack, seen)))
    async with SlackClient("http://bot", SECRET, slack, transport=transport) as user:
        answer = await user.click(f"nightly-etl {RUN}", user="U0BOB", channel="C0INC")

    assert answer.status_code == 200
    [(kind, (user_id, channel_id, action))] = seen
    assert (kind, user_id, channel_id, action["value"]) == (
        "click",
        "U0BOB",
        "C0INC",
        f"nightly-etl {RUN}",
    )
    [message] = slack.messages("C0INC")
    assert message.text == f"Alert: nightly-etl {RUN}"
    assert user.last_response_url is not None


async def test_a_badly_signed_request_is_refused_by_bolt(slack: FakeSlack):
    seen: list[tuple[str, Any]] = []
    transport = httpx.ASGITransport(app=AsyncSlackRequestHandler(_bolt_app(slack, seen)))
    async with SlackClient("http://bot", "wrong-secret", slack, transport=transport) as user:
        answer = await user.command("help", user="U0ALICE", channel="C0INC")

    assert answer.status_code == 401
    assert seen == []
    assert slack.calls() == []
