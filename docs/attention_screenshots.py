"""Retake the Attention tab's screenshots in docs/screenshots/ from a real window.

Run under a display (or Xvfb) after training a run on a lessons corpus (and one on prose
for the embedding scatter), e.g.:

    export PLAYGROUND_HOME=/tmp/shots
    playground train --corpus builtin:copy-lessons --tokenizer char --preset tiny \
        --iters 1500 --batch 32 --lr 3e-3 --name copy-lessons-tiny
    playground train --corpus builtin:python-docs --tokenizer char --preset tiny \
        --iters 2000 --batch 32 --lr 3e-3 --name python-docs-tiny
    xvfb-run -a -s "-screen 0 1280x800x24" python docs/attention_screenshots.py \
        copy-lessons-tiny python-docs-tiny

The window opens on that run's latest checkpoint with a validation excerpt (the text the
model never trained on), and each view is grabbed to a PNG.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from playground.core.checkpoint import Run
from playground.gui.app import MainWindow

OUT = Path(__file__).resolve().parent / "screenshots"


def settle(app: QApplication, tab, seconds: float = 60.0) -> None:
    """Process events until the tab shows what it was asked for (or the time is up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if not tab.busy and tab.shown_key is not None and tab.shown_key == tab.current_key():
            break
        time.sleep(0.02)
    for _ in range(20):  # let the last paints land
        app.processEvents()
        time.sleep(0.01)


def main(run_name: str, embeddings_run: str) -> None:
    app = QApplication(sys.argv[:1])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.show_tab("Attention")
    tab = window.tabs.currentWidget()
    settle(app, tab)
    window.state.set_run(Run.open(run_name))  # as picking it in the list does
    for _ in range(10):  # excerpts are random: take one where the scorer finds both patterns
        tab.random_excerpt()
        settle(app, tab)
        labels = {label for layer in shown(tab).head_labels for label, _score in layer}
        if {"previous-token", "induction"} <= labels:
            break

    def grab(name: str) -> None:
        path = OUT / name
        window.grab().save(str(path))
        print("wrote", path)

    tab.views.setCurrentIndex(0)
    settle(app, tab)
    grab("attention-grid.png")
    layer, head = best_induction_head(tab)
    tab.select_head(layer, head)
    tab.views.setCurrentIndex(1)
    settle(app, tab)
    grab("attention-large.png")
    tab.views.setCurrentIndex(3)
    settle(app, tab)
    grab("attention-math.png")
    # Embeddings read best from natural text: vowels, capitals, digits and punctuation gather.
    window.state.set_run(Run.open(embeddings_run))
    tab.views.setCurrentIndex(5)
    settle(app, tab)
    grab("embeddings.png")
    window.close()


def shown(tab):
    return tab.captures[tab.current_key()]


def best_induction_head(tab) -> tuple[int, int]:
    """The head the scorer calls most induction-like in the shown capture."""
    scores = shown(tab).scores
    best = max(((s.get("induction") or 0.0, l, h) for l, layer in enumerate(scores) for h, s in enumerate(layer)))
    return best[1], best[2]


if __name__ == "__main__":
    args = sys.argv[1:] + ["copy-lessons-tiny", "python-docs-tiny"][len(sys.argv) - 1:]
    main(args[0], args[1])
