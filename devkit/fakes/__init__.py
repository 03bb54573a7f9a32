"""The one set of local fakes of Slack and VectorShift, shared by tests, benchmark and sandbox.

Everything here listens on 127.0.0.1 only and stands in for a remote service: `FakeSlack` for
the Slack Web API and response_urls, `FakeVectorShift` for the VectorShift API, `SlackClient`
and the body builders in `signing` for Slack's signed requests to the bot, and `runner` for
serving them from a background thread (sync callers) or the running loop (async callers).
There is no second copy: the end-to-end tests, the benchmark and `vs-terminate-bot sandbox`
all import from here.
"""

from devkit.fakes.runner import FakeServer, serve_in_loop
from devkit.fakes.slack_api import FakeSlack, SlackCall, SlackMessage, SlackUser
from devkit.fakes.vectorshift_api import (
    FakeVectorShift,
    Lookup,
    RunScript,
    StatusCall,
    TerminateCall,
)
from devkit.payloads import (
    SlackClient,
    block_actions_body,
    sign,
    slash_command_body,
    view_closed_body,
    view_submission_body,
)

__all__ = [
    "FakeServer",
    "FakeSlack",
    "FakeVectorShift",
    "Lookup",
    "RunScript",
    "SlackCall",
    "SlackClient",
    "SlackMessage",
    "SlackUser",
    "StatusCall",
    "TerminateCall",
    "block_actions_body",
    "serve_in_loop",
    "sign",
    "slash_command_body",
    "view_closed_body",
    "view_submission_body",
]
