"""The alert body formats, one parser each, keyed by route (SPEC §4.4, §4.7).

Pure: a parser takes a decoded JSON body (and the default channel) and returns a `Batch`, one
`Notice` per alert in it: the `Alert` to show, or why that alert is skipped. Only a body that
is not the format at all raises `InvalidFieldError` (answered 400); one bad alert in a group
never spoils the rest, because Alertmanager re-sends a whole group every `group_interval` for as
long as it is refused (devkit/ALERTMANAGER_NOTES.md §4).

- `native`: our own `{"channel", "pipeline", "run", "text", "thread_ts"?}`, strict: every field
  is checked and the first bad one named, as §4.4 has always answered.
- `alertmanager`: Prometheus Alertmanager's webhook (`"version": "4"`): `alerts[]` with `status`,
  `labels`, `annotations`, `endsAt`, `generatorURL`, `fingerprint`.
- `grafana`: Grafana's webhook contact point: the same `alerts[]` plus a body `title` and per
  alert `panelURL`.

Labels choose what an alert is about: pipeline `vs_pipeline` (else `pipeline`), run `vs_run`
(else `run`, `run_id`), channel `slack_channel` (else `VS_ALERTS_DEFAULT_CHANNEL`). Text from
the tools is cleaned, not refused: control characters dropped, lengths cut by the renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bot.domain import (
    CONTROL_CHARS,
    ID_PATTERN,
    MAX_ALERT_TEXT_CHARS,
    MAX_NAME_CHARS,
    OPEN_QUOTES,
    SLACK_CHANNEL_PATTERN,
    SLACK_TS_PATTERN,
    Alert,
    pipeline_ref,
)
from bot.errors import InvalidFieldError

__all__ = ["FORMATS", "Batch", "Format", "Notice"]

NATIVE_MAX_BYTES: Final = 16_384
"""One native alert: its text is at most 2,000 characters."""
WEBHOOK_MAX_BYTES: Final = 1024 * 1024
"""A webhook body: about 2,000 Alertmanager alerts (SPEC §4.7: 413 past 1 MiB)."""

PIPELINE_LABELS: Final = ("vs_pipeline", "pipeline")
RUN_LABELS: Final = ("vs_run", "run", "run_id")
CHANNEL_LABEL: Final = "slack_channel"
FINGERPRINT_MAX: Final = 64
LINK_MAX: Final = 2000
TOOL_TEXT_MAX: Final = 3000
"""Tool text is cut here, before the renderer cuts it again to each block's limit."""


@dataclass(frozen=True)
class Notice:
    """One alert of a body: what to show, or why it is skipped.

    Attributes:
        fingerprint: the tool's id for the alert (Alertmanager's label hash), echoed in the answer.
        alert: the alert to show, or None when skipped.
        error: why it is skipped (names the label or key), when `alert` is None.
    """

    fingerprint: str | None
    alert: Alert | None
    error: str | None = None


@dataclass(frozen=True)
class Batch:
    """A body's alerts, in the order the tool sent them.

    Attributes:
        notices: one per alert.
        truncated: alerts the tool left out (Alertmanager's `truncatedAlerts`).
    """

    notices: tuple[Notice, ...]
    truncated: int = 0


Parser = Callable[[object, str | None], Batch]


@dataclass(frozen=True)
class Format:
    """One route's body format.

    Attributes:
        name: the route's last word and the metrics label (`native`, `alertmanager`, `grafana`).
        path: the route.
        parse: body and default channel → batch.
        max_bytes: the largest body read.
        per_alert: answers `results` per alert (webhooks) rather than one alert's `ts` (native).
    """

    name: str
    path: str
    parse: Parser
    max_bytes: int
    per_alert: bool


# ---------------------------------------------------------------------------------------------
# native (§4.4)


