"""The README pictures of the whole forward pass (issue 14), from runs already trained.

    python -m playground.tools.screenshots_forward OUTDIR [--run copy-tiny] [--bigram-run grammar-bigram]
        [--char-run grammar-char] [--word-run grammar-word] [--embeddings-run grammar-char]

``python -m playground.tools.screenshots docs/screenshots --all`` trains the runs (its
README_RUNS) and takes these pictures with all the others; this command alone takes them from a
PLAYGROUND_HOME that holds the runs already, under ``xvfb-run -a -s "-screen 0 1280x800x24"``.

Pictures: forward-math.png (residual add, LayerNorm, MLP and GELU), forward-logits.png (final
LayerNorm, logits, softmax, loss), logit-lens.png, switch-off.png, embeddings-neighbours.png,
bigram-table.png, positions.png (the Model tab's "Compare positions…" window), tokens-warning.png
and bits-per-char.png (the Train tab's overlay of a character and a word run).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playground.tools.screenshots import _save, _wait, open_run, open_window

# A copy-lessons line copied twice: from its second copy on, every letter can be read off the
# first one (the induction heads' work), so the numbers at a copied letter are worth showing.
COPY_TEXT = "mugsyhsvora|mugsyhsvora|mugsyhsvora\nubdnrnhc|ubdnrnhc|ubdnrnhc\n"  # two validation lines
COPY_QUERY = 14  # the `g` of the second copy: `s` comes next (p 0.1 after the first `g`, 1.0 here)
EMBED_TOKENS = ("a", "e", "i", "o", "s", "t")  # the nearest tokens of the first; all in the matrix


def _crop(column, first, last, path: Path) -> Path:
    """Save the part of ``column`` from the top of widget ``first`` to the bottom of ``last``."""
    from PySide6.QtCore import QPoint, QRect

    top = first.mapTo(column, QPoint(0, 0)).y()
    bottom = last.mapTo(column, QPoint(0, last.height())).y()
    return _save(_Crop(column, QRect(0, top, column.width(), bottom - top)), path)


class _Crop:
    """What ``_save`` needs of a widget (``grab()``), for one rectangle of it."""

    def __init__(self, widget, rect) -> None:
        self.widget, self.rect = widget, rect

    def grab(self):
        return self.widget.grab(self.rect)


def take_forward(outdir: Path, run: str = "copy-tiny", size: tuple[int, int] = (1280, 800),
                 text: str = COPY_TEXT, query: int = COPY_QUERY, layer: int = 1,
                 embeddings_run: str | None = None) -> list[Path]:
    """The Attention tab's new views on ``run`` at token ``query`` of ``text``: forward-math.png
    and forward-logits.png (crops of "The math" for block ``layer``, 0-based), logit-lens.png,
    switch-off.png (the first previous-token head switched off, "Which heads matter?" filled) and
    embeddings-neighbours.png (of ``embeddings_run`` when given)."""
    app, window = open_window(size)
    open_run(app, window, run)
    window.show_tab("Attention")
    tab = window.tabs.currentWidget()

    def ready() -> bool:
        return tab.run is not None and not tab.busy and tab.shown_key == tab.current_key()

    _wait(app, ready)
    tab.set_text(text)
    tab.select_head(layer, 0)
    tab.query = query
    outdir.mkdir(parents=True, exist_ok=True)
    shots = []

    tab.views.setCurrentIndex(tab.view_names.index("The math"))
    _wait(app, ready, settle_ms=300)
    tab._query_picked(query)  # as a click on the token does: every view shows it
    column = tab.math_view.widget()
    column.grab()  # plots scrolled out of sight size their axes on their first paint
    _wait(app, lambda: True, settle_ms=300)
    fwd = tab.math_view.forward
    shots.append(_crop(column, fwd.step_residual, fwd.step_mlp, outdir / "forward-math.png"))
    shots.append(_crop(column, fwd.step_final, fwd.step_loss, outdir / "forward-logits.png"))

    tab.views.setCurrentIndex(tab.view_names.index("Logit lens"))
    _wait(app, ready, settle_ms=300)
    tab.lens_view.set_position(query)
    _wait(app, lambda: True, settle_ms=200)
    shots.append(_save(window, outdir / "logit-lens.png"))

    tab.views.setCurrentIndex(tab.view_names.index("Switch off"))
    window.resize(size[0], size[1] + 200)  # room for every row of the "Which heads matter?" table
    view = tab.ablation_view
    _wait(app, lambda: ready() and view.shape is not None and not view.busy and view.result is not None)
    cap = tab.captures.get(tab.current_key())
    previous = [(lay, h) for lay, heads in enumerate(cap.head_labels)
                for h, (name, _score) in enumerate(heads) if name == "previous-token"]
    from playground.core import ablation as ab

    if previous:
        view.set_ablation(ab.Ablation(heads=frozenset(previous[:1]), mlps=frozenset(), positions=False))
    else:
        print("No head is labelled previous-token: switching off head 1 of layer 1.")
        view.set_ablation(ab.Ablation(heads=frozenset({(0, 0)}), mlps=frozenset(), positions=False))
    _wait(app, lambda: not view.busy and view.shown_key == view.current_key(), timeout=300)
    view.find_important_heads()
    _wait(app, lambda: not view.busy and view.importance is not None, timeout=600, settle_ms=300)
    shots.append(_save(window, outdir / "switch-off.png"))

    window.resize(*size)
    if embeddings_run is not None:
        open_run(app, window, embeddings_run)
        _wait(app, lambda: tab.run is not None and tab.run.name == embeddings_run and not tab.busy)
        tab.random_excerpt()  # the copy text may hold characters this run's tokenizer lacks
    tab.views.setCurrentIndex(tab.view_names.index("Embeddings"))
    emb = tab.embed_view
    _wait(app, lambda: ready() and emb.table is not None and emb.source == tab.current_key()[:2])
    chosen = [emb.labels.index(t) for t in EMBED_TOKENS if t in emb.labels]
    for token in reversed(chosen):  # the first token's neighbours are listed, all are compared
        emb.select_token(token)
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "embeddings-neighbours.png"))
    window.close()
    return shots


def take_bigram(outdir: Path, run: str = "grammar-bigram", size: tuple[int, int] = (1280, 800)) -> Path:
    """bigram-table.png: the Attention tab's Embeddings view of a bigram run (its next-token table)."""
    app, window = open_window(size)
    open_run(app, window, run)
    window.show_tab("Attention")
    tab = window.tabs.currentWidget()
    emb = tab.embed_view
    _wait(app, lambda: tab.run is not None and not tab.busy and tab.shown_key == tab.current_key()
          and emb.table is not None and emb.table.bigram is not None, settle_ms=300)
    outdir.mkdir(parents=True, exist_ok=True)
    shot = _save(window, outdir / "bigram-table.png")
    window.close()
    return shot


