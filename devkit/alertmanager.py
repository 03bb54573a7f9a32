"""The real Prometheus Alertmanager as a test client: its config, process, alerts and receiver.

`AlertmanagerProcess` runs Debian's `/usr/bin/prometheus-alertmanager` (installed by
`scripts/system-deps.sh`) as a child process with one webhook receiver, so the tests see exactly
what Alertmanager sends a bot (SPEC §4.7): a workdir holds its `alertmanager.yml`, its storage
and its log; it listens on a free 127.0.0.1 port with gossip off (`--cluster.listen-address=`),
so it never takes 9093 or 9094 and two of them never form a cluster. Alerts go in through
`POST /api/v2/alerts`, as Prometheus sends them. `WebhookReceiver` is the other end for tests
of the harness itself: it records each delivery and answers 200 or scripted failures.

    with AlertmanagerProcess(tmp_path, webhook_url=receiver_url, token="s3cret") as am:
        am.push([Alert({"alertname": "RunTooLong", "vs_pipeline": "nightly-etl"})])
        ...  # the receiver sees a version "4" payload with `Authorization: Bearer s3cret`
        am.resolve([...])

The timers default to small values so that a test sees a repeat within seconds;
`devkit/ALERTMANAGER_NOTES.md` records the smallest values Alertmanager accepts, how they
interact and what it does when the receiver fails.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self
from urllib.parse import urlsplit

import yaml
from aiohttp import web

from devkit.fakes.runner import FakeApp, Journal
from devkit.stack import free_port

__all__ = [
    "BINARY",
    "RECEIVER",
    "Alert",
    "AlertmanagerError",
    "AlertmanagerProcess",
    "Delivery",
    "WebhookReceiver",
]

BINARY: Final = Path("/usr/bin/prometheus-alertmanager")
"""Debian's Alertmanager, which `scripts/system-deps.sh` installs."""

RECEIVER: Final = "vs-terminate"
"""The name of the one receiver; Alertmanager sends it as the payload's `receiver`."""

READY_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
HTTP_TIMEOUT_S: Final = 10.0
BIND_ATTEMPTS: Final = 3


class AlertmanagerError(RuntimeError):
    """Alertmanager did not start, or answered its API with an error.

    Args:
        message: What went wrong; the process log is appended when there is one.
        status: The HTTP status of a failed API call, if that was the failure.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _timestamp(moment: datetime) -> str:
    # RFC 3339 in UTC with a `Z`: the form Alertmanager's OpenAPI layer (strfmt.DateTime) parses.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as Prometheus posts it to Alertmanager's `POST /api/v2/alerts`.

    Alertmanager identifies an alert by its label set (the `fingerprint` in the webhook), so
    pushing an alert with the same labels again updates it rather than adding one.

    Args:
        labels: Identifying labels, e.g. `alertname`, `vs_pipeline`, `vs_run`.
        annotations: Descriptive text, e.g. `summary`, `description`.
        starts_at: When it started firing; Alertmanager uses the time of the push when None.
        ends_at: When it stops (or stopped) firing; a past time resolves it. When None,
            Alertmanager resolves it `resolve_timeout` (5 min) after the last push.
        generator_url: Link back to the source, passed through to the webhook.
    """

    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""

    def to_api(self) -> dict[str, object]:
        """The alert as a JSON object of Alertmanager's v2 API (`postableAlert`)."""
        body: dict[str, object] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }
        if self.starts_at is not None:
            body["startsAt"] = _timestamp(self.starts_at)
        if self.ends_at is not None:
            body["endsAt"] = _timestamp(self.ends_at)
        if self.generator_url:
            body["generatorURL"] = self.generator_url
        return body

    def resolved(self, at: datetime | None = None) -> Alert:
        """This alert ending at `at` (now when None), which resolves it once that has passed.

        Args:
            at: The end time; it should not be in the future.

        Returns:
            A copy with `ends_at` set and `starts_at` no later than it (Alertmanager rejects an
            alert that ends before it starts).
        """
        end = at or datetime.now(UTC)
        start = self.starts_at if self.starts_at is not None and self.starts_at <= end else end
        return replace(self, starts_at=start, ends_at=end)


