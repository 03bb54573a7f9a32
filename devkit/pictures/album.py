"""Takes the pictures: plays the scenes against a fresh bot, writes each one's JSON, HTML and PNG.

`take` starts the real bot against the fakes once (as the sandbox does: SQLite in a temporary
directory, everything on 127.0.0.1), plays every scene, stops it, then writes for each scene
`<name>.json` (the Web API call as the bot made it: method, when, arguments, and the message's
ts when Slack gave it), `<name>.html` (`devkit.slack_html` of that JSON) and `<name>.png`
(headless Chromium). `redraw` makes the HTML and PNG again from the JSON alone, without the
bot, for when only the renderer changed.
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import httpx

from devkit.payloads import SlackClient
from devkit.pictures.camera import screenshot
from devkit.pictures.scenes import Scene
from devkit.pictures.studio import Shot, StepFailedError, Studio, make_fakes
from devkit.render import Audience
from devkit.sandbox import CHANNELS, GROUPS, POLICY, USERS, Console, Session
from devkit.slack_html import call_page
from devkit.stack import SIGNING_SECRET, LocalStack

__all__ = ["Album", "Picture", "SceneFailedError", "names", "redraw", "take"]

LOG_TAIL_LINES: Final = 30
SECRET_ARGS: Final = frozenset({"token"})
"""Arguments never written to the JSON (the bot sends its token in a header, but be sure)."""


def names() -> Audience:
    """The sandbox's people, channels and groups by id: how mentions are drawn."""
    return Audience(users={u.id: u.name for u in USERS}, channels=CHANNELS, groups=GROUPS)


@dataclass(frozen=True)
class Picture:
    """One scene's files.

    Attributes:
        scene: The scene.
        json: The recorded call.
        html: Its rendering.
        png: Its screenshot; None when screenshots were not asked for.
    """

    scene: Scene
    json: Path
    html: Path
    png: Path | None


class SceneFailedError(Exception):
    """A scene did not get the call it draws; the message has the bot's log and the transcript."""


@dataclass
class Album:
    """What a take produced.

    Attributes:
        pictures: The scenes that worked, in order.
        failures: Scene name → what went wrong.
    """

    pictures: list[Picture] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


