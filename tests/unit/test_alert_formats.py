"""The alert body formats (§4.4, §4.7): real Alertmanager bodies, Grafana's documented ones, ours."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.formats import FORMATS, Batch, parse_alertmanager, parse_grafana, parse_native
from bot.domain import Alert, AlertKey, PipelineRef, parse_button_value
from bot.errors import InvalidFieldError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUN = "65f2a0c0ffee0123456789ab"
DEFAULT = "C0DEFAULT1"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def only(batch: Batch) -> Alert:
    assert len(batch.notices) == 1
    alert = batch.notices[0].alert
    assert alert is not None, batch.notices[0].error
    return alert


# -- native (§4.4) ------------------------------------------------------------------------------


def test_native_body_is_validated_into_an_alert() -> None:
    alert = only(
        parse_native(
            {
                "channel": "C0INCIDENT",
                "pipeline": "Nightly ETL",
                "run": RUN,
                "text": "<!channel> boom",
            }
        )
    )
    assert alert == Alert(
        channel="C0INCIDENT",
        pipeline=PipelineRef("Nightly ETL", quoted=True),
        run_id=RUN,
        text="<!channel> boom",
    )
    assert alert.key == AlertKey(channel="C0INCIDENT", pipeline="Nightly ETL", run_id=RUN)
    assert alert.button_value == f'"Nightly ETL" {RUN}'
    assert parse_button_value(alert.button_value).pipeline.text == "Nightly ETL"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"pipeline": "p", "run": RUN, "text": "t"}, "channel"),
        ({"channel": "general", "pipeline": "p", "run": RUN, "text": "t"}, "channel"),
        ({"channel": "C0X1", "run": RUN, "text": "t"}, "pipeline"),
        ({"channel": "C0X1", "pipeline": 'a"b', "run": RUN, "text": "t"}, "pipeline"),
        ({"channel": "C0X1", "pipeline": "p", "run": "../x", "text": "t"}, "run"),
        ({"channel": "C0X1", "pipeline": "p", "run": RUN, "text": ""}, "text"),
        ({"channel": "C0X1", "pipeline": "p", "run": RUN, "text": "x" * 2001}, "text"),
        (
            {"channel": "C0X1", "pipeline": "p", "run": RUN, "text": "t", "thread_ts": "yesterday"},
            "thread_ts",
        ),
        ({"channel": "C0X1", "pipeline": "p", "run": RUN, "text": "t", "extra": 1}, "extra"),
        ({"channel": 5, "pipeline": "p", "run": RUN, "text": "t"}, "channel"),
    ],
)
def test_bad_native_bodies_name_the_bad_field(body: object, field: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        parse_native(body)
    assert caught.value.field == field


# -- Alertmanager (§4.7), bodies the real Alertmanager 0.25 sent --------------------------------


def test_a_firing_alert_reads_labels_annotations_and_the_source_link() -> None:
    batch = parse_alertmanager(fixture("alertmanager/firing.json"), DEFAULT)
    assert batch.notices[0].fingerprint == "7e9cfb547720b511"
    assert only(batch) == Alert(
        channel=DEFAULT,
        pipeline=PipelineRef("nightly-etl"),
        run_id="run-7f3a9c",
        text="Nightly ETL has been running for over 3 h",
        title="VectorShiftRunTooLong",
        severity="critical",
        details="Run run-7f3a9c of nightly-etl started more than 3 hours ago.",
        link="http://prometheus.example:9090/graph?g0.expr=vs_run_seconds+%3E+10800&g0.tab=1",
    )
    assert batch.truncated == 0


def test_a_repeat_is_the_same_alert_and_a_resolution_says_when() -> None:
    firing = only(parse_alertmanager(fixture("alertmanager/firing.json"), DEFAULT))
    assert only(parse_alertmanager(fixture("alertmanager/repeat.json"), DEFAULT)) == firing
    resolved = only(parse_alertmanager(fixture("alertmanager/resolved.json"), DEFAULT))
    assert resolved.key == firing.key
    assert resolved.resolved
    assert resolved.ended_at is not None
    assert resolved.ended_at.tzinfo is UTC
    ends_at = fixture("alertmanager/resolved.json")["alerts"][0]["endsAt"]
    assert resolved.ended_at == datetime.fromisoformat(ends_at)


def test_each_alert_of_a_group_has_its_own_status() -> None:
    batch = parse_alertmanager(fixture("alertmanager/group_partly_resolved.json"), DEFAULT)
    shown = [(n.alert.run_id, n.alert.resolved) for n in batch.notices if n.alert]
    assert shown == [("run-0001", True), ("run-0002", False), ("run-0003", False)]


def test_label_fallbacks_and_a_skipped_alert_in_one_group() -> None:
    batch = parse_alertmanager(fixture("alertmanager/label_variants.json"), DEFAULT)
    by_fingerprint = {n.fingerprint: n for n in batch.notices}
    assert by_fingerprint["5fe9c119e66831c5"].alert is None
    assert by_fingerprint["5fe9c119e66831c5"].error == "labels: no vs_run (or run, run_id) label"
    runs = {
        n.alert.run_id: (n.alert.pipeline.text, n.alert.channel) for n in batch.notices if n.alert
    }
    assert runs == {
        "run-0001": ("nightly-etl", DEFAULT),
        "run-0002": ("nightly-etl", DEFAULT),
        "run-0003": ("nightly-etl", "C0INCIDENTS"),
    }


def test_a_truncated_group_says_how_many_were_left_out() -> None:
    assert parse_alertmanager(fixture("alertmanager/truncated.json"), DEFAULT).truncated == 1


def _one_alert(**changes: Any) -> dict[str, Any]:
    body = fixture("alertmanager/firing.json")
    alert = body["alerts"][0]
    for key, value in changes.items():
        if key in {"labels", "annotations"} and isinstance(value, dict):
            alert[key] = {**alert[key], **value}
        else:
            alert[key] = value
    return body


@pytest.mark.parametrize(
    ("changes", "default", "error"),
    [
        ({"labels": {"vs_pipeline": ""}}, DEFAULT, "labels: no vs_pipeline (or pipeline) label"),
        (
            {"labels": {"vs_pipeline": 'a "quoted" name'}},
            DEFAULT,
            "labels.vs_pipeline: must be an id, alias or name (≤ 200 characters, no quotes)",
        ),
        (
            {"labels": {"vs_run": "../../etc"}},
            DEFAULT,
            "labels.vs_run: must be 1–128 letters, digits, '-' or '_'",
        ),
        ({}, None, "labels: no slack_channel label and no default channel is set"),
        (
            {"labels": {"slack_channel": "#incidents"}},
            DEFAULT,
            "labels.slack_channel: must be a Slack channel id such as C0123ABCD, not a name",
        ),
        ({"status": "pending"}, DEFAULT, "status: must be firing or resolved"),
        ({"labels": None}, DEFAULT, "labels: must be an object of strings"),
    ],
)
def test_an_alert_that_cannot_be_shown_is_skipped_with_the_reason(
    changes: dict[str, Any], default: str | None, error: str
) -> None:
    notice = parse_alertmanager(_one_alert(**changes), default).notices[0]
    assert (notice.alert, notice.error) == (None, error)
    assert notice.fingerprint == "7e9cfb547720b511"


def test_tool_text_is_cleaned_not_refused() -> None:
    alert = only(
        parse_alertmanager(
            _one_alert(
                annotations={"summary": "\u202eboom\x00 <!channel>", "description": ""},
                generatorURL="javascript:alert(1)",
                labels={"severity": 7},
            ),
            DEFAULT,
        )
    )
    assert (alert.text, alert.details, alert.link, alert.severity) == (
        "boom <!channel>",
        None,
        None,
        None,
    )


def test_an_alert_with_neither_summary_nor_description_still_shows() -> None:
    body = _one_alert()
    body["alerts"][0]["annotations"] = {}
    alert = only(parse_alertmanager(body, DEFAULT))
    assert (alert.title, alert.text, alert.details) == ("VectorShiftRunTooLong", "", None)


def test_junk_inside_a_group_skips_only_that_alert() -> None:
    body = fixture("alertmanager/group_firing.json")
    body["alerts"].insert(1, "not an alert")
    batch = parse_alertmanager(body, DEFAULT)
    assert [n.error for n in batch.notices] == [None, "alert: must be a JSON object", None, None]


@pytest.mark.parametrize(
    ("body", "field"),
    [([], "body"), ({"alerts": "x"}, "alerts"), ({"version": "4"}, "alerts"), ("{}", "body")],
)
def test_a_body_that_is_not_the_format_at_all_is_refused(body: object, field: str) -> None:
    for parse in (parse_alertmanager, parse_grafana):
        with pytest.raises(InvalidFieldError) as caught:
            parse(body, DEFAULT)
        assert caught.value.field == field


# -- Grafana (§4.7), the documentation's bodies -------------------------------------------------


def with_run_labels(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for i, alert in enumerate(body["alerts"]):
        alert["labels"] |= {"vs_pipeline": "nightly-etl", "vs_run": f"run-{i}"}
    return body


def test_grafanas_documented_alerts_lack_run_labels_and_are_skipped() -> None:
    batch = parse_grafana(fixture("grafana/firing.json"), DEFAULT)
    assert [(n.fingerprint, n.error) for n in batch.notices] == [
        ("c6eadffa33fcdf37", "labels: no vs_pipeline (or pipeline) label"),
        ("bc97ff14869b13e3", "labels: no vs_pipeline (or pipeline) label"),
    ]


@pytest.mark.parametrize("name", ["firing.json", "firing_valuestring.json"])
def test_grafana_alerts_with_run_labels(name: str) -> None:
    batch = parse_grafana(with_run_labels(fixture(f"grafana/{name}")), DEFAULT)
    first = batch.notices[0].alert
    assert first is not None
    assert (first.title, first.text, first.details, first.link) == (
        "High memory usage",
        "This alert was triggered for zone us-1",
        "The system has high memory usage",
        "https://play.grafana.org/alerting/1afz29v7z/edit",
    )
    assert not first.resolved


def test_grafana_falls_back_to_the_panel_link_and_the_title() -> None:
    body = with_run_labels(fixture("grafana/firing.json"))
    alert = body["alerts"][0]
    alert["generatorURL"] = ""
    alert["panelURL"] = "https://grafana.example/d/abc?viewPanel=2"
    del alert["labels"]["alertname"]
    shown = parse_grafana(body, DEFAULT).notices[0].alert
    assert shown is not None
    assert (shown.link, shown.title) == (
        "https://grafana.example/d/abc?viewPanel=2",
        "[FIRING:2]  (blue)",
    )
    # Alertmanager has no panelURL: the same body through its route links nowhere.
    assert only_first(parse_alertmanager(body, DEFAULT)).link is None


def only_first(batch: Batch) -> Alert:
    alert = batch.notices[0].alert
    assert alert is not None
    return alert


def test_grafana_resolved() -> None:
    batch = parse_grafana(with_run_labels(fixture("grafana/resolved.json")), DEFAULT)
    alert = only(batch)
    assert alert.resolved
    assert alert.ended_at == datetime(2021, 10, 12, 8, 6, 3, 157076, tzinfo=UTC)


def test_every_format_has_its_route() -> None:
    assert {f.name: (f.path, f.per_alert, f.max_bytes) for f in FORMATS.values()} == {
        "native": ("/api/alerts", False, 16_384),
        "alertmanager": ("/api/alerts/alertmanager", True, 1024 * 1024),
        "grafana": ("/api/alerts/grafana", True, 1024 * 1024),
    }
