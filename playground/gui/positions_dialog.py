""""Why positions matter": the Model tab's built-in experiment, in its own (non-modal) window.

    dialog = PositionsDialog(state, parent=model_tab)
    dialog.open_and_run()      # show; train unless it already holds a result for this corpus/tokenizer

Three one-layer models, with learned, sinusoidal and no positions, train on the current corpus
and tokenizer (``core.positions_experiment.compare``: same seed, same batches); their validation
losses are overlaid, and a sentence from the validation text and its word-shuffle are scored by
each. The training runs in a child process (``child_jobs.positions_experiment`` through
``run_in_child``, driven by a worker thread): the window's process never trains. Cancel, or
closing the window, ends the child.
"""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from playground.core import activity
from playground.core.positions_experiment import PositionsResult, ShuffleScore
from playground.errors import Cancelled
from playground.gui import child_jobs, ui, workers
from playground.gui.widgets.plots import pyqtgraph

# Steps per model. Measured through this dialog on 2 cores (characters, child start included):
# 14 s on grammar-lessons, 10 s on counting and python-docs; twice that on a busy machine. 200
# steps already separate the order-blind model clearly (val loss 1.56 vs 1.27-1.29).
DEFAULT_ITERS = 200
# The experiment needs some text, not all of it: encoding a 50 MB corpus (and sending it to the
# child) would cost more than the training. The first characters are used.
MAX_CHARS = 2_000_000
BIG_VOCAB = 5_000  # above this the models are mostly embedding tables: say it will be slower

TITLES = {"learned": "learned positions", "sinusoidal": "sinusoidal positions",
          "none": "no positions (order-blind)"}
COLORS = {"learned": "#0072B2", "sinusoidal": "#009E73", "none": "#D55E00"}  # Okabe-Ito: colour-blind safe
EXPLANATION = ("Without positions, attention adds up the earlier tokens as a bag: in a one-layer "
               "model the bag is the same after the shuffle, so the prediction for the last token is "
               "the same too (up to rounding in the computer's last digits). With positions the order "
               "reaches the prediction, and a shuffle changes it: a lot or a little, depending on "
               "what the model has learned to use.")


def change_text(before: float, after: float) -> str:
    """How a probability moved when the words were shuffled, in words.

    "The same" allows float32 rounding only (measured: ~1e-7 relative for the order-blind model,
    where the sums merely run in another order). That is stricter than the CLI summary's 1e-4
    because this column shows how big a real change is, and a sinusoidal model's can be
    under 0.01% (measured on the counting built-in).
    """
    if math.isclose(before, after, rel_tol=1e-5, abs_tol=1e-9):
        return "the same"
    if before <= 0:
        return f"{after - before:+.2g}"
    return f"{100 * (after - before) / before:+.2g}%"  # "+7.4%", "-0.0031%": two digits that count


def result_from_child(data: dict) -> PositionsResult:
    """``child_jobs.positions_experiment``'s plain answer as the core's result (without models)."""
    curves = {k: [(int(s), float(v)) for s, v in points] for k, points in data["curves"].items()}
    return PositionsResult(curves=curves, shuffles=[ShuffleScore(**s) for s in data["shuffles"]])


