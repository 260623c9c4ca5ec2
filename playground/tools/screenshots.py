"""Render the app's windows with realistic content to PNG files (the README's pictures).

    python -m playground.tools.screenshots docs/screenshots --all    # every README picture
    python -m playground.tools.screenshots OUTDIR [--corpus SPEC] [--vocab 300] [--size 1280x800]

``--all`` trains the runs the pictures show (README_RUNS, with the command line) and takes every
picture from a real window; without it, only the Corpus, Tokenizer and Model tabs, which need no
trained run. Run it under an X server to see what a student sees::

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python -m playground.tools.screenshots docs/screenshots --all

(offscreen works too). It uses a fresh, temporary PLAYGROUND_HOME unless one is set or ``--home``
is given, so your own settings and runs are neither used nor changed. The forward-pass,
encoder–decoder and lessons pictures are in screenshots_forward.py, screenshots_seq2seq.py and
screenshots_lessons.py, which ``--all`` runs too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _wait(app, condition: Callable[[], bool], timeout: float = 120.0, settle_ms: int = 0) -> None:
    """Run the event loop until ``condition()`` holds (then ``settle_ms`` more)."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get ready in time")
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()
    if settle_ms:
        loop = QEventLoop()
        QTimer.singleShot(settle_ms, loop.quit)
        loop.exec()


def _save(widget, path: Path, max_kb: int = 300) -> Path:
    image = widget.grab().toImage()
    image.save(str(path), "PNG")
    if path.stat().st_size > max_kb * 1024:  # keep README images small: fewer colours
        from PySide6.QtCore import Qt

        small = image.convertToFormat(image.Format.Format_Indexed8, Qt.ThresholdDither)
        small.save(str(path), "PNG")
    print(f"{path}  ({path.stat().st_size / 1024:.0f} KB)")
    return path


def open_window(size: tuple[int, int], ready: str = "corpus"):
    """(app, window): the app's main window at ``size``, shown, once its first corpus has loaded
    (``ready="tokenizer"``: and its tokenizer too)."""
    from PySide6.QtWidgets import QApplication

    from playground.gui.app import MainWindow, app_icon

    app = QApplication.instance() or QApplication(["playground-screenshots"])
    app.setWindowIcon(app_icon())
    window = MainWindow()
    window.resize(*size)
    window.show()
    _wait(app, lambda: window.state.corpus is not None and not window.corpus_tab.busy
          and not window.tokenizer_tab.busy and (ready != "tokenizer" or window.state.tokenizer is not None))
    return app, window


def open_run(app, window, name: str) -> None:
    """Make run ``name`` the app's current run, with its own built-in corpus loaded."""
    from playground.core.checkpoint import Run

    run = Run.open(name)
    source = run.corpus_record.get("source", "")
    if source.startswith("builtin:") and window.state.corpus.source != source:
        window.corpus_tab.load_spec(source)  # the status bar then names the run's own corpus
        _wait(app, lambda: window.state.corpus.source == source and not window.corpus_tab.busy
              and not window.tokenizer_tab.busy)
    window.state.set_run(run)


def take(outdir: Path, corpus: str | None, vocab: int, size: tuple[int, int]) -> list[Path]:
    from PySide6.QtCore import Qt

    app, window = open_window(size)
    corpus_tab, tok_tab = window.corpus_tab, window.tokenizer_tab

    def idle() -> bool:
        return (not corpus_tab.busy and not tok_tab.busy and window.state.corpus is not None
                and window.state.tokenizer is not None)

    _wait(app, idle)
    if corpus:
        corpus_tab.load_spec(corpus)
        _wait(app, lambda: corpus_tab.busy)  # started
        _wait(app, idle)
    tok_tab.bpe_spin.setValue(vocab)
    tok_tab.train_bpe()
    _wait(app, lambda: idle() and tok_tab.tokenizer is not None and tok_tab.kind == "bpe")
    _wait(app, lambda: "cl100k" in tok_tab.tokenizers and tok_tab.vocab.model.has_counts
          and window.device_handle is not None and not window.device_handle.running)
    tok_tab.reset_sample()  # the default: the start of the corpus

    outdir.mkdir(parents=True, exist_ok=True)
    shots = []
    window.show_tab("Corpus")
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "corpus.png"))

    window.show_tab("Tokenizer")
    tok_tab.inner_tabs.setCurrentIndex(0)
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "tokenizer.png"))

    tok_tab.inner_tabs.setCurrentIndex(1)
    n = min(24, tok_tab.merges.slider.maximum())
    tok_tab.merges.slider.setValue(n)
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "tokenizer-merges.png"))

    tok_tab.inner_tabs.setCurrentIndex(2)
    tok_tab.vocab.view.sortByColumn(2, Qt.DescendingOrder)
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "tokenizer-vocabulary.png"))
    tok_tab.inner_tabs.setCurrentIndex(0)
    # The later tabs are pictured with trained runs (take_all), not empty.
    shots.append(model_shot(app, window, outdir))
    window.show_tab("Corpus")
    window.close()
    return shots


