"""The Write page: type a prompt and watch the model write, token by token.

Generate streams tokens from a worker (``core.generate.stream_tokens``, KV cache) into token
boxes shaded by the probability of each choice; a bar chart shows the next-token distribution
before and after temperature / top-k / top-p. *Next token* writes one token at a time and
shows the choices for the following one; clicking a bar writes that token instead and
generation continues from there. The boxes can instead show the attention of the selected
token in one layer and head. The text itself (tokens, proposal, window start, selection) is a
``core.generation_session.GenerationSession``; this page draws it and drives the workers.
"""

from __future__ import annotations

import html
import os
import time
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core import atomic
from playground.core.generation_session import GenerationSession, Transcript, long_prompt_note, suggest_prompt
from playground.errors import PlaygroundError
from playground.gui import ui, workers
from playground.gui.tabs.generate import jobs
from playground.gui.tabs.generate.common import (
    ALT_TIP_ROWS,
    ModelLoader,
    WritingPage,
    after_typing,
    mark_unknown,
    pct,
    push_button,
    quoted,
)
from playground.gui.tabs.generate.sampling_form import SamplingForm
from playground.gui.widgets.generated_text import ScaleLegend, ShadedTokenView

CHART_INTERVAL_S = 0.1  # while streaming, the chart follows at most ~10 times a second
PROBABILITY, ATTENTION = 0, 1  # what the boxes' colour shows