class PositionsDialog(QDialog):
    def __init__(self, state, parent: QWidget | None = None, iters: int = DEFAULT_ITERS) -> None:
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Why positions matter")
        self.setModal(False)
        self.resize(820, 720)
        self.result: PositionsResult | None = None
        self._source: tuple[Any, Any] | None = None  # (corpus, tokenizer) of the result or the job
        self._job: workers.WorkerHandle | None = None
        self._iters_of_job = iters
        self._build(iters)

    # ================================================================== UI
    def _build(self, iters: int) -> None:
        pg = pyqtgraph()
        col = QVBoxLayout(self)
        intro = QLabel(
            "Three small one-layer models learn your text with the same seed and the same batches; "
            "they differ only in how they know the order of tokens: a learned vector per position, "
            "a fixed pattern of sine waves, or nothing at all.")
        intro.setWordWrap(True)
        col.addWidget(intro)

        row = QHBoxLayout()
        row.addWidget(QLabel("Steps per model:"))
        self.iters_spin = QSpinBox()
        self.iters_spin.setRange(10, 5000)
        self.iters_spin.setSingleStep(50)
        self.iters_spin.setValue(iters)
        self.iters_spin.setToolTip(f"Training steps for each of the three models ({DEFAULT_ITERS} take "
                                   "about half a minute on a laptop's processor)")
        row.addWidget(self.iters_spin)
        self.run_button = QPushButton("Run again")
        self.run_button.setToolTip("Train the three models again on the current corpus and tokenizer")
        self.run_button.clicked.connect(self.run)
        row.addWidget(self.run_button)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m steps")
        self.progress.setToolTip("Training steps done, all three models together")
        self.progress.hide()
        row.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the experiment")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        row.addWidget(self.cancel_button)
        row.addStretch(0)
        col.addLayout(row)
        self.message = ui.MessageLabel()
        col.addWidget(self.message)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(260)
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "step")
        item.setLabel("left", "validation loss (nats per token)")
        item.setMenuEnabled(False)
        self.legend = item.addLegend(offset=(-10, 10))
        self.curves = {k: self.plot.plot([], [], name=title, pen=pg.mkPen(COLORS[k], width=2),
                                         symbol="o", symbolSize=5, symbolBrush=COLORS[k], symbolPen=None)
                       for k, title in TITLES.items()}
        col.addWidget(self.plot, 1)

        self.losses_label = QLabel()
        self.losses_label.setWordWrap(True)
        self.losses_label.setTextFormat(Qt.RichText)
        col.addWidget(self.losses_label)
        self.shuffle_label = QLabel()
        self.shuffle_label.setWordWrap(True)
        self.shuffle_label.setTextFormat(Qt.RichText)
        self.shuffle_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        col.addWidget(self.shuffle_label)

    # ================================================================== running
    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.running

    def open_and_run(self) -> None:
        """Show the window; train unless its result already belongs to the current corpus and tokenizer."""
        self.show()
        self.raise_()
        self.activateWindow()
        if not self.busy and (self.result is None or self._source != self._current()):
            self.run()

    def _current(self) -> tuple[Any, Any]:
        return self.state.corpus, self.state.tokenizer

    @Slot()
    def run(self) -> None:
        """Train the three models on the current corpus and tokenizer, in a child process."""
        if self.busy:
            return
        corpus, tokenizer = self._current()
        if corpus is None or tokenizer is None:
            self.message.show_text("Choose a corpus and a tokenizer first: the models learn from them.",
                                   ui.WARNING)
            return
        text, iters = corpus.preview(MAX_CHARS), self.iters_spin.value()
        tokenizer_json = tokenizer.to_json()

        def work(progress, cancel):
            return child_jobs.run_in_child(child_jobs.positions_experiment, text, tokenizer_json, iters,
                                           progress=progress, cancel=cancel)

        self._source, self._iters_of_job, self.result = (corpus, tokenizer), iters, None
        for curve in self.curves.values():
            curve.setData([], [])
        self.losses_label.clear()
        self.shuffle_label.clear()
        note = f"Training on {corpus.name} with {tokenizer.describe()}"
        if corpus.chars > MAX_CHARS:
            note += f" (its first {MAX_CHARS:,} characters)"
        if tokenizer.vocab_size > BIG_VOCAB:
            note += (f". With {tokenizer.vocab_size:,} tokens the models are mostly embedding tables: "
                     "this takes longer than with characters")
        self.message.show_text(note + "…", ui.NOTE)
        self.progress.setRange(0, 0)  # busy until the child has started torch and reports a step
        self.progress.show()
        self.cancel_button.show()
        self.run_button.setEnabled(False)
        self._job = workers.start(work, parent=self, name="positions-experiment", on_done=self._finished,
                                  on_error=self._failed, on_progress=self._progress)

    @Slot()
    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _idle(self) -> None:
        self._job = None
        self.progress.hide()
        self.cancel_button.hide()
        self.run_button.setEnabled(True)

    def _failed(self, exc: BaseException) -> None:
        self._idle()
        if isinstance(exc, Cancelled):
            self.message.show_text("Cancelled: press Run again to train the three models.", ui.NOTE)
        else:
            self.message.show_error(exc)

    def _finished(self, data: dict) -> None:
        self._idle()
        self.message.clear_message()
        self.show_result(result_from_child(data))

    # ================================================================== the result
    def show_result(self, result: PositionsResult) -> None:
        self.result = result
        for positional, curve in self.curves.items():
            points = result.curves.get(positional, [])
            curve.setData([s for s, _ in points], [v for _, v in points])
        self.plot.getPlotItem().enableAutoRange()
        finals = {k: points[-1][1] for k, points in result.curves.items() if points}
        if finals:
            parts = ", ".join(f"{TITLES[k]} <b>{v:.3f}</b>" for k, v in finals.items())
            self.losses_label.setText(
                f"Validation loss after {self._iters_of_job:,} steps (lower is better): {parts}.")
        self.shuffle_label.setText(self._shuffle_html(result.shuffles))
        activity.record(activity.POSITIONS_COMPARED, corpus=self._source[0].name if self._source else None,
                        positionals=list(result.curves), p_last=[round(s.p_last, 6) for s in result.shuffles],
                        p_last_shuffled=[round(s.p_last_shuffled, 6) for s in result.shuffles])

    def _shuffle_html(self, shuffles: list[ShuffleScore]) -> str:
        if not shuffles:
            return ""
        first = shuffles[0]
        tokenizer = self._source[1] if self._source else None
        last = "the last token"
        if tokenizer is not None:
            ids = tokenizer.encode(first.original)
            if ids:
                last = f"the last token <b>{html.escape(repr(tokenizer.decode(ids[-1:])))}</b>"
        rows = "".join(
            f"<tr><td>{TITLES.get(s.positional, s.positional)}</td>"
            f"<td align='right'>{s.p_last:.4f}</td><td align='right'>{s.p_last_shuffled:.4f}</td>"
            f"<td>{change_text(s.p_last, s.p_last_shuffled)}</td></tr>"
            for s in shuffles)
        return (f"<p><b>A sentence from the validation text:</b> {html.escape(first.original)}<br>"
                f"<b>Its words shuffled</b> (the last one stays last): {html.escape(first.shuffled)}</p>"
                f"<p>How likely each model finds {last} after the text before it:</p>"
                "<table cellspacing='0' cellpadding='3'><tr><th align='left'>model</th><th>in order</th>"
                f"<th>shuffled</th><th align='left'>change</th></tr>{rows}</table>"
                f"<p>{EXPLANATION}</p>")

    # ================================================================== closing
    def reject(self) -> None:
        """Closing the window (its close button, Esc: QDialog routes both here) ends the child:
        nobody watches a closed experiment. Run again starts anew."""
        self.cancel()
        super().reject()