class AlertmanagerProcess:
    """A real Alertmanager on 127.0.0.1 whose only receiver is one bearer-token webhook.

    Args:
        workdir: Where `alertmanager.yml`, the storage directory (`data/`) and the log
            (`alertmanager.log`) go; created if missing.
        webhook_url: The receiver's URL; must be on a loopback address.
        token: Sent as `Authorization: Bearer <token>` (`http_config.authorization`); no
            Authorization header at all when None.
        group_by: Labels that group alerts into one notification (`route.group_by`);
            `("...",)` groups by every label, `()` puts every alert in one group.
        group_wait: Wait before a new group's first notification (`0s` is allowed).
        group_interval: Between a group's notifications (at least `1ms`); also how often a
            failed notification is attempted again and how long one attempt may retry.
        repeat_interval: Re-send a still-firing group after this (at least `1ms`); in effect
            rounded up to a multiple of `group_interval`.
        send_resolved: Notify when the alerts of a group resolve.
        max_alerts: Cap on alerts per notification (`webhook_config.max_alerts`); 0 is none.
            The rest are dropped and counted in the payload's `truncatedAlerts`.
        log_level: Alertmanager's `--log.level`: debug, info, warn or error.
        binary: The Alertmanager executable.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        webhook_url: str,
        token: str | None,
        group_by: Sequence[str] = ("alertname",),
        group_wait: str = "200ms",
        group_interval: str = "1s",
        repeat_interval: str = "1s",
        send_resolved: bool = True,
        max_alerts: int = 0,
        log_level: str = "info",
        binary: Path = BINARY,
    ) -> None:
        host = urlsplit(webhook_url).hostname or ""
        if not _is_loopback(host):
            raise ValueError(f"webhook_url must be on 127.0.0.1 or localhost, not {host!r}")
        self.workdir = workdir
        self.config_file = workdir / "alertmanager.yml"
        self.storage_dir = workdir / "data"
        self.log_file = workdir / "alertmanager.log"
        self.webhook_url = webhook_url
        self.token = token
        self.group_by = tuple(group_by)
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.send_resolved = send_resolved
        self.max_alerts = max_alerts
        self.log_level = log_level
        self.binary = binary
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Alertmanager's root URL, `http://127.0.0.1:<port>`; also its `externalURL`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self._process is not None else None

    def config(self) -> dict[str, Any]:
        """The configuration `start()` writes, as the YAML document's data."""
        webhook: dict[str, Any] = {
            "url": self.webhook_url,
            "send_resolved": self.send_resolved,
            "max_alerts": self.max_alerts,
        }
        if self.token is not None:
            webhook["http_config"] = {
                "authorization": {"type": "Bearer", "credentials": self.token},
            }
        return {
            "route": {
                "receiver": RECEIVER,
                "group_by": list(self.group_by),
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [{"name": RECEIVER, "webhook_configs": [webhook]}],
        }

    def command(self) -> list[str]:
        """The command line `start()` runs (flags as `prometheus-alertmanager --help` lists)."""
        return [
            str(self.binary),
            f"--config.file={self.config_file}",
            f"--storage.path={self.storage_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--web.external-url={self.url}",
            # Empty: no gossip listener on :9094 and no HA peers, so a notification is never
            # held back for peers (`--cluster.peer-timeout`) and two test instances stay apart.
            "--cluster.listen-address=",
            f"--log.level={self.log_level}",
        ]

    def start(self) -> Self:
        """Write the config and start Alertmanager; return once `/-/ready` answers 200.

        Returns:
            This process, running.

        Raises:
            AlertmanagerError: The binary is missing (run `scripts/system-deps.sh`), it exited,
                or it was not ready in time; the log is in the message.
        """
        if self._process is not None:
            raise AlertmanagerError("Alertmanager is already running")
        if not self.binary.exists():
            raise AlertmanagerError(
                f"{self.binary} not found; install it with scripts/system-deps.sh"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        # Another process may take the free port before Alertmanager binds it: try a new one.
        for attempt in range(1, BIND_ATTEMPTS + 1):
            self.port = free_port()
            self.config_file.write_text(yaml.safe_dump(self.config(), sort_keys=False))
            self._log = self.log_file.open("ab")
            self._process = subprocess.Popen(  # noqa: S603 - a fixed binary, our own arguments
                self.command(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            try:
                self._wait_ready()
            except AlertmanagerError:
                in_use = "address already in use" in self.log()
                self.stop()
                if in_use and attempt < BIND_ATTEMPTS:
                    continue
                raise
            return self
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait_ready(self) -> None:
        assert self._process is not None  # noqa: S101 - for mypy; start() just set it
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AlertmanagerError(
                    f"Alertmanager exited with {self._process.returncode}:\n{self.log()}"
                )
            if self.ready():
                return
            time.sleep(0.05)  # noqa: TID251 - a sync harness polling a child process
        raise AlertmanagerError(f"Alertmanager was not ready in {READY_TIMEOUT_S} s:\n{self.log()}")

    def ready(self) -> bool:
        """Whether `GET /-/ready` answers 200 (it does once the config is loaded)."""
        try:
            status, _ = self._request("GET", "/-/ready", timeout_s=2.0)
        except OSError:
            return False
        return status == 200

    def push(self, alerts: Iterable[Alert | Mapping[str, object]]) -> None:
        """Post alerts to `POST /api/v2/alerts`, as Prometheus does on every evaluation.

        Args:
            alerts: `Alert`s, or raw `postableAlert` JSON objects (to send something odd).

        Raises:
            AlertmanagerError: Alertmanager rejected them (e.g. 400 for an alert that ends
                before it starts); `status` holds the HTTP status.
        """
        body = [alert.to_api() if isinstance(alert, Alert) else dict(alert) for alert in alerts]
        status, text = self._request("POST", "/api/v2/alerts", body)
        if status != 200:
            raise AlertmanagerError(f"POST /api/v2/alerts: {status} {text}", status=status)

    def resolve(self, alerts: Iterable[Alert], *, at: datetime | None = None) -> None:
        """Push the alerts again ending at `at` (now by default), which resolves them.

        Alertmanager sends the resolved notification at the group's next flush (within
        `group_interval`) when `send_resolved` is on.

        Args:
            alerts: The alerts to resolve; matched to the firing ones by their labels.
            at: The end time; must not be in the future.

        Raises:
            AlertmanagerError: Alertmanager rejected the push.
        """
        end = at or datetime.now(UTC)
        self.push([alert.resolved(end) for alert in alerts])

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds (`GET /api/v2/alerts`), firing and not yet collected.

        Raises:
            AlertmanagerError: The API answered with an error.
        """
        status, text = self._request("GET", "/api/v2/alerts")
        if status != 200:
            raise AlertmanagerError(f"GET /api/v2/alerts: {status} {text}", status=status)
        held: list[dict[str, Any]] = json.loads(text)
        return held

    def log(self) -> str:
        """What Alertmanager has logged so far (logfmt lines)."""
        if not self.log_file.exists():
            return ""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, *, timeout_s: float = 10.0) -> str:
        """Wait until the log contains `text` (Alertmanager logs a delivery after its answer).

        Args:
            text: The substring to wait for.
            timeout_s: Seconds to wait at most.

        Returns:
            The whole log at that moment.

        Raises:
            TimeoutError: `text` did not appear in time.
        """
        deadline = time.monotonic() + timeout_s
        while text not in (log := self.log()):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{text!r} not logged within {timeout_s} s:\n{log}")
            time.sleep(0.05)  # noqa: TID251 - a sync harness polling a child's log file
        return log

    def stop(self) -> None:
        """Stop Alertmanager: SIGTERM, then SIGKILL after a grace period. Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _request(
        self, method: str, path: str, body: object = None, *, timeout_s: float = HTTP_TIMEOUT_S
    ) -> tuple[int, str]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own 127.0.0.1 URL
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request as the receiver got it, and what it answered.

    Args:
        at: `time.monotonic()` when it arrived (to measure repeats and retries).
        path: The request path.
        headers: The request headers (Alertmanager sends `Authorization`, `User-Agent`,
            `Content-Type`).
        body: The JSON body.
        answered: The HTTP status the receiver answered with.
    """

    at: float
    path: str
    headers: Mapping[str, str]
    body: dict[str, Any]
    answered: int

    @property
    def status(self) -> str:
        """The notification's `status`: `firing` (any alert firing) or `resolved` (all are)."""
        return str(self.body.get("status", ""))


class WebhookReceiver(FakeApp):
    """A webhook endpoint on 127.0.0.1 that records what Alertmanager posts and answers as told.

    Every request to `path` is recorded in `deliveries` (a `Journal`: tests wait on it, never
    sleep) and answered 200, or with the statuses scripted by `respond_with`. Start it with
    `start()` (a background thread, for sync tests) or `serve()` (the running loop).

    Args:
        path: The URL path Alertmanager posts to.
    """

    def __init__(self, *, path: str = "/hook") -> None:
        super().__init__()
        self.path = path
        self.deliveries: Journal[Delivery] = Journal()
        self._lock = threading.Lock()
        self._scripted: list[int] = []
        self._status = 200

    @property
    def url(self) -> str:
        """The full webhook URL to give Alertmanager.

        Raises:
            RuntimeError: The receiver is not running.
        """
        return f"{self.root_url}{self.path}"

    def respond_with(self, status: int, *, times: int | None = None) -> None:
        """Answer the next `times` requests (every later one when None) with `status`.

        Args:
            status: The HTTP status to answer with.
            times: How many requests get it before the standing answer applies again.
        """
        with self._lock:
            if times is None:
                self._scripted.clear()
                self._status = status
            else:
                self._scripted.extend([status] * times)

    def make_app(self) -> web.Application:
        """Builds the application: one POST route at `path`."""
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            status = self._scripted.pop(0) if self._scripted else self._status
        self.deliveries.append(
            Delivery(
                at=time.monotonic(),
                path=request.path,
                headers=dict(request.headers),
                body=json.loads(raw),
                answered=status,
            )
        )
        # Alertmanager logs a failed answer's body after the URL, so it says who refused.
        error = None if status < 300 else f"receiver answered {status}"
        return web.json_response({"ok": status < 300, "error": error}, status=status)
