"""The README pictures of the encoder–decoder (issue 16), from a run already trained.

    playground train --arch encoder-decoder --corpus builtin:robot-language --tokenizer char --iters 700 --name robot
    xvfb-run -a -s "-screen 0 1280x800x24" python -m playground.tools.screenshots_seq2seq OUTDIR [--run robot]

Pictures: cross-attention.png (the Attention tab's cross-attention of one head, large, for a
robot-language sentence: the diagonal-free alignment of reordered words), cross-attention-grid.png
(every head), translate.png (the Generate tab's Translate page mid-sentence: the source shaded by
where the selected output token read) and model-seq2seq.png (the Model tab's two stacks).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playground.tools.screenshots import _save, _wait, open_run, open_window

# A validation sentence (never trained on): the robot puts each adjective after its noun and the verb last,
# "un foxka smallu za kitepo bigu watchta", so the cross-attention must jump back and forth.
SOURCE = "a small fox watches the big kite"


def take(outdir: Path, run: str = "robot", size: tuple[int, int] = (1280, 800), source: str = SOURCE,
         head: int | None = None) -> list[Path]:
    """``head`` (0-based, of the last layer) shown large: by default the one whose rows are most peaked."""
    from playground.core import config

    app, window = open_window(size)
    open_run(app, window, run)
    outdir.mkdir(parents=True, exist_ok=True)
    shots = []

    window.show_tab("Attention")
    tab = window.tabs.currentWidget()
    panel = tab.seq2seq
    _wait(app, lambda: tab.run is not None and panel.current() is not None and not panel.busy)
    panel.set_text(source)
    _wait(app, lambda: panel.current() is not None and panel.current().source == source and not panel.busy)
    panel.set_kind("cross")
    cfg = tab.run.model_config
    cross = panel.current().attention["cross"][-1]  # (H, T, S) the last layer
    if head is None:
        head = int(cross.max(dim=-1).values.mean(dim=-1).argmax())
    panel.select_head(cfg.n_layer - 1, head)
    panel.views.setCurrentIndex(0)
    _wait(app, lambda: True, settle_ms=400)
    shots.append(_save(window, outdir / "cross-attention-grid.png"))
    panel.views.setCurrentIndex(1)
    _wait(app, lambda: True, settle_ms=400)
    shots.append(_save(window, outdir / "cross-attention.png"))

    window.show_tab("Generate")
    gen = window.tabs.currentWidget()
    _wait(app, lambda: gen.run is not None and not gen.busy)
    gen.form.greedy.setChecked(True)
    page = gen.translate_page
    page.source.setPlainText(source)
    page.translate()
    _wait(app, lambda: not gen.busy and page.steps)
    page.view.tokenClicked.emit(page.translation().rfind(" ") + 1)  # the verb's first letter: the robot moved it last
    _wait(app, lambda: True, settle_ms=400)
    shots.append(_save(window, outdir / "translate.png"))

    window.state.set_model_config(cfg)
    window.show_tab("Model")
    model_tab = window.tabs.currentWidget()
    model_tab.set_config(cfg)
    _wait(app, lambda: model_tab.cfg is not None and model_tab.cfg.arch == config.ENCODER_DECODER, settle_ms=400)
    shots.append(_save(window, outdir / "model-seq2seq.png"))
    window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--run", default="robot")
    parser.add_argument("--source", default=SOURCE)
    parser.add_argument("--head", type=int, default=None, help="0-based head of the last layer shown large")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    take(args.outdir, args.run, source=args.source, head=args.head)
    return 0


if __name__ == "__main__":
    sys.exit(main())
