"""The Compare page: the same prompt and seed on two runs (or two checkpoints of one run).

Under each side, the validation loss of its weights per token and in bits per character
(``core.bits``): only the latter compares a character model with a word or BPE model, which the
page says when the two sides cut text differently.
"""

from __future__ import annotations

import html
import math

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from playground.core import activity, bits
from playground.core.generation_session import Transcript, long_prompt_note
from playground.errors import PlaygroundError
from playground.gui import ui, workers
from playground.gui.tabs.generate import jobs
from playground.gui.tabs.generate.common import (
    ALT_TIP_ROWS,
    ModelLoader,
    WritingPage,
    blocks_reading,
    edit_row,
    pct,
    push_button,
    quoted,
    unknown_note,
)
from playground.gui.tabs.generate.sampling_form import SamplingForm
from playground.gui.widgets.generated_text import ScaleLegend, ShadedTokenView
from playground.gui.widgets.run_picker import run_title

SIDES = ("a", "b")


class ComparePage(WritingPage):
    def __init__(self, form: SamplingForm, loader: ModelLoader, transcript: Transcript,
                 parent: QWidget | None = None) -> None:
        super().__init__(form, loader, transcript, parent)
        self.handle: workers.WorkerHandle | None = None
        self.compare_steps: dict[str, list] = {"a": [], "b": []}
        self._prompt_tokens: dict[str, tuple[list[int], list[str]]] = {}  # side -> (ids, labels)
        self._entries: list = []
        self._ratios: dict[str, float] = {}  # run folder -> characters per token (nan: unknown)
        self._ratio_job: workers.WorkerHandle | None = None
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.compare_prompt = QPlainTextEdit()
        self.compare_prompt.setPlaceholderText("The prompt both models continue")
        self.compare_prompt.setToolTip("Both models continue this prompt with the same settings and seed")
        self.compare_button = push_button(
            "Compare", "Generate with both models: same prompt, same settings, same seed", self.compare)
        self.compare_stop = push_button("Stop", "Stop both", self.stop)
        self.compare_stop.setEnabled(False)
        layout.addLayout(edit_row(self.compare_prompt, 3, [self.compare_button, self.compare_stop]))
        self.compare_error = ui.MessageLabel()
        layout.addWidget(self.compare_error)
        columns = QHBoxLayout()
        self.compare_runs: dict[str, QComboBox] = {}
        self.compare_ckpts: dict[str, QComboBox] = {}
        self.compare_views: dict[str, ShadedTokenView] = {}
        self.compare_stats: dict[str, QLabel] = {}
        self.compare_units: dict[str, QLabel] = {}
        for name in SIDES:
            box = QGroupBox(f"Model {name.upper()}")
            bv = QVBoxLayout(box)
            pick = QHBoxLayout()
            runs = QComboBox()
            runs.setMinimumContentsLength(20)
            runs.setToolTip("The run (trained model) on this side")
            runs.currentIndexChanged.connect(lambda _i, n=name: self._fill_checkpoints(n))
            ckpt = QComboBox()
            ckpt.setToolTip("Which saved weights of the run: the newest, or an earlier checkpoint "
                            "(compare the model before and after more training)")
            ckpt.currentIndexChanged.connect(lambda _i: self.update_units())
            pick.addWidget(runs, 3)
            pick.addWidget(ckpt, 2)
            bv.addLayout(pick)
            view = ShadedTokenView()
            view.tip_provider = (lambda index, n=name: self._tip(n, index))
            bv.addWidget(view, 1)
            stats = QLabel("")
            stats.setWordWrap(True)
            bv.addWidget(stats)
            units = QLabel("")
            units.setWordWrap(True)
            units.setToolTip("The validation loss of these weights (text the model never trained on). "
                             "Bits per character = loss per token ÷ (characters per token × ln 2): "
                             "unlike the loss per token, it compares models whose tokenizers differ.")
            bv.addWidget(units)
            self.compare_units[name] = units
            columns.addWidget(box, 1)
            self.compare_runs[name] = runs
            self.compare_ckpts[name] = ckpt
            self.compare_views[name] = view
            self.compare_stats[name] = stats
        self.compare_views["a"].placeholder = "Pick two runs (or two checkpoints of one run) and press Compare."
        layout.addLayout(columns, 1)
        self.units_note = ui.MessageLabel()
        layout.addWidget(self.units_note)
        layout.addWidget(ScaleLegend("0%", "100%", "Probability of each chosen token:"))

    def prompt_box(self) -> QPlainTextEdit:
        return self.compare_prompt

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.running

    # ================================================================== choosing the two sides
    def fill_runs(self, runs: list, current) -> None:
        """List ``runs`` on both sides, keeping each side's choice (else ``current``)."""
        for name, combo in self.compare_runs.items():
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for run in runs:
                combo.addItem(run_title(run), run)
            combo.blockSignals(False)
            want = keep or current
            for i in range(combo.count()):
                if combo.itemData(i) == want:
                    combo.setCurrentIndex(i)
            self._fill_checkpoints(name)

    def _fill_checkpoints(self, name: str) -> None:
        combo = self.compare_ckpts[name]
        run = self.compare_runs[name].currentData()
        keep = combo.currentData()
        combo.blockSignals(True)  # one units update at the end, not one per item
        combo.clear()
        combo.blockSignals(False)
        if run is None:
            self.update_units()
            return
        combo.addItem(f"newest weights (step {run.step})", None)
        for step, _ in reversed(run.snapshots()):
            combo.addItem(f"checkpoint at step {step}", step)
        if name == "b" and keep is None and combo.count() > 2:
            combo.setCurrentIndex(combo.count() - 1)  # by default B is the earliest checkpoint
        else:
            for i in range(combo.count()):
                if combo.itemData(i) == keep:
                    combo.setCurrentIndex(i)
        self.update_units()

    # ================================================================== bits per character
    def _ratio(self, run) -> float | None:
        return self._ratios.get(str(run.path)) or bits.peek_chars_per_token(run.path)

    def update_units(self) -> None:
        """Each side's validation loss per token and in bits per character, and a warning when
        the two runs cut text differently; measures (in a worker) the missing characters per token."""
        labels, missing = {}, []
        for name in SIDES:
            run = self.compare_runs[name].currentData()
            if run is None:
                self.compare_units[name].setText("")
                continue
            labels[name] = bits.tokenizer_label(run.info)
            ratio = self._ratio(run)
            if ratio is None:
                missing.append(str(run.path))
            self.compare_units[name].setText(validation_summary(run, self.compare_ckpts[name].currentData(), ratio))
        if len(set(labels.values())) > 1:
            self.units_note.show_text(
                f"Model A cuts text into {labels['a']} tokens, model B into {labels['b']}: their losses "
                "per token do not compare (a word or BPE token holds several characters). Compare their "
                "bits per character.", ui.WARNING)
        else:
            self.units_note.clear_message()
        if missing and self._ratio_job is None:
            self._measure(list(dict.fromkeys(missing)))

    def _measure(self, paths: list[str]) -> None:
        self._ratio_job = workers.start(lambda progress, cancel: bits.runs_chars_per_token(paths),
                                        parent=self, on_done=self._measured,
                                        on_error=self._measure_failed, name="chars-per-token")

    def _measured(self, found: dict[str, float]) -> None:
        self._ratio_job = None
        self._ratios.update(found)
        self.update_units()

    def _measure_failed(self, exc: BaseException) -> None:
        self._ratio_job = None
        ui.report_unexpected(exc)

    # ================================================================== generating
    @Slot()
    def compare(self) -> None:
        if self.running:
            return
        self.compare_error.clear_message()
        prompt = self.compare_prompt.toPlainText()
        if not prompt:
            self.compare_error.show_text("Type a prompt for both models first.")
            return
        sides = {n: (self.compare_runs[n].currentData(), self.compare_ckpts[n].currentData()) for n in SIDES}
        if any(run is None for run, _ in sides.values()):
            self.compare_error.show_text("Pick a run on both sides.")
            return
        try:
            cfg = self.form.config()
        except PlaygroundError as exc:
            self.compare_error.show_error(exc)
            return
        self._set_running(True)
        loaded: dict[str, object] = {}

        def got(name: str, model) -> None:
            loaded[name] = model
            if len(loaded) == len(SIDES):
                self._start(prompt, sides, loaded, cfg)

        def failed(exc: BaseException) -> None:
            self._set_running(False)
            self.compare_error.show_error(exc)

        for name, (run, step) in sides.items():
            self.loader.with_model(run.path, step, lambda m, n=name: got(n, m), failed)

    def _set_running(self, running: bool) -> None:
        self.compare_button.setEnabled(not running)
        self.compare_stop.setEnabled(running)

    def _start(self, prompt: str, sides: dict, loaded: dict, cfg) -> None:
        feeds = {}
        notes = []
        self.compare_steps = {"a": [], "b": []}
        self._prompt_tokens = {}
        for name in SIDES:
            model = loaded[name]
            tokenizer = model.tokenizer
            spans = tokenizer.unknown_spans(prompt)
            if spans and blocks_reading(tokenizer):
                self._set_running(False)
                self.compare_error.show_text(
                    f"Model {name.upper()} cannot read the prompt. {unknown_note(tokenizer, prompt, spans)}")
                return
            ids = list(tokenizer.encode(prompt))
            # Only what the model reads is kept and shown (as on the Write page).
            ctx = model.model.config.context_length
            if len(ids) > ctx:
                notes.append(f"Model {name.upper()}: {long_prompt_note(len(ids), ctx)}")
                ids = ids[-ctx:]
            self._prompt_tokens[name] = (ids, [tokenizer.token_label(i) for i in ids])
            feeds[name] = (model, ids)
        if notes:
            self.compare_error.show_text("\n".join(notes), ui.INFO)
        self._entries = [
            self.transcript.add(f"Compare, model {name.upper()}", run.name,
                                "newest weights" if step is None else f"step {step}", cfg, prompt)
            for name, (run, step) in sides.items()]
        self._refresh()
        activity.record(activity.RUNS_COMPARED, runs=sorted({run.name for run, _step in sides.values()}))
        self.handle = workers.start(
            jobs.compare_job(feeds, cfg), parent=self, on_items=self._items,
            on_done=self._done, on_error=self._failed, name="compare")

    def _items(self, batch: list) -> None:
        for name, step in batch:
            self.compare_steps[name].append(step)
        self._refresh()

    def _refresh(self) -> None:
        for name, view in self.compare_views.items():
            ids, labels = self._prompt_tokens.get(name, ([], []))
            steps = self.compare_steps[name]
            view.set_shaded(ids + [s.id for s in steps], labels + [s.label for s in steps],
                            [None] * len(ids) + [s.prob for s in steps],
                            resets={len(ids) + k for k, s in enumerate(steps) if s.window_reset})
            if steps:
                mean_p = sum(s.prob for s in steps) / len(steps)
                self.compare_stats[name].setText(
                    f"{len(steps)} tokens · average probability of the chosen tokens {pct(mean_p)}")
            else:
                self.compare_stats[name].setText("")

    def _done(self, _result) -> None:
        self._set_running(False)
        for entry, name in zip(self._entries, SIDES, strict=True):
            entry.output = "".join(s.text for s in self.compare_steps[name])

    def _failed(self, exc: BaseException) -> None:
        self._done(None)
        self.compare_error.show_error(exc)

    def _tip(self, name: str, index: int) -> str:
        ids, labels = self._prompt_tokens.get(name, ([], []))
        if index < len(ids):
            return f"<b>{html.escape(quoted(labels[index]))}</b> — prompt token (id {ids[index]})"
        step = self.compare_steps[name][index - len(ids)]
        rows = "".join(f"<tr><td>{html.escape(quoted(lab))}</td><td align='right'>{pct(pr)}</td></tr>"
                       for _, lab, pr, _ in step.alternatives[:ALT_TIP_ROWS])
        return (f"<b>{html.escape(quoted(step.label))}</b> (id {step.id}) drawn with probability "
                f"<b>{pct(step.prob)}</b><br>Top alternatives (the model's probability):<table>{rows}</table>")

    @Slot()
    def stop(self) -> None:
        if self.running:
            self.handle.cancel()


def validation_summary(run, step: int | None, chars_per_token: float | None) -> str:
    """The last validation loss measured up to ``step`` (None: the newest weights), per token and
    in bits per character."""
    evals = [(it, val) for it, _, val in run.evals()
             if isinstance(val, float) and math.isfinite(val) and (step is None or it <= step)]
    if not evals:
        return "No validation loss measured for these weights yet."
    it, loss = evals[-1]
    text = f"Validation loss at step {it:,}: <b>{loss:.3f}</b> nats per token"
    if chars_per_token is None:
        return text + " · bits per character: measuring…"
    if not math.isfinite(chars_per_token):
        return text + " · no bits per character (the run's text is gone, so its characters per token are unknown)"
    return (text + f" = <b>{bits.loss_to_bpc(loss, chars_per_token):.3f}</b> bits per character "
            f"({chars_per_token:.2f} characters per token)")
