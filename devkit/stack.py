"""The real bot process wired to the local fakes: one harness for e2e tests, sandbox and bench.

`LocalStack` starts `FakeSlack` and `FakeVectorShift` on 127.0.0.1, writes a policy file,
and runs the real `vs-terminate-bot serve` as a child process (`python -m bot serve`) whose
environment points `SLACK_API_URL` and `VECTORSHIFT_BASE_URL` at the fakes. Nothing it starts
talks to anything but 127.0.0.1, and `stop()` (or leaving the `with` block) ends it all.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from bot.config import child_environment
from devkit.fakes.slack_api import FakeSlack
from devkit.fakes.vectorshift_api import FakeVectorShift
from devkit.payloads import SlackClient

SIGNING_SECRET = "sandbox-signing-secret"  # noqa: S105 - a local fake's secret, not a credential
BOT_TOKEN = "xoxb-sandbox-0000-token"  # noqa: S105
ALERTS_TOKEN = "sandbox-alerts-token-0123456789"  # noqa: S105
APP_TOKEN = "xapp-1-sandbox-0000-token"  # noqa: S105
HMAC_KEY = "sandbox-audit-hmac-key"
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStack:
    """Fakes plus the real `serve` process.

    Args:
        workdir: where the policy file, the SQLite database and the server log go.
        policy: the policy file's TOML text.
        database_url: the audit store; a SQLite file in `workdir` when None.
        audit_channel: `VS_AUDIT_CHANNEL` for the bot, or None.
        env: extra environment for the bot process.
        vectorshift_latency_s: added latency of every fake VectorShift answer.
        slack: an already-configured `FakeSlack` to use instead of a new one.
        vectorshift: an already-configured `FakeVectorShift`.
        fakes_running: the given fakes are already serving (another stack owns them), so this
            stack neither starts nor stops them: two bot processes against one Slack.
        command: `serve` (HTTP mode) or `socket` (Socket Mode, with an app token).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        policy: str,
        database_url: str | None = None,
        audit_channel: str | None = None,
        env: Mapping[str, str] | None = None,
        vectorshift_latency_s: float = 0.0,
        slack: FakeSlack | None = None,
        vectorshift: FakeVectorShift | None = None,
        fakes_running: bool = False,
        command: str = "serve",
    ) -> None:
        self.workdir = workdir
        self.policy_file = workdir / "policy.toml"
        self.database_url = database_url or f"sqlite:///{workdir / 'audit.db'}"
        self.log_file = workdir / "server.log"
        self.slack = slack or FakeSlack()
        self.vectorshift = vectorshift or FakeVectorShift(latency_s=vectorshift_latency_s)
        self._policy = policy
        self._audit_channel = audit_channel
        self._extra_env = dict(env or {})
        self._owns_fakes = not fakes_running
        self.command = command
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int | None:
        """The bot process's id while it runs (the benchmark reads its CPU and memory)."""
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        """The bot's root URL."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The bot's environment: everything pointing at the fakes."""
        values = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "VECTORSHIFT_API_KEY": self.vectorshift.api_key,
            "VECTORSHIFT_BASE_URL": self.vectorshift.base_url,
            "DATABASE_URL": self.database_url,
            "VS_POLICY_FILE": str(self.policy_file),
            "VS_ALERTS_TOKEN": ALERTS_TOKEN,
            "VS_AUDIT_HMAC_KEY": HMAC_KEY,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
        }
        if self._audit_channel:
            values["VS_AUDIT_CHANNEL"] = self._audit_channel
        values.update(self._extra_env)
        return child_environment(values)

    def start(self) -> Self:
        """Start the fakes and the bot; returns once `/healthz` answers 200.

        Raises:
            RuntimeError: the bot exited or did not become healthy in time (log attached).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.policy_file.write_text(self._policy, encoding="utf-8")
        if self._owns_fakes:
            self.slack.start()
            self.vectorshift.start()
        return self.start_bot()

    def start_bot(self) -> Self:
        """Start (or start again, after a crash) only the bot process, on a fresh port.

        Raises:
            RuntimeError: the bot exited or did not become healthy in time (log attached).
        """
        self.port = free_port()
        if self._log is None:
            self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our interpreter, a fixed command
            [sys.executable, "-m", "bot", self.command],
            cwd=self.workdir,
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the bot exited with {self._process.returncode}:\n{self.log()}")
            if self.healthz() == 200:
                return self
            time.sleep(0.1)  # noqa: TID251 - a sync harness polling a child process
        self.stop()
        raise RuntimeError(f"the bot did not become healthy in time:\n{self.log()}")

    def send_signal(self, signum: int) -> None:
        """Send the bot process a signal (SIGTERM for a deploy, SIGKILL for a crash)."""
        if self._process is None:
            raise RuntimeError("the bot is not running")
        self._process.send_signal(signum)

    def wait(self, timeout_s: float = 40.0) -> int:
        """Wait for the bot process to exit; returns its exit status.

        Raises:
            subprocess.TimeoutExpired: it is still running after `timeout_s`.
        """
        if self._process is None:
            raise RuntimeError("the bot is not running")
        return self._process.wait(timeout=timeout_s)

    def healthz(self) -> int | None:
        """The status of `GET /healthz`, or None if nothing answers."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def log(self) -> str:
        """What the bot process has written so far."""
        return (
            self.log_file.read_text(encoding="utf-8", errors="replace")
            if self.log_file.exists()
            else ""
        )

    def client(self, *, timeout_s: float = 10.0) -> SlackClient:
        """A signed-request client for the running bot."""
        return SlackClient(self.url, SIGNING_SECRET, self.slack, timeout_s=timeout_s)

    def cli(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run `vs-terminate-bot <args>` with the bot's environment (e.g. `audit export`)."""
        return subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bot", *args],
            cwd=self.workdir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def audit_records(self) -> list[dict[str, object]]:
        """The audit export, parsed (one dict per attempt)."""
        result = self.cli("audit", "export", "--format", "jsonl")
        if result.returncode != 0:
            raise RuntimeError(f"audit export failed: {result.stderr}")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def post_alert(
        self, body: Mapping[str, object] | str, *, token: str = ALERTS_TOKEN
    ) -> tuple[int, dict[str, object]]:
        """`POST /api/alerts` as an alerting tool would; returns status and JSON body."""
        data = body if isinstance(body, str) else json.dumps(body)
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
            f"{self.url}/api/alerts",
            data=data.encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        """Stop the bot (SIGTERM, then SIGKILL) and the fakes."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._owns_fakes:
            self.slack.stop()
            self.vectorshift.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run `vs-terminate-bot` with a given environment (no stack needed)."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=child_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
