"""The benchmark's baseline: a bare Bolt `AsyncApp` served the way the bot is served (SPEC §8).

What it shares with the bot, so that the ratios `bench/run.py` prints measure the bot's own
work and nothing else: uvicorn with the bot's settings (same host, no access log, no server
header, lifespan on, default loop and HTTP implementation), Bolt's ASGI adapter,
`process_before_response=True`, the same signature check (request verification on, same
signing secret), and an `authorize` that returns an `AuthorizeResult` built once from
`auth.test` against the same FakeSlack, so no request waits on Slack. Its Web API client gets one
shared aiohttp session, as the bot's does; without it slack_sdk opens a session per call and the
baseline would look slower than a competent minimal app.

What it does on `/vs-terminate` (anything typed after it):

- `--mode ack`: acknowledges with an empty 200 and nothing else (the ack-path baseline);
- `--mode modal`: acknowledges, then opens a static modal with `views.open` in a background task
  (the modal-capacity baseline); the task is referenced until it ends.

Run it as `python bench/baseline.py --port N --slack-api-url URL --mode ack|modal`; the token and
signing secret come from `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET` in the environment, never
from the command line (where `ps` would show them). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

import aiohttp
import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

HOST = "127.0.0.1"
COMMAND = "/vs-terminate"
SLACK_TIMEOUT_S = 10

STATIC_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "baseline_modal",
    "title": {"type": "plain_text", "text": "Terminate run"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": ":hourglass_flowing_sand: Checking…"},
        }
    ],
}

logger = logging.getLogger("bench.baseline")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slack-api-url", required=True, help="Web API base, e.g. FakeSlack's")
    parser.add_argument("--mode", choices=("ack", "modal"), required=True)
    return parser


async def build_app(
    slack_api_url: str, token: str, signing_secret: str, mode: str, session: aiohttp.ClientSession
) -> AsyncApp:
    """Builds the baseline Bolt app.

    Args:
        slack_api_url: the Web API base URL (FakeSlack's `api_url`).
        token: the bot token.
        signing_secret: the request signing secret.
        mode: `ack` (only acknowledge) or `modal` (acknowledge, then open a static modal).
        session: the aiohttp session every Web API call shares.

    Returns:
        The app, with its one `/vs-terminate` listener registered.
    """
    client = AsyncWebClient(
        token=token, base_url=slack_api_url, session=session, timeout=SLACK_TIMEOUT_S
    )
    auth = await client.auth_test()
    authorization = AuthorizeResult.from_auth_test_response(
        auth_test_response=auth, bot_token=token, user_token=None
    )

    async def authorize() -> AuthorizeResult:
        return authorization

    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        authorize=authorize,
        process_before_response=True,
    )
    background: set[asyncio.Task[None]] = set()

    async def open_modal(trigger_id: str) -> None:
        try:
            await client.views_open(trigger_id=trigger_id, view=STATIC_MODAL)
        except SlackApiError as exc:
            logger.warning("views.open failed: %s", exc.response.get("error"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("views.open failed: %s", type(exc).__name__)

    @app.command(COMMAND)
    async def handle_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        if mode == "modal":
            task = asyncio.create_task(open_modal(str(body.get("trigger_id", ""))))
            background.add(task)
            task.add_done_callback(background.discard)

    return app


async def serve(port: int, slack_api_url: str, mode: str) -> None:
    """Serves the baseline until SIGINT/SIGTERM.

    Args:
        port: the TCP port on 127.0.0.1.
        slack_api_url: the Web API base URL.
        mode: `ack` or `modal`.
    """
    token = os.environ["SLACK_BOT_TOKEN"]
    secret = os.environ["SLACK_SIGNING_SECRET"]
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_S)
    ) as session:
        app = await build_app(slack_api_url, token, secret, mode, session)
        config = uvicorn.Config(
            AsyncSlackRequestHandler(app),
            host=HOST,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
        )
        await uvicorn.Server(config).serve()


def main() -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(args.port, args.slack_api_url, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