def model_shot(app, window, outdir: Path) -> Path:
    """The Model tab: Small preset on a character tokenizer, a measured step time, and the
    diagram's tooltip for the first attention box (painted in: tooltips are separate windows)."""
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QToolTip

    window.tokenizer_tab.select_kind("char")
    _wait(app, lambda: getattr(window.state.tokenizer, "kind", None) == "char")
    window.show_tab("Model")
    tab = next(t for t in window.tab_widgets if t.TITLE == "Model")
    _wait(app, lambda: tab.ready and not tab.busy)
    tab.select_preset("small")
    tab.measure()
    _wait(app, lambda: not tab.busy, timeout=600)
    view = tab.diagram
    box = view.box("attention", 0)
    where = view.viewport().mapToGlobal(view.mapFromScene(box.sceneBoundingRect().center()))
    QToolTip.showText(where, box.toolTip(), view.viewport())
    _wait(app, lambda: True, settle_ms=500)
    image = window.grab().toImage()
    tips = [w for w in app.topLevelWidgets()
            if w.isVisible() and w.metaObject().className() == "QTipLabel"]
    if tips:
        painter = QPainter(image)
        painter.drawPixmap(window.mapFromGlobal(tips[0].pos()), tips[0].grab())
        painter.end()
    QToolTip.hideText()
    path = outdir / "model.png"
    image.save(str(path), "PNG")
    if path.stat().st_size > 300 * 1024:
        from PySide6.QtCore import Qt

        image.convertToFormat(image.Format.Format_Indexed8, Qt.ThresholdDither).save(str(path), "PNG")
    print(f"{path}  ({path.stat().st_size / 1024:.0f} KB)")
    return path


def take_attention(outdir: Path, run: str = "latest", size: tuple[int, int] = (1280, 800),
                   text: str | None = None, head: tuple[int, int] | None = None, query: int | None = None,
                   step: int | None = None, embeddings_run: str | None = None) -> list[Path]:
    """The Attention tab's README pictures, from a run already trained in PLAYGROUND_HOME:
    attention-grid.png, attention-large.png, attention-math.png (the whole step-by-step column)
    and embeddings.png (of ``embeddings_run`` when given: prose shows letter groups best).
    ``head`` is (layer, head), 0-based (default: the first head labelled induction on ``text``);
    ``query`` a token position. ``take_all`` passes the README's choices."""
    app, window = open_window(size)
    window.show_tab("Attention")
    tab = window.tabs.currentWidget()

    def ready() -> bool:
        return tab.run is not None and not tab.busy and tab.shown_key == tab.current_key()

    open_run(app, window, run)
    _wait(app, ready)
    if step is not None:
        tab.set_step(step)
    if text is not None:
        tab.set_text(text)
    if head is None:  # which head learns induction depends on the run: take the one labelled so
        _wait(app, ready)
        labels = tab.captures.get(tab.current_key()).head_labels
        found = [(lay, h) for lay, heads in enumerate(labels) for h, (name, _score) in enumerate(heads)
                 if name == "induction"]
        head = found[0] if found else (1, 0)
    tab.select_head(*head)
    if query is not None:
        tab.query = query
    outdir.mkdir(parents=True, exist_ok=True)
    shots = []
    for index, name in ((0, "attention-grid.png"), (1, "attention-large.png"), (3, None), (5, "embeddings.png")):
        if index == 5 and embeddings_run is not None:
            open_run(app, window, embeddings_run)
            _wait(app, ready)
        tab.views.setCurrentIndex(index)
        if index == 1:
            tab.select_head(*head)
        _wait(app, ready, settle_ms=300)
        if index == 1:  # a hover sentence, as a student sees it: the strongest cell of the query row
            view = tab.head_view
            row = query if query is not None else len(tab.ids) - 1
            col = int(view.data[row][: row + 1].argmax())
            from PySide6.QtCore import QPointF

            view._mouse_moved(view.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5)))
            view.set_query(row)
        if name is None:
            if query is not None:
                tab.math_view.set_query(query)
            column = tab.math_view.widget()
            column.grab()
            _wait(app, lambda: True, settle_ms=200)
            shots.append(_save(column, outdir / "attention-math.png"))
        else:
            shots.append(_save(window, outdir / name))
    window.close()
    return shots