def take_positions(outdir: Path, corpus: str = "builtin:grammar-lessons",
                   size: tuple[int, int] = (1280, 800)) -> Path:
    """positions.png: the Model tab's "Compare positions…" window after its experiment on ``corpus``
    (character tokens)."""
    app, window = open_window(size)
    if window.state.corpus.source != corpus:
        window.corpus_tab.load_spec(corpus)
        _wait(app, lambda: window.state.corpus.source == corpus and not window.corpus_tab.busy
              and not window.tokenizer_tab.busy)
    window.tokenizer_tab.select_kind("char")
    _wait(app, lambda: getattr(window.state.tokenizer, "kind", None) == "char")
    window.show_tab("Model")
    tab = window.tabs.currentWidget()
    tab.positions_button.click()
    dialog = tab.positions_dialog
    _wait(app, lambda: dialog.result is not None and not dialog.busy, timeout=600, settle_ms=500)
    outdir.mkdir(parents=True, exist_ok=True)
    shot = _save(dialog, outdir / "positions.png")
    dialog.close()
    window.close()
    return shot


def take_bits(outdir: Path, char_run: str = "grammar-char", word_run: str = "grammar-word",
              size: tuple[int, int] = (1280, 800)) -> list[Path]:
    """tokens-warning.png (per token, with the different-tokenizers warning) and bits-per-char.png:
    the Train tab's overlay of a character run and a word run of the same text."""
    app, window = open_window(size)
    open_run(app, window, char_run)
    window.show_tab("Train")
    tab = window.tabs.currentWidget()
    plot = tab.ensure_plot()
    from playground.core.checkpoint import Run

    tab.runs_list.open_run(Run.open(char_run))  # its own curves fill the learning-rate and speed plots
    tab.runs_list.set_checked(word_run)
    _wait(app, lambda: plot.live_chars_per_token is not None and len(plot.steps.xs) > 0
          and all(o.chars_per_token is not None for o in plot.overlay_runs)
          and not plot.units_note.isHidden(), timeout=300, settle_ms=300)
    outdir.mkdir(parents=True, exist_ok=True)
    shots = [_save(window, outdir / "tokens-warning.png")]
    plot.units_note.linkActivated.emit("bpc")  # the warning's "Show bits per character"
    _wait(app, lambda: plot.bpc, settle_ms=300)
    shots.append(_save(window, outdir / "bits-per-char.png"))
    window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.tools.screenshots_forward",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--run", default="copy-tiny", help="a Tiny copy-lessons run (character tokens)")
    parser.add_argument("--embeddings-run", default="grammar-char",
                        help="the run whose embeddings are shown (prose shows letter groups best)")
    parser.add_argument("--bigram-run", default="grammar-bigram")
    parser.add_argument("--char-run", default="grammar-char")
    parser.add_argument("--word-run", default="grammar-word")
    parser.add_argument("--only", choices=["forward", "bigram", "positions", "bits"], action="append",
                        help="take only these pictures (may be repeated)")
    parser.add_argument("--size", default="1280x800", help="window size WxH (default 1280x800)")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if "PLAYGROUND_HOME" not in os.environ:
        raise SystemExit("Set PLAYGROUND_HOME to the folder that holds the runs (see --help).")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    only = set(args.only or ["forward", "bigram", "positions", "bits"])
    if "forward" in only:
        take_forward(args.outdir, args.run, size, embeddings_run=args.embeddings_run)
    if "bits" in only:
        take_bits(args.outdir, args.char_run, args.word_run, size)
    if "positions" in only:
        take_positions(args.outdir, size=size)
    if "bigram" in only:  # last: a bigram's Embeddings view widens the window the next one restores
        take_bigram(args.outdir, args.bigram_run, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