class WritePage(WritingPage):
    tokensShown = Signal(int)  # written tokens now in the view (benchmark and tests)

    def __init__(self, form: SamplingForm, loader: ModelLoader, transcript: Transcript,
                 parent: QWidget | None = None) -> None:
        super().__init__(form, loader, transcript, parent)
        self.run = None  # the run picked at the top of the tab (set by the tab)
        self.session = GenerationSession()
        self.gen_handle: workers.WorkerHandle | None = None
        self.closed = False  # the window is closing: start nothing new
        self._stopping = False
        self._pending_start = False  # Generate pressed, the model still loading
        self._cancel_start = False  # ... and Stop pressed meanwhile
        self._gen_started = 0.0
        self._first_shown: float | None = None
        self._chart_shown = 0.0
        self._entry = None  # the transcript entry being written
        self._attention_row: tuple[int, list[float]] | None = None
        self._has_attention = False
        self._chart = None
        self._unreadable_error = False  # the error line says the prompt cannot be read
        self._build()

    # ================================================================== UI
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        prompt_row = QHBoxLayout()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type the beginning of a text; the model continues it.")
        self.prompt.setToolTip("The prompt: the text the model continues. Ctrl+Enter generates.")
        self.prompt.setFixedHeight(self.fontMetrics().height() * 4 + 12)
        after_typing(self.prompt, self.mark_unknown)
        prompt_row.addWidget(self.prompt, 1)
        buttons = QGridLayout()
        self.generate_button = push_button(
            "Generate", "Write up to 'max new tokens' tokens after the prompt (Ctrl+Enter)", self.generate)
        self.generate_button.setDefault(True)
        self.stop_button = push_button("Stop", "Stop writing now (Esc)", self.stop)
        self.stop_button.setEnabled(False)
        self.next_button = push_button(
            "Next token ▸",
            "Step mode: write one token, then see the choices for the next one in the chart; "
            "press again to take the model's pick, or click a bar to choose another token "
            "(Ctrl+Shift+Enter)", self.next_token)
        self.clear_button = push_button("Clear", "Empty the output (the prompt stays)", self.clear_output)
        buttons.addWidget(self.generate_button, 0, 0)
        buttons.addWidget(self.stop_button, 0, 1)
        buttons.addWidget(self.next_button, 1, 0)
        buttons.addWidget(self.clear_button, 1, 1)
        prompt_row.addLayout(buttons)
        layout.addLayout(prompt_row)
        self.prompt_note = ui.MessageLabel()
        self.remove_unknown_button = push_button(
            "Remove them", "Delete the characters the model cannot read from the prompt", self.remove_unknown)
        self.remove_unknown_button.hide()
        note_row = QHBoxLayout()
        note_row.addWidget(self.prompt_note, 1)
        note_row.addWidget(self.remove_unknown_button)
        layout.addLayout(note_row)
        self.error_label = ui.MessageLabel()
        layout.addWidget(self.error_label)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(self._build_text_column())
        # The chart (pyqtgraph, ~0.5 s to import) is made when the tab is first shown, not at
        # window start-up.
        self.chart_holder = QWidget()
        self.chart_holder.setMinimumWidth(330)
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        split.addWidget(self.chart_holder)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 440])
        layout.addWidget(split, 1)
        self._update_legend()

    def _build_text_column(self) -> QWidget:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.view = ShadedTokenView()
        self.view.placeholder = ("The prompt and the model's text appear here as token boxes. "
                                 "Press Generate (Ctrl+Enter), or Next token to go step by step.")
        self.view.tip_provider = self._view_tip
        self.view.tokenClicked.connect(self._token_clicked)
        self.view.setToolTip("")
        lv.addWidget(self.view, 1)
        colour_row = QHBoxLayout()
        self.colour_by = QComboBox()
        self.colour_by.addItems(["probability of each chosen token", "attention of the selected token"])
        self.colour_by.setToolTip(
            "Colour the boxes by the probability the model gave each token it wrote (dark = "
            "unlikely, a surprising choice), or by how much the selected token's position "
            "attends to each earlier token in one attention head (click a token to select it).")
        self.colour_by.currentIndexChanged.connect(self._colour_mode_changed)
        colour_row.addWidget(QLabel("Colour:"))
        colour_row.addWidget(self.colour_by)
        self.layer_spin = ui.SpinBox("The layer")
        self.layer_spin.setPrefix("layer ")
        self.layer_spin.setRange(1, 1)
        self.layer_spin.setToolTip("Which transformer block's attention to show")
        self.head_spin = ui.SpinBox("The head")
        self.head_spin.setPrefix("head ")
        self.head_spin.setRange(1, 1)
        self.head_spin.setToolTip("Which attention head of that block (each head learns its own pattern)")
        for spin in (self.layer_spin, self.head_spin):
            spin.valueChanged.connect(self._refresh_values)
            spin.setEnabled(False)
            colour_row.addWidget(spin)
        self.legend = ScaleLegend("0%", "100%", "")
        colour_row.addWidget(self.legend, 1)
        lv.addLayout(colour_row)
        self.window_note = ui.MessageLabel()
        lv.addWidget(self.window_note)
        status_row = QHBoxLayout()
        self.status = QLabel("")
        self.status.setStyleSheet("color: #444;")
        self.status.setWordWrap(True)  # a long status must wrap, not widen the window
        status_row.addWidget(self.status, 1)
        self.copy_button = push_button(
            "Copy text", "Copy the prompt and the written text to the clipboard", self.copy_output)
        self.export_button = push_button(
            "Export session…", "Save every prompt and output of this session as a Markdown file",
            self.export_dialog)
        status_row.addWidget(self.copy_button)
        status_row.addWidget(self.export_button)
        lv.addLayout(status_row)
        return left

    @property
    def chart(self):
        """The bar chart of the next-token distribution (created on first use)."""
        if self._chart is None:
            from playground.gui.widgets.prob_bars import ProbBars

            self._chart = ProbBars()
            self._chart.tokenClicked.connect(self._bar_clicked)
            self._chart.clickable = not self.running
            self.chart_holder.layout().addWidget(self._chart)
        return self._chart

    def prompt_box(self) -> QPlainTextEdit:
        return self.prompt

    # ================================================================== state
    @property
    def running(self) -> bool:
        return self._pending_start or (self.gen_handle is not None and self.gen_handle.running)

    def _current_tokenizer(self) -> Any:
        loaded = self.loader.cached(self.run.path) if self.run is not None else None
        return loaded.tokenizer if loaded is not None else None

    @Slot()
    def mark_unknown(self) -> None:
        """Mark what the current run's tokenizer cannot read in the prompt, in place."""
        blocks = mark_unknown(self.prompt, self.prompt_note, self._current_tokenizer())
        self.remove_unknown_button.setVisible(blocks)
        if not blocks and self._unreadable_error:  # the prompt is readable again: the error is old news
            self._unreadable_error = False
            self.error_label.clear_message()

    @Slot()
    def remove_unknown(self) -> None:
        tokenizer = self._current_tokenizer()
        if tokenizer is None:
            return
        text = self.prompt.toPlainText()
        for start, end in reversed(tokenizer.unknown_spans(text)):
            text = text[:start] + text[end:]
        self.prompt.setPlainText(text)
        self.mark_unknown()

    # ================================================================== generate
    def _new_session(self, loaded) -> bool:
        """Start a new text from the prompt box; False (with an inline message) if it cannot."""
        tokenizer = loaded.tokenizer
        text = self.prompt.toPlainText()
        if not text:
            example = self.suggestion or suggest_prompt(tokenizer)
            self.error_label.show_text("The prompt is empty: type a few characters for the model to continue"
                                       + (f" (for example {quoted(example)})." if example else "."))
            return False
        if mark_unknown(self.prompt, self.prompt_note, tokenizer):
            self.remove_unknown_button.show()
            self.error_label.show_text("The prompt has characters this model cannot read (marked in red above).")
            self._unreadable_error = True
            return False
        try:
            ids = list(tokenizer.encode(text))
        except PlaygroundError as exc:
            self.error_label.show_error(exc)
            return False
        cfg = loaded.model.config
        self.session.start(text, ids, [tokenizer.token_label(i) for i in ids], cfg.context_length,
                           source=self.run.path.resolve())
        self._entry = None
        self.layer_spin.setRange(1, max(1, cfg.n_layer))
        self.head_spin.setRange(1, max(1, cfg.n_head))
        self._has_attention = cfg.arch == "gpt" and cfg.n_layer > 0
        self.colour_by.model().item(ATTENTION).setEnabled(self._has_attention)
        if not self._has_attention and self.colour_by.currentIndex() == ATTENTION:
            self.colour_by.setCurrentIndex(PROBABILITY)
        self._refresh_view()
        return True

    @Slot()
    def generate(self) -> None:
        """Write up to 'max new tokens' tokens after the prompt, streaming them into the view."""
        if self.run is None or self.running:
            return
        self._clear_error()
        cfg = self._config()
        if cfg is None:
            return
        self._pending_start = True
        self._set_running(True)
        self.status.setText("Loading the model…" if self.loader.cached(self.run.path) is None else "")
        self.loader.with_model(self.run.path, None, lambda loaded: self._start_stream(loaded, cfg),
                               self._start_failed)

    def _clear_error(self) -> None:
        self._unreadable_error = False
        self.error_label.clear_message()

    def _config(self, max_new_tokens: int | None = None, seed_offset: int = 0):
        """The form's SamplingConfig, or None after showing why it is invalid."""
        try:
            return self.form.config(max_new_tokens, seed_offset)
        except PlaygroundError as exc:
            self.error_label.show_error(exc)
            return None

    def _model_arrived(self) -> bool:
        """The model is loaded: False (and idle again) when the window closes or Stop was pressed meanwhile."""
        self._pending_start = False
        if self.closed or self._cancel_start:
            self._cancel_start = False
            self._set_running(False)
            return False
        return True

    def _start_failed(self, exc: BaseException) -> None:
        self._pending_start = False
        self._set_running(False)
        self.status.setText("")
        self.error_label.show_error(exc)

    def _start_stream(self, loaded, cfg) -> None:
        if not self._model_arrived() or not self._new_session(loaded):
            self._set_running(False)
            self.status.setText("")
            return
        self._stopping = False
        self._start_entry(cfg)
        self.status.setText("Writing…")
        self._gen_started = time.perf_counter()
        self._first_shown = None
        self.gen_handle = workers.start(
            jobs.stream_job(loaded, self.session.window_ids(), cfg, self._has_attention), parent=self,
            on_items=self._on_steps, on_done=self._stream_done, on_error=self._gen_failed, name="generate")

    def _set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.next_button.setEnabled(not running)
        self.clear_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.chart.clickable = not running

    def _on_steps(self, batch: list) -> None:
        if self._stopping:  # Stop means stop: what was written before the press is what stays
            return
        s = self.session
        start = len(s.steps)
        for step in batch:
            s.add(step)
        n0 = s.n_prompt + start
        if self.colour_by.currentIndex() == PROBABILITY and s.focus is None and len(self.view.ids) == n0:
            new = s.steps[start:]  # only the new boxes are laid out and painted
            self.view.append_shaded([t.id for t in new], [t.label for t in new], [t.prob for t in new],
                                    resets={n0 + k for k, t in enumerate(new) if t.window_reset})
            self._update_window_note()
            now = time.perf_counter()
            if now - self._chart_shown >= CHART_INTERVAL_S:  # the chart costs more to paint
                self._chart_shown = now
                self._show_chart()
        else:
            self._refresh_view()
        if self._first_shown is None:
            self._first_shown = time.perf_counter()
        self.tokensShown.emit(len(s.steps))

    def _stream_done(self, result: dict) -> None:
        self._set_running(False)
        n = len(self.session.steps)
        seconds = result.get("seconds", 0.0) if isinstance(result, dict) else 0.0
        rate = (result.get("tokens", n) / seconds) if seconds > 0 else 0.0
        first = (self._first_shown - self._gen_started) * 1000 if self._first_shown else float("nan")
        what = "Stopped after" if self._stopping else "Wrote"
        timing = f" · {rate:,.0f} tokens/s · first token after {first:.0f} ms" if n else ""
        self.status.setText(f"{what} {n} tokens{timing}")
        self._stopping = False
        self._update_entry()
        self._refresh_view()

    def _gen_failed(self, exc: BaseException) -> None:
        self._set_running(False)
        self._stopping = False
        self.status.setText("")
        self.error_label.show_error(exc)

    @Slot()
    def stop(self) -> None:
        if self._pending_start:  # still loading the model: do not start writing afterwards
            self._cancel_start = True
        if self.gen_handle is not None and self.gen_handle.running:
            self._stopping = True
            self.gen_handle.cancel()

    # ================================================================== step mode
    @Slot()
    def next_token(self) -> None:
        """Step mode: write one token (the proposal shown in the chart), then show the next choices."""
        if self.run is None or self.running:
            return
        self._clear_error()
        continuing = self.session.continues(self.run.path.resolve(), self.prompt.toPlainText())
        if continuing and self.session.accept_proposal():
            self._refresh_view()
            self._run_steps(None, 1)
        else:
            self._run_steps(None, 2, fresh=not continuing)

    def _run_steps(self, forced_id: int | None, n: int, fresh: bool = False) -> None:
        """Run ``n`` steps from the text so far (the first forced to ``forced_id``); the last one
        becomes the proposal (the choices for the next token), the others are written."""
        written = 0 if fresh else len(self.session.steps)
        cfg = self._config(n, seed_offset=written + 1 if self.form.fixed_seed.isChecked() else 0)
        if cfg is None:
            return
        self._pending_start = True
        self._set_running(True)

        def start(loaded) -> None:
            if not self._model_arrived():
                return
            if fresh:
                if not self._new_session(loaded):
                    self._set_running(False)
                    return
                self._start_entry(cfg)
            forced = {0: forced_id} if forced_id is not None else None
            self.gen_handle = workers.start(
                jobs.steps_job(loaded, self.session.window_ids(), cfg, self._has_attention, forced),
                parent=self, on_done=self._steps_done, on_error=self._gen_failed, name="next-token")

        self.loader.with_model(self.run.path if fresh else self.session.source, None, start, self._start_failed)

    def _steps_done(self, steps: list) -> None:
        self._set_running(False)
        if not steps:
            return
        for step in steps[:-1]:
            self.session.add(step)
        self.session.propose(steps[-1])
        written = self.session.steps
        chosen = sum(1 for s in written if s.forced)
        by_you = f" ({chosen} chosen by you, underlined)" if chosen else ""
        self.status.setText(f"Step mode: {len(written)} tokens written{by_you}. The chart shows the "
                            "choices for the next one.")
        self._update_entry()
        self._refresh_view()
        self.tokensShown.emit(len(written))

    @Slot(int)
    def _bar_clicked(self, token_id: int) -> None:
        """Write ``token_id`` at the position the chart shows; drop what came after; continue."""
        if self.running or not self.session.prompt_ids:
            return
        self.session.truncate(self.session.edit_position())
        self._run_steps(token_id, 2)

    @Slot()
    def clear_output(self) -> None:
        if self.running:
            return
        self.session.clear()
        self._entry = None
        self.status.setText("")
        self._refresh_view()

    # ================================================================== display
    def _refresh_view(self) -> None:
        s = self.session
        ids = s.all_ids()
        self.view.set_shaded(ids, s.all_labels(), [None] * len(ids), resets=s.cut_positions())
        self.view.set_marked(s.forced_positions())
        self.view.set_pending("?" if s.proposal is not None and not self.running else None)
        self._refresh_values()
        self._update_window_note()
        self._show_chart()

    def _update_window_note(self) -> None:
        s = self.session
        notes = []
        if s.prompt_dropped:
            notes.append(long_prompt_note(s.n_prompt + s.prompt_dropped, s.context_length)
                         + " Only those tokens are shown here.")
        if s.was_cut:
            notes.append(
                f"The text is now longer than the model's context window ({s.context_length} tokens). "
                f"At each dashed line it was cut: the model now sees only the last {s.kept_after_cut} "
                "tokens (half the window) and forgets everything before.")
        if notes:
            self.window_note.show_text("\n".join(notes), ui.INFO)
        else:
            self.window_note.clear_message()

    @Slot()
    def _refresh_values(self, *_args) -> None:
        """Shade the boxes: by probability, or by the selected token's attention."""
        s = self.session
        step, pos = s.focused(self.running)
        n = s.n_prompt + len(s.steps)
        by_attention = self.colour_by.currentIndex() == ATTENTION
        selected = s.focus is not None or by_attention or s.proposal is step
        self.view.set_focus_index(pos if step is not None and selected else -1)
        if by_attention and step is not None and step.attention is not None:
            layer = min(self.layer_spin.value(), step.attention.shape[0]) - 1
            head = min(self.head_spin.value(), step.attention.shape[1]) - 1
            row = step.attention[layer, head].float().tolist()  # (S,) over the S tokens before pos
            start = pos - len(row)
            top = max(row) or 1.0
            values: list[float | None] = [None] * n
            for j, w in enumerate(row):
                if 0 <= start + j < n:
                    values[start + j] = w / top
            outside = {i for i in range(n) if i < start or i >= pos}
            self._attention_row = (start, row)
            self.view.set_values(values, outside)
            self.legend.set_labels("0", f"{pct(top)} (most)", "Attention weight:")
        else:
            self._attention_row = None
            self.view.set_values([None] * s.n_prompt + [t.prob for t in s.steps])
            self._update_legend()

    def _update_legend(self) -> None:
        self.legend.set_labels("0%", "100%", "Probability of the chosen token:")

    @Slot(int)
    def _colour_mode_changed(self, index: int) -> None:
        for spin in (self.layer_spin, self.head_spin):
            spin.setEnabled(index == ATTENTION)
        self._refresh_values()

    def _show_chart(self) -> None:
        s = self.session
        step, pos = s.focused(self.running)
        if step is None:
            self.chart.clear()
            return
        label = quoted(step.label)
        number = pos - s.n_prompt + 1
        if s.proposal is step and not self.running:
            title = (f"<b>Next token (#{number})</b>: the model would write {label} "
                     f"({pct(step.prob)}). Press <i>Next token</i> to take it, or click a bar to write "
                     "that token instead.")
        else:
            forced = " — chosen by you" if step.forced else ""
            title = (f"<b>Token #{number}</b>: {label} with probability {pct(step.prob)}{forced}. "
                     + ("Click a bar to write another token here and continue from it."
                        if not self.running else "Writing…"))
        self.chart.show_step(step.alternatives, step.id, title)

    @Slot(int)
    def _token_clicked(self, index: int) -> None:
        self.session.select(index)
        self._refresh_values()
        self._show_chart()

    def _view_tip(self, index: int) -> str:
        s = self.session
        extra = ""
        if self._attention_row is not None:
            start, row = self._attention_row
            if 0 <= index - start < len(row):
                extra = f"<br>attention from the selected token: <b>{pct(row[index - start])}</b>"
            else:
                extra = "<br><i>not seen by the selected token</i>"
        if index < s.n_prompt:
            return (f"<b>{html.escape(quoted(s.prompt_labels[index]))}</b> — prompt token "
                    f"{s.prompt_dropped + index + 1} "
                    f"(id {s.prompt_ids[index]})<br>You wrote it; the model reads it.{extra}")
        k = index - s.n_prompt
        step = s.steps[k]
        raw = {i: pr for i, _, pr, _ in step.alternatives}
        own = pct(raw[step.id]) if step.id in raw else "below the top 15"
        lines = [f"<b>{html.escape(quoted(step.label))}</b> — token {k + 1} written by the model (id {step.id})",
                 f"drawn with probability <b>{pct(step.prob)}</b> (the model's own: {own})"]
        if step.forced:
            lines.append("<i>chosen by you (clicked in the chart)</i>")
        if step.window_reset:
            lines.append("<i>after this token the context window was cut to its last half</i>")
        rows = "".join(
            f"<tr><td>{html.escape(quoted(lab))}</td><td align='right'>{pct(pr)}</td>"
            f"<td align='right'>{'cut' if ps <= 0 else pct(ps)}</td></tr>"
            for _, lab, pr, ps in step.alternatives[:ALT_TIP_ROWS])
        lines.append(f"Top {ALT_TIP_ROWS} alternatives:<table cellspacing='4'><tr><th>token</th>"
                     f"<th>model</th><th>after filters</th></tr>{rows}</table>")
        return "<br>".join(lines) + extra

    # ================================================================== copy and export
    def _start_entry(self, cfg) -> None:
        self._entry = self.transcript.add("Write", self.run.name, f"step {self.run.step}", cfg,
                                          self.prompt.toPlainText())

    def _update_entry(self) -> None:
        if self._entry is not None:
            self._entry.output = self.session.generated_text()

    def export_markdown(self, path: str) -> None:
        atomic.write_text(path, self.transcript.markdown())

    @Slot()
    def export_dialog(self) -> None:
        if not self.transcript.entries:
            self.status.setText("Nothing to export yet: generate some text first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the session as Markdown",
                                              os.path.expanduser("~/generation-session.md"),
                                              "Markdown (*.md);;All files (*)")
        if not path:
            return
        try:
            self.export_markdown(path)
        except OSError as exc:
            self.error_label.show_text(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.")
            return
        self.status.setText(f"Session saved to {path}")

    @Slot()
    def copy_output(self) -> None:
        text = self.session.prompt_text + self.session.generated_text()
        QApplication.clipboard().setText(text)
        self.status.setText(f"Copied {len(text):,} characters.")