def take_generate(outdir: Path, size: tuple[int, int] = (1280, 800), prompt: str = "The small fox ",
                  run: str | None = None) -> list[Path]:
    """generate.png, generate-step.png and score.png of the Generate tab, with ``run`` (default:
    the newest run of PLAYGROUND_HOME; the README's is ``playground train --corpus
    builtin:grammar-lessons --preset small --iters 600``)."""
    from playground.core import checkpoint

    runs = checkpoint.list_runs()
    if not runs:
        raise SystemExit("No run in PLAYGROUND_HOME: train a model first.")
    app, window = open_window(size, ready="tokenizer")
    if run is not None:
        open_run(app, window, run)
    else:
        window.state.set_run(runs[0])
    the_run = window.state.run
    window.show_tab("Generate")
    tab = window.tabs.currentWidget()
    _wait(app, lambda: tab.cached_model(the_run) is not None and not tab.busy)
    outdir.mkdir(parents=True, exist_ok=True)
    shots = []

    # Streaming text shaded by probability; the chart shows the least certain choice.
    write, text = tab.write_page, tab.write_page.session
    write.prompt.setPlainText(prompt)
    tab.form.temperature.setValue(0.8)
    tab.form.top_k.setValue(8)
    tab.form.seed.setValue(7)
    tab.form.max_tokens.setValue(180)
    write.generate()
    _wait(app, lambda: not tab.busy, settle_ms=100)
    unsure = min(range(len(text.steps)), key=lambda k: text.steps[k].alternatives[0][2])
    write._token_clicked(text.n_prompt + unsure)
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "generate.png"))

    # Step mode: one token at a time; at an uncertain choice a bar is clicked (the student
    # picks the token), then on to the next uncertain choice.
    write.clear_output()
    tab.form.temperature.setValue(1.0)
    tab.form.top_k.setValue(0)
    write.prompt.setPlainText("Anna sees ")

    def step_until_unsure(least: int) -> None:
        for _ in range(24):
            write.next_token()
            _wait(app, lambda: not tab.busy)
            if len(text.steps) >= least and text.proposal.alternatives[0][2] < 0.6:
                return

    step_until_unsure(1)
    write._bar_clicked(text.proposal.alternatives[1][0])
    _wait(app, lambda: not tab.busy)
    step_until_unsure(len(text.steps) + 2)
    _wait(app, lambda: True, settle_ms=300)
    shots.append(_save(window, outdir / "generate-step.png"))

    # Score a text: an excerpt of the training text next to one of the validation text.
    tab.pages.setCurrentIndex(1)
    tab.score_page.score_edit.setPlainText("Tom sees the red fox. The foxes that sing like Anna.")
    tab.score_page.score_train_vs_val()
    _wait(app, lambda: not tab.busy, settle_ms=300)
    shots.append(_save(window, outdir / "score.png"))
    tab.pages.setCurrentIndex(0)
    window.close()
    return shots


def take_train(outdir: Path, size: tuple[int, int] = (1280, 800), iters: int = 2000,
               at_step: int = 700) -> Path:
    """The Train tab mid-training (Tiny preset, default corpus), crosshair on a step; then stops."""
    from PySide6.QtCore import QPointF

    app, window = open_window(size, ready="tokenizer")
    window.show_tab("Train")
    tab = window.tabs.currentWidget()
    tab.set_train_values(iters=iters, eval_interval=100, batch_size=16, warmup=100)
    tab.start_training()
    _wait(app, lambda: tab.current_step >= at_step and bool(tab.sample_text.toPlainText()), timeout=900,
          settle_ms=300)
    plot = tab.loss_plot
    x = int(tab.current_step * 0.55)
    vb = plot.loss.getPlotItem().vb
    plot._mouse_moved((vb.mapViewToScene(QPointF(x, float(plot.steps.ys[x - 1]))),))
    _wait(app, lambda: True, settle_ms=200)
    shot = _save(window, outdir / "train.png")
    tab.stop_training()
    _wait(app, lambda: not tab.busy, timeout=120)
    window.close()
    return shot


