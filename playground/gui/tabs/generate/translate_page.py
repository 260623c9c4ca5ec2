"""The Translate page: type a source sentence and watch an encoder–decoder write its translation.

The encoder reads the source once; the decoder then writes one token at a time
(``core.translate.translation_steps``, KV cache) in a worker, and each token appears as a box
shaded by its probability. The source's boxes above are shaded by where the decoder read while
writing the selected output token (by default the newest): its cross-attention row, averaged over
the last layer's heads. The chart shows the probabilities behind that token, as on the Write page.
"""

from __future__ import annotations

import random
import time
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from playground.errors import PlaygroundError
from playground.gui import ui, workers
from playground.gui.tabs.generate.common import ModelLoader, pct, push_button, quoted
from playground.gui.widgets.generated_text import ScaleLegend, ShadedTokenView


def translate_job(loaded, source: str, cfg) -> Any:
    """Stream ``(TranslationStep, source_row)`` items: the row is the step's cross-attention over the
    source, the last layer's heads averaged (a list of S floats)."""

    def job(progress, cancel) -> dict:
        from playground.core.translate import translation_steps
        from playground.gui.tabs.generate.jobs import OneThread

        started = time.perf_counter()
        n = 0
        with OneThread(loaded.model):
            for step in translation_steps(loaded.model, loaded.tokenizer, source, cfg, stop=cancel,
                                          capture_attention=True):
                row = step.cross_attention[-1].mean(dim=0).tolist()  # (S,) last layer, heads averaged
                step.attention = step.cross_attention = None  # the row is all the page draws
                progress.item((step, row))
                n += 1
        return {"tokens": n, "seconds": time.perf_counter() - started}

    return job


def sources_job(run_path: str) -> Any:
    def job(progress, cancel) -> list[str]:
        from playground.core.seq2seq_views import validation_sources

        return validation_sources(run_path)

    return job