def parse_native(body: object, default_channel: str | None = None) -> Batch:  # noqa: ARG001
    """Validate `{"channel", "pipeline", "run", "text", "thread_ts"?}` strictly.

    Raises:
        InvalidFieldError: naming the first bad field.
    """
    if not isinstance(body, dict):
        raise InvalidFieldError("body", "must be a JSON object")
    allowed = {"channel", "pipeline", "run", "text", "thread_ts"}
    for key in body:
        if key not in allowed:
            raise InvalidFieldError(str(key)[:40], "is not a known field")

    def text_field(name: str, *, required: bool = True) -> str | None:
        value = body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidFieldError(name, "is required and must be a non-empty string")
        if CONTROL_CHARS.search(value.replace("\n", " ").replace("\t", " ")):
            raise InvalidFieldError(name, "contains control or invisible characters")
        return value.strip()

    channel = text_field("channel") or ""
    if not SLACK_CHANNEL_PATTERN.fullmatch(channel):
        raise InvalidFieldError("channel", "must be a Slack channel id such as C0123ABCD")
    pipeline_text = text_field("pipeline") or ""
    if problem := _pipeline_problem(pipeline_text):
        raise InvalidFieldError("pipeline", problem)
    run = text_field("run") or ""
    if not ID_PATTERN.fullmatch(run):
        raise InvalidFieldError("run", "must be 1–128 letters, digits, '-' or '_'")
    text = text_field("text") or ""
    if len(text) > MAX_ALERT_TEXT_CHARS:
        raise InvalidFieldError("text", f"is longer than {MAX_ALERT_TEXT_CHARS} characters")
    thread_ts = text_field("thread_ts", required=False)
    if thread_ts is not None and not SLACK_TS_PATTERN.fullmatch(thread_ts):
        raise InvalidFieldError(
            "thread_ts", "must be a Slack message timestamp like 1700000000.000100"
        )
    alert = Alert(
        channel=channel,
        pipeline=pipeline_ref(pipeline_text),
        run_id=run,
        text=text,
        thread_ts=thread_ts,
    )
    return Batch((Notice(fingerprint=None, alert=alert),))


def _pipeline_problem(text: str) -> str | None:
    if len(text) > MAX_NAME_CHARS or any(q in text for q in OPEN_QUOTES):
        return f"must be an id, alias or name (≤ {MAX_NAME_CHARS} characters, no quotes)"
    return None


# ---------------------------------------------------------------------------------------------
# Alertmanager and Grafana (§4.7)


def parse_alertmanager(body: object, default_channel: str | None) -> Batch:
    """Prometheus Alertmanager's webhook body, one notice per alert.

    Raises:
        InvalidFieldError: the body is not an object with an `alerts` list.
    """
    return _parse_webhook(body, default_channel, grafana=False)


def parse_grafana(body: object, default_channel: str | None) -> Batch:
    """Grafana's webhook contact point body, one notice per alert.

    Raises:
        InvalidFieldError: the body is not an object with an `alerts` list.
    """
    return _parse_webhook(body, default_channel, grafana=True)


def _parse_webhook(body: object, default_channel: str | None, *, grafana: bool) -> Batch:
    if not isinstance(body, dict):
        raise InvalidFieldError("body", "must be a JSON object")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidFieldError("alerts", "must be a list (is this the right route?)")
    truncated = body.get("truncatedAlerts")
    title = _clean(body.get("title"), MAX_NAME_CHARS) if grafana else None
    return Batch(
        notices=tuple(_notice(item, default_channel, title, grafana=grafana) for item in alerts),
        truncated=truncated if isinstance(truncated, int) and truncated > 0 else 0,
    )


def _notice(
    item: object, default_channel: str | None, title: str | None, *, grafana: bool
) -> Notice:
    if not isinstance(item, dict):
        return Notice(None, None, "alert: must be a JSON object")
    raw_fingerprint = item.get("fingerprint")
    fingerprint = raw_fingerprint[:FINGERPRINT_MAX] if isinstance(raw_fingerprint, str) else None
    try:
        return Notice(fingerprint, _alert(item, default_channel, title, grafana=grafana))
    except InvalidFieldError as exc:
        return Notice(fingerprint, None, str(exc))


