"""`python -m devkit.pictures OUTDIR`: the command line of the pictures (`make pictures`).

Exit status 0 when every scene was drawn, 1 when a scene failed (its problem and the bot's log
are shown), 2 when Chromium is missing or failed, or the bot did not start.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from devkit.pictures.album import Album, redraw, take
from devkit.pictures.camera import CameraError, find_chromium
from devkit.pictures.scenes import SCENES

EXIT_OK: Final = 0
EXIT_SCENE_FAILED: Final = 1
EXIT_TOOLS: Final = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.pictures",
        description="Pictures of what the bot shows in Slack, from the Block Kit JSON it sends.",
    )
    parser.add_argument("outdir", type=Path, help="where the JSON, HTML and PNG files go")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="take this scene only (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the scenes and exit")
    parser.add_argument(
        "--redraw",
        action="store_true",
        help="redraw HTML and PNG from the JSON already in OUTDIR, without starting the bot",
    )
    parser.add_argument(
        "--no-png", action="store_true", help="write JSON and HTML only (no Chromium needed)"
    )
    parser.add_argument("--chromium", help="the browser binary (default: $CHROMIUM, chromium)")
    parser.add_argument(
        "--verbose", action="store_true", help="show what everyone saw, as the sandbox does"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Takes (or redraws) the pictures; returns the exit status."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    if args.list:
        for scene in SCENES:
            out.write(f"{scene.name:<20} {scene.caption}\n")
        return EXIT_OK
    known = {scene.name for scene in SCENES}
    if unknown := sorted(set(args.only or ()) - known):
        sys.stderr.write(f"no such scene: {', '.join(unknown)} (see --list)\n")
        return EXIT_TOOLS
    scenes = [scene for scene in SCENES if not args.only or scene.name in args.only]
    try:
        # Found before the bot starts, so a missing browser fails in a second, not a minute.
        chromium = None if args.no_png else find_chromium(args.chromium)
        if args.redraw:
            album = redraw(args.outdir, scenes, chromium=chromium)
        else:
            transcript = sys.stderr if args.verbose else None
            album = take(args.outdir, scenes, chromium=chromium, transcript=transcript)
    except (CameraError, RuntimeError) as exc:
        sys.stderr.write(f"pictures: {exc}\n")
        return EXIT_TOOLS
    return _report(album)


def _report(album: Album) -> int:
    for picture in album.pictures:
        sys.stdout.write(f"{picture.png or picture.html}  {picture.scene.caption}\n")
    for name, problem in album.failures.items():
        sys.stderr.write(f"pictures: scene {name} failed: {problem}\n")
    return EXIT_SCENE_FAILED if album.failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