def take(
    outdir: Path,
    scenes: Sequence[Scene],
    *,
    chromium: str | None,
    transcript: TextIO | None = None,
) -> Album:
    """Plays `scenes` against a fresh bot and writes their files into `outdir`.

    Args:
        outdir: Where the files go (created if missing).
        scenes: The scenes to play, in order.
        chromium: The browser for the PNGs (`camera.find_chromium()`); None writes JSON and
            HTML only.
        transcript: Where the sandbox's account of what everyone saw goes; kept in memory (and
            shown for a failing scene) when None.

    Returns:
        The pictures taken and the scenes that failed.

    Raises:
        RuntimeError: The bot did not start.
        camera.CameraError: Chromium failed.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    stream = transcript or io.StringIO()
    with tempfile.TemporaryDirectory(prefix="vs-terminate-pictures-") as workdir:
        slack, vectorshift = make_fakes()
        stack = LocalStack(
            Path(workdir),
            policy=POLICY,
            slack=slack,
            vectorshift=vectorshift,
            # Local traffic must never be routed through a proxy from the caller's environment.
            env={"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
        )
        stack.start()
        try:
            shots, failures = asyncio.run(_play(stack, scenes, stream))
        finally:
            stack.stop()
    album = Album(failures=failures)
    for scene in scenes:
        if scene.name in shots:
            path = outdir / f"{scene.name}.json"
            path.write_text(_json(shots[scene.name]), encoding="utf-8")
            album.pictures.append(_draw(scene, path, chromium=chromium))
    return album


def redraw(outdir: Path, scenes: Sequence[Scene], *, chromium: str | None) -> Album:
    """Makes the HTML (and PNG) of each scene again from its JSON in `outdir`.

    Args:
        outdir: Where an earlier `take` wrote its files.
        scenes: The scenes to redraw.
        chromium: The browser for the PNGs; None writes HTML only.

    Returns:
        The pictures redrawn; scenes without a JSON file are failures.

    Raises:
        camera.CameraError: Chromium failed.
    """
    album = Album()
    for scene in scenes:
        path = outdir / f"{scene.name}.json"
        if path.exists():
            album.pictures.append(_draw(scene, path, chromium=chromium))
        else:
            album.failures[scene.name] = f"{path} does not exist; take the pictures first"
    return album


def _draw(scene: Scene, json_path: Path, *, chromium: str | None) -> Picture:
    recorded = json.loads(json_path.read_text(encoding="utf-8"))
    page = call_page(
        str(recorded["method"]),
        recorded["args"],
        names(),
        shown_at=_shown_at(recorded),
        title=scene.caption,
    )
    html_path = json_path.with_suffix(".html")
    html_path.write_text(page, encoding="utf-8")
    png = None
    if chromium is not None:
        png = screenshot(html_path, json_path.with_suffix(".png"), chromium=chromium)
    return Picture(scene, json_path, html_path, png)


def _shown_at(recorded: Mapping[str, Any]) -> str | None:
    # The fake Slack's ts count up from 2023; the bot's own words carry today's clock. The time
    # the call was made keeps the picture consistent with what the message says.
    for key in ("made_at", "ts"):
        if recorded.get(key):
            return str(recorded[key])
    return None


def _json(shot: Shot) -> str:
    args = {key: value for key, value in shot.call.args.items() if key not in SECRET_ARGS}
    # SlackCall.at is monotonic; both clocks have run alike since, so the offset is today's.
    made_at = time.time() - (time.monotonic() - shot.call.at)
    recorded: dict[str, Any] = {
        "method": shot.call.method,
        "made_at": f"{made_at:.6f}",
        "args": args,
    }
    if shot.ts is not None:
        recorded["ts"] = shot.ts
    return json.dumps(recorded, indent=2, ensure_ascii=False) + "\n"


async def _play(
    stack: LocalStack, scenes: Sequence[Scene], stream: TextIO
) -> tuple[dict[str, Shot], dict[str, str]]:
    # Explicit transports: httpx then ignores proxy settings from the environment.
    client = SlackClient(
        stack.url, SIGNING_SECRET, stack.slack, transport=httpx.AsyncHTTPTransport()
    )
    http = httpx.AsyncClient(
        base_url=stack.url, transport=httpx.AsyncHTTPTransport(), timeout=httpx.Timeout(10.0)
    )
    shots: dict[str, Shot] = {}
    failures: dict[str, str] = {}
    console = Console(stream, color=False)
    async with client, http:
        session = Session(stack, client, http, console)
        studio = Studio(session)
        for scene in scenes:
            console.title(scene.name)
            seen_from = stream.tell() if isinstance(stream, io.StringIO) else None
            session.mark_log()
            try:
                shots[scene.name] = await scene.play(studio)
            except (StepFailedError, httpx.HTTPError, LookupError) as exc:
                session.flush()
                seen = stream.getvalue()[seen_from:] if isinstance(stream, io.StringIO) else ""
                failures[scene.name] = _failure(str(exc) or type(exc).__name__, session, seen)
    return shots, failures


def _failure(problem: str, session: Session, seen: str) -> str:
    """The problem, what people saw during the scene, and what the bot logged meanwhile."""
    parts = [problem]
    if seen.strip():
        parts += ["what people saw (as the sandbox prints it):", seen.rstrip()]
    log = session.log_since_mark()[-LOG_TAIL_LINES:]
    parts += (
        ["the bot's log during the scene:", *(f"  {line}" for line in log)]
        if log
        else ["(nothing in the bot's log during the scene)"]
    )
    return "\n".join(parts)
