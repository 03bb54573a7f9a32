"""Every Slack identifier the app and its manifest agree on (SPEC §4.2–4.4).

Tests compare these with `manifest.yml`; payloads from Slack are matched against them.
"""

from typing import Final

COMMAND: Final = "/vs-terminate"

CONFIRM_CALLBACK: Final = "vs_terminate_confirm"
"""The confirmation modal's `callback_id`."""
RESULT_CALLBACK: Final = "vs_terminate_result"
"""The modal as it looks once there is nothing left to submit."""

REASON_BLOCK: Final = "reason"
REASON_ACTION: Final = "reason"

TERMINATE_ACTION: Final = "vs_terminate"
"""The Terminate button on alerts and other messages; value `"<pipeline> <run>"`."""
PAUSE_ACTION: Final = "vs_pause"
"""The Pause button beside Terminate (SPEC §4.5); same value grammar."""
RESUME_ACTION: Final = "vs_resume"
"""The Resume button on a verified pause's result; same value grammar."""
ACTION_BUTTONS: Final = {
    TERMINATE_ACTION: "terminate",
    PAUSE_ACTION: "pause",
    RESUME_ACTION: "resume",
}
"""Each action button's id and the action it asks for (the value never decides the action)."""

ACTION_CHOICE_BLOCK: Final = "action"
ACTION_CHOICE: Final = "action"
"""The confirmation modal's terminate/pause radio buttons (values `terminate`, `pause`)."""
APPROVE_ACTION: Final = "vs_approve"
"""Approve on an approval request (SPEC §4.6); value = the attempt id."""
REJECT_ACTION: Final = "vs_reject"
"""Reject on an approval request; opens a small modal for an optional reason."""
REJECT_CALLBACK: Final = "vs_terminate_reject"
"""The rejection modal's `callback_id`; `private_metadata` = the attempt id."""
REJECT_REASON_BLOCK: Final = "reject_reason"
REJECT_REASON_ACTION: Final = "reject_reason"
RETRY_ACTION: Final = "vs_terminate_retry"
"""The Retry button on a failure message; value = the failed attempt's id."""

SCOPES: Final = ("commands", "chat:write", "chat:write.public", "usergroups:read", "users:read")
"""Exactly the bot scopes the manifest requests (least privilege, SPEC §4)."""

EVENTS_PATH: Final = "/slack/events"