def _alert(
    item: Mapping[str, object], default_channel: str | None, title: str | None, *, grafana: bool
) -> Alert:
    labels = _strings(item, "labels")
    annotations = _strings(item, "annotations")
    status = item.get("status")
    if status not in {"firing", "resolved"}:
        raise InvalidFieldError("status", "must be firing or resolved")
    pipeline_label, pipeline = _first(labels, PIPELINE_LABELS)
    if pipeline is None:
        raise InvalidFieldError("labels", "no vs_pipeline (or pipeline) label")
    if problem := _pipeline_problem(pipeline):
        raise InvalidFieldError(f"labels.{pipeline_label}", problem)
    run_label, run = _first(labels, RUN_LABELS)
    if run is None:
        raise InvalidFieldError("labels", "no vs_run (or run, run_id) label")
    if not ID_PATTERN.fullmatch(run):
        raise InvalidFieldError(f"labels.{run_label}", "must be 1–128 letters, digits, '-' or '_'")
    channel = labels.get(CHANNEL_LABEL) or default_channel
    if channel is None:
        raise InvalidFieldError("labels", "no slack_channel label and no default channel is set")
    if not SLACK_CHANNEL_PATTERN.fullmatch(channel):
        raise InvalidFieldError(
            f"labels.{CHANNEL_LABEL}", "must be a Slack channel id such as C0123ABCD, not a name"
        )
    summary = _clean(annotations.get("summary"), TOOL_TEXT_MAX)
    description = _clean(annotations.get("description"), TOOL_TEXT_MAX)
    link = _link(item.get("generatorURL"))
    if grafana and link is None:
        link = _link(item.get("panelURL"))
    resolved = status == "resolved"
    return Alert(
        channel=channel,
        pipeline=pipeline_ref(pipeline),
        run_id=run,
        text=summary or description or "",
        title=_clean(labels.get("alertname"), MAX_NAME_CHARS) or title,
        severity=_clean(labels.get("severity"), MAX_NAME_CHARS),
        details=description if summary else None,
        link=link,
        resolved=resolved,
        ended_at=_time(item.get("endsAt")) if resolved else None,
    )


def _strings(item: Mapping[str, object], key: str) -> dict[str, str]:
    """A label or annotation map; values that are not strings are left out."""
    value = item.get(key, {})
    if not isinstance(value, dict):
        raise InvalidFieldError(key, "must be an object of strings")
    return {str(k): v.strip() for k, v in value.items() if isinstance(v, str) and v.strip()}


def _first(labels: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str | None]:
    for name in names:
        if name in labels:
            return name, labels[name]
    return names[0], None


def _clean(value: object, limit: int) -> str | None:
    """Tool text as shown: stripped of control and invisible characters, cut to `limit`."""
    if not isinstance(value, str):
        return None
    text = CONTROL_CHARS.sub("", value.replace("\t", " ")).strip()
    return text[:limit] or None


def _link(value: object) -> str | None:
    """An http(s) URL worth linking to, else None (Alertmanager sends "" when it has none)."""
    if not isinstance(value, str) or len(value) > LINK_MAX:
        return None
    if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
        return None
    if CONTROL_CHARS.search(value):
        return None
    return value


def _time(value: object) -> datetime | None:
    """RFC 3339 with up to nanoseconds, any offset; None for Go's zero time or junk."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.year < 2000:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


FORMATS: Final = {
    f.name: f
    for f in (
        Format("native", "/api/alerts", parse_native, NATIVE_MAX_BYTES, per_alert=False),
        Format(
            "alertmanager",
            "/api/alerts/alertmanager",
            parse_alertmanager,
            WEBHOOK_MAX_BYTES,
            per_alert=True,
        ),
        Format("grafana", "/api/alerts/grafana", parse_grafana, WEBHOOK_MAX_BYTES, per_alert=True),
    )
}
"""Every accepted body format by name; `web` serves each at its `path`."""