class TranslatePage(QWidget):
    tokensShown = Signal(int)  # output tokens now in the view (tests)

    def __init__(self, form, loader: ModelLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = form
        self.loader = loader
        self.run = None
        self.closed = False
        self.steps: list = []  # TranslationSteps of the current translation
        self.rows: list[list[float]] = []  # per step: its cross-attention over the source
        self.source_ids: list[int] = []
        self.source_labels: list[str] = []
        self.selected: int | None = None  # the output token whose reading is shown (None: the newest)
        self.sources: dict[str, list[str]] = {}
        self.handle: workers.WorkerHandle | None = None
        self._sources_handle: workers.WorkerHandle | None = None
        self._pending = False
        self._stopping = False
        self._chart = None
        self._rng = random.Random()
        self._build()

    # ================================================================== UI
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.source = QPlainTextEdit()
        self.source.setPlaceholderText("Type a source sentence; the model translates it (Ctrl+Enter).")
        self.source.setToolTip("The sentence the encoder reads, whole, before the decoder writes a token.")
        self.source.setFixedHeight(self.fontMetrics().height() * 3 + 12)
        row.addWidget(self.source, 1)
        buttons = QVBoxLayout()
        self.translate_button = push_button("Translate", "Write the translation token by token (Ctrl+Enter)",
                                            self.translate)
        self.translate_button.setDefault(True)
        self.stop_button = push_button("Stop", "Stop writing now (Esc)", self.stop)
        self.stop_button.setEnabled(False)
        self.random_button = push_button("Random validation pair",
                                         "The source of a validation pair: a sentence the model never trained on",
                                         self.random_source)
        for button in (self.translate_button, self.stop_button, self.random_button):
            buttons.addWidget(button)
        row.addLayout(buttons)
        layout.addLayout(row)
        self.error_label = ui.MessageLabel()
        layout.addWidget(self.error_label)

        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.source_title = QLabel("<b>Source</b>: where the decoder reads while writing the selected token")
        lv.addWidget(self.source_title)
        self.source_view = ShadedTokenView()
        self.source_view.placeholder = "The source's tokens appear here, shaded by the cross-attention."
        self.source_view.setMaximumHeight(80)
        self.source_view.tip_provider = self._source_tip
        lv.addWidget(self.source_view)
        self.source_legend = ScaleLegend("0", "most read", "cross-attention (last layer, heads averaged)")
        lv.addWidget(self.source_legend)
        lv.addWidget(QLabel("<b>Translation</b>: each token shaded by its probability; click one to see "
                            "where it read"))
        self.view = ShadedTokenView()
        self.view.placeholder = "The translation appears here token by token. Press Translate (Ctrl+Enter)."
        self.view.tip_provider = self._output_tip
        self.view.tokenClicked.connect(self._token_clicked)
        lv.addWidget(self.view, 1)
        lv.addWidget(ScaleLegend("0%", "100%", "probability of each chosen token"))
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #444;")
        lv.addWidget(self.status)
        split.addWidget(left)
        self.chart_holder = QWidget()
        self.chart_holder.setMinimumWidth(330)
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        split.addWidget(self.chart_holder)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.addWidget(split, 1)

    @property
    def chart(self):
        if self._chart is None:
            from playground.gui.widgets.prob_bars import ProbBars

            self._chart = ProbBars()
            self._chart.empty_text = "Translate a sentence: this chart shows the choices behind each token."
            self._chart.title.setText(self._chart.empty_text)
            self.chart_holder.layout().addWidget(self._chart)
        return self._chart

    # ================================================================== the run
    def set_run(self, run) -> None:
        self.run = run
        if run is not None and not self.source.toPlainText().strip():
            self.random_source()

    @Slot()
    def random_source(self) -> None:
        if self.run is None:
            return
        path = str(self.run.path)
        if path in self.sources:
            self.source.setPlainText(self._rng.choice(self.sources[path]))
            return
        if self._sources_handle is not None and self._sources_handle.running:
            return

        def done(sources: list[str]) -> None:
            self.sources[path] = sources
            if self.run is not None and str(self.run.path) == path:
                self.random_source()

        self._sources_handle = workers.start(sources_job(path), parent=self, on_done=done,
                                             on_error=self.error_label.show_error, name="translate-sources")

    # ================================================================== translating
    @property
    def running(self) -> bool:
        return self._pending or (self.handle is not None and self.handle.running) or \
            (self._sources_handle is not None and self._sources_handle.running)

    @Slot()
    def translate(self) -> None:
        if self.run is None or self._pending or (self.handle is not None and self.handle.running):
            return
        self.error_label.clear_message()
        text = self.source.toPlainText().strip("\n")
        if not text.strip():
            self.error_label.show_text("Type a source sentence for the model to translate.")
            return
        try:
            cfg = self.form.config()
        except PlaygroundError as exc:
            self.error_label.show_error(exc)
            return
        self._pending = True
        self._set_running(True)
        self.status.setText("Loading the model…" if self.loader.cached(self.run.path) is None else "")
        self.loader.with_model(self.run.path, None, lambda loaded: self._start(loaded, text, cfg),
                               self._failed)

    def _start(self, loaded, text: str, cfg) -> None:
        self._pending = False
        if self.closed:
            return
        from playground.core.translate import source_tokens

        try:
            self.source_ids, self.source_labels = source_tokens(loaded.tokenizer, text, loaded.model.config.vocab_size)
        except PlaygroundError as exc:
            self._failed(exc)
            return
        self.steps, self.rows, self.selected = [], [], None
        self._stopping = False
        self._refresh()
        self.status.setText("Translating…")
        self.handle = workers.start(translate_job(loaded, text, cfg), parent=self, on_items=self._on_items,
                                    on_done=self._done, on_error=self._failed, name="translate")

    def _on_items(self, batch: list) -> None:
        if self._stopping:
            return
        for step, row in batch:
            self.steps.append(step)
            self.rows.append(row)
        self._refresh()
        self.tokensShown.emit(len(self.steps))

    def _done(self, result: dict) -> None:
        self._set_running(False)
        n = sum(1 for s in self.steps if not s.done)
        finished = bool(self.steps) and self.steps[-1].done
        seconds = result.get("seconds", 0.0) if isinstance(result, dict) else 0.0
        how = "ended with the end token" if finished else "stopped before the end token"
        self.status.setText(f"Wrote {n} tokens ({how}) in {seconds:.2f} s: "
                            f"{quoted(self.translation())}")
        self._stopping = False
        self._refresh()

    def _failed(self, exc: BaseException) -> None:
        self._pending = False
        self._set_running(False)
        self.status.setText("")
        self.error_label.show_error(exc)

    @Slot()
    def stop(self) -> None:
        if self.handle is not None and self.handle.running:
            self._stopping = True
            self.handle.cancel()

    def _set_running(self, running: bool) -> None:
        self.translate_button.setEnabled(not running)
        self.random_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def translation(self) -> str:
        return "".join(s.text for s in self.steps)

    # ================================================================== showing
    def focus(self) -> int | None:
        """The output token whose reading is shown: the selected one, else the newest."""
        if not self.steps:
            return None
        return self.selected if self.selected is not None else len(self.steps) - 1

    def source_shading(self) -> list[float]:
        """The source boxes' values: the focused token's cross-attention row, scaled so the most
        read source token is 1 (the legend says "most read")."""
        i = self.focus()
        if i is None:
            return []
        row = self.rows[i]
        top = max(row) or 1.0
        return [w / top for w in row]

    def _refresh(self) -> None:
        shading = self.source_shading()
        self.source_view.set_shaded(self.source_ids, self.source_labels,
                                    shading or [None] * len(self.source_ids))
        self.view.set_shaded([s.id for s in self.steps], [s.label for s in self.steps],
                             [s.prob for s in self.steps])
        i = self.focus()
        if i is not None:
            self.view.set_focus_index(i)
        self._show_chart()

    def _show_chart(self) -> None:
        i = self.focus()
        if i is None:
            self.chart.clear()
            return
        step = self.steps[i]
        top = max(range(len(self.rows[i])), key=self.rows[i].__getitem__)
        what = "the end token (the translation is complete)" if step.done else quoted(step.label)
        self.chart.show_step(step.alternatives, step.id,
                             f"<b>Token #{i + 1}</b>: {what} with probability {pct(step.prob)}; it read "
                             f"{quoted(self.source_labels[top])} most ({self.rows[i][top]:.0%}).")

    @Slot(int)
    def _token_clicked(self, index: int) -> None:
        if 0 <= index < len(self.steps):
            self.selected = index
            self._refresh()

    def _source_tip(self, index: int) -> str:
        i = self.focus()
        if i is None or index >= len(self.rows[i]):
            return ""
        return (f"{quoted(self.source_labels[index])}: output token #{i + 1} gives it "
                f"{self.rows[i][index]:.1%} of its cross-attention (last layer, heads averaged)")

    def _output_tip(self, index: int) -> str:
        step = self.steps[index]
        return f"{quoted(step.label)}: probability {pct(step.prob)}. Click to see where it read in the source."
