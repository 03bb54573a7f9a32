"""The one set of local fakes of Slack and VectorShift, shared by tests, benchmark and sandbox.

Everything here listens on 127.0.0.1 only and stands in for a remote service: `FakeSlack` for
the Slack Web API, response_urls and Socket Mode (its link side lives in `socket_mode`),
`FakeVectorShift` for the VectorShift API, `SlackClient` and the builders in `devkit.payloads`
for what Slack sends the bot (signed HTTP bodies, or envelope payloads), and `runner` for
serving them from a background thread (sync callers) or the running loop (async callers).
There is no second copy: the end-to-end tests, the benchmark and `vs-terminate-bot sandbox`
all import from here.
"""

from devkit.fakes.runner import FakeServer, serve_in_loop
from devkit.fakes.slack_api import FakeSlack, SlackCall, SlackMessage, SlackUser
from devkit.fakes.socket_mode import (
    EVENTS_API,
    INTERACTIVE,
    SLASH_COMMANDS,
    SocketClose,
    SocketConnection,
    SocketEnd,
    SocketFrame,
    envelope,
)
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
    block_actions_payload,
    sign,
    slash_command_body,
    slash_command_payload,
    view_closed_body,
    view_closed_payload,
    view_submission_body,
    view_submission_payload,
)

__all__ = [
    "EVENTS_API",
    "INTERACTIVE",
    "SLASH_COMMANDS",
    "FakeServer",
    "FakeSlack",
    "FakeVectorShift",
    "Lookup",
    "RunScript",
    "SlackCall",
    "SlackClient",
    "SlackMessage",
    "SlackUser",
    "SocketClose",
    "SocketConnection",
    "SocketEnd",
    "SocketFrame",
    "StatusCall",
    "TerminateCall",
    "block_actions_body",
    "block_actions_payload",
    "envelope",
    "serve_in_loop",
    "sign",
    "slash_command_body",
    "slash_command_payload",
    "view_closed_body",
    "view_closed_payload",
    "view_submission_body",
    "view_submission_payload",
]
