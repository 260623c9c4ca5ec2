"""The README's pictures of the lessons, from a real window: the first-start tour and a mission.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m playground.tools.screenshots_lessons docs/screenshots

(offscreen works too). A fresh, temporary PLAYGROUND_HOME unless one is set. The tour is shown at
its Train step (Start ringed); the mission is "Tokens", set up with its button (Python docs, a
512-token BPE trained) and done as a student does it: the merges player opened, both checks green.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from playground.tools.screenshots import _save, _wait, open_window


def take(outdir: Path, size: tuple[int, int] = (1280, 800)) -> list[Path]:
    from playground.gui.tour import STEPS

    outdir.mkdir(parents=True, exist_ok=True)
    app, window = open_window(size, ready="tokenizer")
    shots = []
    tour = window.start_tour()
    while STEPS[tour.index].tab != "Train":
        tour.next()
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "tour.png"))
    tour.skip()

    dock = window.show_lessons("tokens")
    dock.resize(400, dock.height())
    done = []
    dock.setupDone.connect(done.append)
    dock.apply_setup(dock.mission.setups[0], dock.mission.steps[0])
    _wait(app, lambda: bool(done) and not dock.busy)
    dock.show_target("tokenizer.merges")
    merges = window.tokenizer_tab.merges
    merges.slider.setValue(max(1, merges.slider.maximum() // 3))  # part-way: pieces becoming words
    _wait(app, lambda: dock.result is not None and dock.result.passed and not dock.busy, settle_ms=300)
    dock.answer.setPlainText("About 2 characters per token, where a character tokenizer has 1: the first "
                             "merges glue a space to a letter and common pairs like 'th'. So the same "
                             "context holds about twice as much text.")
    shots.append(_save(window, outdir / "mission.png"))
    window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    if "PLAYGROUND_HOME" not in os.environ:
        os.environ["PLAYGROUND_HOME"] = tempfile.mkdtemp(prefix="playground-shots-")
    take(args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
