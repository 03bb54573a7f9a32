"""Pictures of what people see in Slack, drawn from the Block Kit JSON the real bot sends.

`python -m devkit.pictures OUTDIR` (or `make pictures`, into docs/pictures/) starts the real
`vs-terminate-bot serve` against the local fakes, plays each scene of `SCENES`, and for each
writes the recorded Web API call as JSON, its HTML rendering (`devkit.slack_html`) and a PNG
taken with headless Chromium.

    scenes    SCENES: the named scenes, one picture each; add a picture here
    studio    Studio: the running bot and the moves scenes are made of; Shot: what to draw
    album     take(): play the scenes and write the files; redraw(): again from the JSON
    camera    screenshot(): Chromium's --screenshot, trimmed with Pillow; find_chromium()
"""

from devkit.pictures.scenes import SCENES, Scene
from devkit.pictures.studio import Shot, Studio

__all__ = ["SCENES", "Scene", "Shot", "Studio"]