# The runs the README's pictures show: name -> `playground train` options (take_all trains the
# missing ones; about 10 minutes on two cores).
README_RUNS = {
    "copy-tiny": "--corpus builtin:copy-lessons --tokenizer char --preset tiny",
    "python-docs-tiny": "--corpus builtin:python-docs --tokenizer char --preset tiny",
    "grammar-small": "--corpus builtin:grammar-lessons --tokenizer char --preset small --iters 600",
    "grammar-bigram": "--corpus builtin:grammar-lessons --tokenizer char --preset bigram --iters 500",
    "grammar-char": "--corpus builtin:grammar-lessons --tokenizer char --preset tiny --iters 600",
    "grammar-word": "--corpus builtin:grammar-lessons --tokenizer word --preset tiny --iters 300",
    "robot": "--arch encoder-decoder --corpus builtin:robot-language --tokenizer char --iters 700",
}
# A copy-lessons line written twice and the start of another: from the second copy on, the
# induction head looks at the letter after the earlier occurrence (query 27: in the second copy).
ATTENTION_TEXT = "xzpigselifddhsv|xzpigselifddhsv\ncblwtavd"
ATTENTION_QUERY = 27


QUICK_TRAIN = ["--iters", "40", "--eval-interval", "20"]  # --quick: the command checked, not the pictures


def train_readme_runs(extra: list[str] | None = None) -> None:
    """Train (with the command line, in PLAYGROUND_HOME) each README run that is not there yet;
    ``extra`` options go last, so they win over the run's own."""
    import shlex
    import subprocess

    from playground.core import checkpoint

    have = {run.name for run in checkpoint.list_runs()}
    for name, options in README_RUNS.items():
        if name not in have:
            print(f"training {name}: playground train {options}", flush=True)
            subprocess.run([sys.executable, "-m", "playground", "train", *shlex.split(options),
                            "--name", name, "--quiet", *(extra or [])], check=True)


def take_all(outdir: Path, size: tuple[int, int] = (1280, 800), quick: bool = False) -> list[Path]:
    """Every picture of the README, from real windows, after training the runs they show.
    ``quick``: every run trained 40 steps only, to check the command in a few minutes."""
    from playground.tools import screenshots_forward as fwd
    from playground.tools import screenshots_lessons, screenshots_seq2seq

    train_readme_runs(QUICK_TRAIN if quick else None)
    shots = take(outdir, None, 300, size)
    shots.append(take_train(outdir, size, iters=60, at_step=30) if quick else take_train(outdir, size))
    shots += take_attention(outdir, "copy-tiny", size, text=ATTENTION_TEXT, query=ATTENTION_QUERY,
                            embeddings_run="python-docs-tiny")
    shots += take_generate(outdir, size, run="grammar-small")
    shots += fwd.take_forward(outdir, "copy-tiny", size, embeddings_run="grammar-char")
    shots += fwd.take_bits(outdir, "grammar-char", "grammar-word", size)
    shots.append(fwd.take_positions(outdir, size=size))
    shots += screenshots_seq2seq.take(outdir, "robot", size)
    shots += screenshots_lessons.take(outdir, size)
    shots.append(fwd.take_bigram(outdir, "grammar-bigram", size))  # last: it widens the window
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.tools.screenshots",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--all", action="store_true",
                        help="every README picture: trains the runs they show first (about 20 minutes)")
    parser.add_argument("--quick", action="store_true",
                        help="with --all: train each run 40 steps only (checks the command, not for the README)")
    parser.add_argument("--home", type=Path,
                        help="with --all: keep the trained runs in this PLAYGROUND_HOME and reuse them next time")
    parser.add_argument("--corpus", help="builtin:NAME or a path (default: the app's default)")
    parser.add_argument("--vocab", type=int, default=300, help="BPE vocabulary size (default 300)")
    parser.add_argument("--size", default="1280x800", help="window size WxH (default 1280x800)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as home:
        # Your own settings and runs are neither used nor changed: a fresh home unless one is given.
        if args.home is not None:
            args.home.mkdir(parents=True, exist_ok=True)
            os.environ["PLAYGROUND_HOME"] = str(args.home.resolve())
        os.environ.setdefault("PLAYGROUND_HOME", home)
        if args.all:
            take_all(args.outdir, (width, height), quick=args.quick)
        else:
            take(args.outdir, args.corpus, args.vocab, (width, height))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
