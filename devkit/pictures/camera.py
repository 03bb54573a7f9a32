"""Screenshots of local HTML pages with headless Chromium, trimmed to their content.

One Chromium process per page (`--screenshot`), so there is no DevTools protocol to speak and
nothing to keep alive between pages. Chromium cannot size its window to the page, so the page
is drawn in a tall window and the empty rows under the content are cut off with Pillow.

Chromium is started with the flags that keep it off the network (background networking,
component updates, sync and QUIC off) and a fresh profile each time; `--no-sandbox` because
`make pictures` often runs as root, where Chromium's sandbox refuses to start, and the pages are
our own, inert (their Content-Security-Policy allows no script) and local.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from PIL import Image, ImageChops

from devkit.slack_html import PAGE_WIDTH_PX

__all__ = ["CameraError", "find_chromium", "screenshot"]

CHROMIUM_NAMES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS: Final = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
)
TIMEOUT_S: Final = 60.0
FIRST_HEIGHT_PX: Final = 1600
MAX_HEIGHT_PX: Final = 12800
MARGIN_PX: Final = 16
"""Empty CSS pixels kept under the content, so the picture does not end on its last line."""


class CameraError(Exception):
    """Chromium is missing, failed, or wrote no picture; the message says which and why."""


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium (or Chrome) binary to use.

    Args:
        explicit: A path or command name given by the caller; `$CHROMIUM` when None, then the
            usual names on `PATH`.

    Returns:
        The binary's path.

    Raises:
        CameraError: None found (the message says how to install one).
    """
    wanted = explicit or os.environ.get("CHROMIUM")
    for name in (wanted,) if wanted else CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    raise CameraError(
        f"no Chromium found ({wanted or ', '.join(CHROMIUM_NAMES)}); "
        "run `bash scripts/pictures-deps.sh` (Debian's chromium) or set CHROMIUM"
    )


def screenshot(page: Path, png: Path, *, chromium: str, scale: float = 2.0) -> Path:
    """Draws `page` at the pages' width and saves it as `png`, cut just below its content.

    Args:
        page: A local HTML file.
        png: Where the picture goes (overwritten).
        chromium: The browser binary (`find_chromium()`).
        scale: Device pixels per CSS pixel; 2 keeps text sharp on high-density screens.

    Returns:
        `png`.

    Raises:
        CameraError: Chromium failed or wrote nothing, or the page is taller than
            `MAX_HEIGHT_PX`.
    """
    height = FIRST_HEIGHT_PX
    while True:
        _shoot(page, png, chromium=chromium, height=height, scale=scale)
        if _trim(png, margin_px=round(MARGIN_PX * scale)):
            return png
        # The content reached the window's bottom edge: it may go on below; draw it taller.
        if height >= MAX_HEIGHT_PX:
            raise CameraError(f"{page} is taller than {MAX_HEIGHT_PX} px")
        height *= 2


def _shoot(page: Path, png: Path, *, chromium: str, height: int, scale: float) -> None:
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="vs-pictures-chromium-") as profile:
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--force-device-scale-factor={scale:g}",
            f"--window-size={PAGE_WIDTH_PX},{height}",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ]
        try:
            result = subprocess.run(  # noqa: S603 - a browser binary we located, fixed flags
                command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise CameraError(f"Chromium took over {TIMEOUT_S:g} s on {page}") from exc
    if result.returncode != 0 or not png.exists():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise CameraError(f"Chromium exited {result.returncode} on {page}:\n{tail}")


def _trim(png: Path, *, margin_px: int) -> bool:
    """Cuts the rows of background colour under the content, keeping `margin_px` of them.

    Returns:
        False when the content reaches the bottom edge (nothing was cut).
    """
    with Image.open(png) as opened:
        image = opened.convert("RGB")
    # The bottom-left pixel is background on every page (both layouts pad their content).
    background = image.getpixel((0, image.height - 1))
    plain = Image.new("RGB", image.size, background)
    box = ImageChops.difference(image, plain).getbbox()
    bottom = box[3] if box else 0
    if bottom >= image.height - margin_px:
        return False
    image.crop((0, 0, image.width, bottom + margin_px)).save(png, optimize=True)
    return True
