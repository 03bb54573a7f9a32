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
    "SlackMessage",
    "SlackUser",
    "SocketClose",
    "SocketConnection",
    "SocketEnd",
    "SocketFrame",
    "StatusCall",
    "TerminateCall",
    "envelope",
    "serve_in_loop",
]
