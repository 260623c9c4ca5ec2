"""Step 4, the Train tab: train the model in the background and watch it learn.

The student sets a few hyperparameters (or takes the sensible defaults for the model's size),
presses Start, and sees the training and validation loss fall live, the learning-rate schedule,
the speed, a sample of generated text at each evaluation, and a note if the model overfits.
Every training is a run on disk; the runs list below compares, resumes, renames, deletes,
exports and imports them.

Training runs in a child process driven by a QThread worker (see training_process.py for why
and how). Torch is never imported when this module loads: the window must open fast.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core import checkpoint
from playground.errors import PlaygroundError
from playground.gui.training_process import TrainingJob
from playground.gui.widgets.runs_list import RunsList

ERROR_STYLE = "color: #b00020; background: #fdecee; border: 1px solid #f3b8c0; padding: 6px;"
WARNING_STYLE = "color: #7a4d00; background: #fff4dc; border: 1px solid #f0d49a; padding: 6px;"
INFO_STYLE = "color: #1d3f66; background: #e8f1fb; border: 1px solid #b9d3ef; padding: 6px;"
NOTE_STYLE = "color: #444;"
STOP_WAIT_MS = 60_000  # closing the window: how long to wait for the child to save and stop
LR_CHOICES = ["1e-2", "3e-3", "1e-3", "6e-4", "3e-4", "1e-4"]
PLAN_POINTS = 2000  # the planned learning-rate curve is drawn with at most this many points
DEFAULT_PRESET = "tiny"  # until the Model tab publishes a config

FINISHED_TITLES = {
    "done": "Training finished",
    "stopped": "Training stopped",
    "nan": "Training stopped: the loss became NaN (not a number)",
    "oom": "Training stopped: out of memory",
    "error": "Training stopped by an error",
}


def sensible_defaults(model_cfg) -> tuple[dict, str]:
    """Hyperparameters that train a model of this size well enough here, and why."""
    from playground.core.model import param_count

    n = param_count(model_cfg)
    if model_cfg.arch == "bigram":
        values = dict(iters=1000, batch_size=32, lr=1e-2, warmup=0, eval_interval=100)
        why = "A bigram is one table: a large learning rate and no warmup are safe."
    elif n < 2_000_000:
        values = dict(iters=2000, batch_size=16 if n < 300_000 else 12, lr=1e-3, warmup=100, eval_interval=200)
        why = "Small models learn quickly with a learning rate of 1e-3 after a short warmup."
    elif n < 30_000_000:
        values = dict(iters=3000, batch_size=12, lr=6e-4, warmup=200, eval_interval=250)
        why = "Bigger models need a smaller learning rate and a longer warmup to stay stable."
    else:
        values = dict(iters=2000, batch_size=4, lr=3e-4, warmup=200, eval_interval=250)
        why = "A large model: small batches to fit in memory, a careful learning rate."
    return values, f"Defaults for {n / 1e6:.2f} M parameters. {why}"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _spin(lo: int, hi: int, value: int, tip: str, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    box.setToolTip(tip)
    return box


class TrainTab(QWidget):
    TITLE = "Train"
    AVAILABLE = True

    requestTab = Signal(str)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.job: TrainingJob | None = None
        self.run: checkpoint.Run | None = None  # the run being trained (or last trained)
        self.phase = "idle"  # idle | starting | training | pausing | paused | stopping
        self._compiling = False  # the status line says the model is compiling
        self.current_step = 0
        self.start_step = 0
        self.total_iters = 0
        self.evals: list[tuple[int, float, float]] = []
        self.finished_event = None
        self.last_checkpoint: int | None = None
        self.loss_plot = None  # created on first show: importing pyqtgraph takes ~0.5 s
        self._active_s = 0.0  # training time of this session, pauses excluded
        self._active_since: float | None = None
        self._banner_run: checkpoint.Run | None = None

        self._build()
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._update_times)
        state.corpusChanged.connect(self._prerequisites_changed)
        state.tokenizerChanged.connect(self._prerequisites_changed)
        state.modelConfigChanged.connect(self._prerequisites_changed)
        self._prerequisites_changed()
        self._set_phase("idle")
        QTimer.singleShot(0, self.check_interrupted)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        # Banner: a run that was interrupted (window closed, crash) can be resumed.
        self.banner = QFrame()
        self.banner.setStyleSheet(f"QFrame {{ {INFO_STYLE} }} QLabel {{ border: none; padding: 0; }}")
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.banner_resume = QPushButton("Resume it")
        self.banner_resume.setToolTip("Continue training this run from its last checkpoint")
        self.banner_resume.clicked.connect(self._banner_resume_clicked)
        self.banner_dismiss = QPushButton("Dismiss")
        self.banner_dismiss.setToolTip("Hide this note; you can still resume the run from the runs list")
        self.banner_dismiss.clicked.connect(self._dismiss_banner)
        row = QHBoxLayout(self.banner)
        row.addWidget(self.banner_label, 1)
        row.addWidget(self.banner_resume)
        row.addWidget(self.banner_dismiss)
        self.banner.hide()

        # What is missing before training can start.
        self.prereq = QFrame()
        self.prereq.setStyleSheet(f"QFrame {{ {WARNING_STYLE} }} QLabel {{ border: none; padding: 0; }}")
        self.prereq_label = QLabel()
        self.prereq_label.setWordWrap(True)
        self.go_corpus = QPushButton("Go to Corpus")
        self.go_corpus.setToolTip("Open the Corpus tab to choose the text to learn from")
        self.go_corpus.clicked.connect(lambda: self.requestTab.emit("Corpus"))
        self.go_tokenizer = QPushButton("Go to Tokenizer")
        self.go_tokenizer.setToolTip("Open the Tokenizer tab to choose how the text is cut into tokens")
        self.go_tokenizer.clicked.connect(lambda: self.requestTab.emit("Tokenizer"))
        row = QHBoxLayout(self.prereq)
        row.addWidget(self.prereq_label, 1)
        row.addWidget(self.go_corpus)
        row.addWidget(self.go_tokenizer)

        # ---- left: model, settings, controls, status
        left = QWidget()
        col = QVBoxLayout(left)
        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setToolTip("The network that will be trained. Choose its size on the Model tab.")
        change_model = QPushButton("Change on the Model tab")
        change_model.setToolTip("Pick another size or shape of model")
        change_model.clicked.connect(lambda: self.requestTab.emit("Model"))
        model_layout.addWidget(self.model_label)
        model_layout.addWidget(change_model)
        col.addWidget(model_box)

        settings_box = QGroupBox("Training settings")
        form = QFormLayout(settings_box)
        self.iters_box = _spin(1, 10_000_000, 2000, "Iterations: how many update steps to take. Each "
                               "step shows the model one batch, measures its loss and nudges every "
                               "weight to lower it. More steps = more learning (and more time).", 100)
        self.batch_box = _spin(1, 4096, 12, "Batch size: how many text windows the model sees per step. "
                               "Bigger batches give a steadier loss but need more memory and time per step.")
        self.lr_box = QComboBox()
        self.lr_box.setEditable(True)
        self.lr_box.addItems(LR_CHOICES)
        self.lr_box.setCurrentText("1e-3")
        self.lr_box.setToolTip("Learning rate: how big each update step is. Too small learns slowly; "
                               "too big makes the loss jump around or explode (NaN). 1e-3 = 0.001.")
        self.warmup_box = _spin(0, 1_000_000, 100, "Warmup: for this many first steps the learning rate "
                                "grows from almost 0 to its full value, so the random starting weights "
                                "are not shaken too hard.", 10)
        self.eval_box = _spin(1, 1_000_000, 250, "Evaluation interval: every this many steps, measure the "
                              "loss on training and on validation text (text the model never trains on), "
                              "save a checkpoint and write a sample.", 10)
        self.seed_box = _spin(0, 2_000_000_000, 1337, "Seed: the starting point of the random numbers "
                              "(initial weights, batches). Same seed and settings = the same training.")
        self.compile_box = QCheckBox("Compile the model (faster steps)")
        self.compile_box.setToolTip("Let PyTorch compile the model into fused code (torch.compile): each "
                                    "step then runs about 10% faster on a CPU and more on a GPU, but "
                                    "training starts 5-60 s later while it compiles. Worth it for long "
                                    "runs; if compiling is not possible here, training goes on without it.")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("automatic (corpus-size-date)")
        self.name_edit.setToolTip("A name for this run, so you can find it in the runs list later")
        form.addRow("Iterations:", self.iters_box)
        form.addRow("Batch size:", self.batch_box)
        form.addRow("Learning rate:", self.lr_box)
        form.addRow("Warmup steps:", self.warmup_box)
        form.addRow("Evaluate every:", self.eval_box)
        form.addRow("Seed:", self.seed_box)
        form.addRow("Run name:", self.name_edit)
        form.addRow(self.compile_box)
        self.defaults_button = QPushButton("Sensible defaults for this size")
        self.defaults_button.setToolTip("Fill in settings that suit the chosen model's size "
                                        "(learning rate, batch, warmup, steps)")
        self.defaults_button.clicked.connect(self.apply_defaults)
        form.addRow(self.defaults_button)
        self.defaults_note = QLabel()
        self.defaults_note.setWordWrap(True)
        self.defaults_note.setStyleSheet(NOTE_STYLE)
        self.defaults_note.hide()
        form.addRow(self.defaults_note)
        col.addWidget(settings_box)

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start training a new run with these settings (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start_training)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Hold training after the current step; nothing is lost (Ctrl+P)")
        self.pause_button.clicked.connect(self.pause_training)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue a paused training (Ctrl+P)")
        self.resume_button.clicked.connect(self.resume_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End training after the current step and save a checkpoint; "
                                    "you can resume the run later (Ctrl+.)")
        self.stop_button.clicked.connect(self.stop_training)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(b)
        col.addLayout(buttons)
        # Only while this tab has the focus: the other tabs keep their own keys.
        for keys, slot in (("Ctrl+Return", self._start_shortcut), ("Ctrl+P", self._pause_shortcut),
                           ("Ctrl+.", self.stop_training)):
            QShortcut(QKeySequence(keys), self, activated=slot, context=Qt.WidgetWithChildrenShortcut)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("step %v of %m")
        self.progress.setToolTip("Steps done of the planned iterations")
        col.addWidget(self.progress)
        self.time_label = QLabel(" ")
        self.time_label.setToolTip("Training time so far (pauses not counted) and an estimate of the time left")
        col.addWidget(self.time_label)
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet(NOTE_STYLE)
        col.addWidget(self.status_label)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.message_label.hide()
        col.addWidget(self.message_label)
        self.overfit_label = QLabel(
            "<b>Overfitting?</b> The validation loss has risen for several evaluations while the "
            "training loss kept falling: the model is memorising its training text instead of "
            "learning patterns that carry over to new text. Try more text, some dropout "
            "(Model tab), or a smaller model; the best checkpoint so far is kept.")
        self.overfit_label.setWordWrap(True)
        self.overfit_label.setStyleSheet(WARNING_STYLE)
        self.overfit_label.setToolTip("Overfitting: doing better and better on the training text but "
                                      "worse on unseen text")
        self.overfit_label.hide()
        col.addWidget(self.overfit_label)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(380)

        # ---- right: plots, sample, runs
        self.plot_holder = QWidget()
        self.plot_layout = QVBoxLayout(self.plot_holder)
        self.plot_layout.setContentsMargins(0, 0, 0, 0)
        self.plot_placeholder = QLabel("The loss curves appear here when training starts.")
        self.plot_placeholder.setAlignment(Qt.AlignCenter)
        self.plot_placeholder.setStyleSheet("color: #777;")
        self.plot_layout.addWidget(self.plot_placeholder)

        sample_box = QWidget()
        sample_layout = QVBoxLayout(sample_box)
        sample_layout.setContentsMargins(0, 0, 0, 0)
        self.sample_title = QLabel("<b>Latest sample</b> — text the model writes at each evaluation")
        self.sample_title.setToolTip("Generated from the same starting point each time, so you can "
                                     "watch the text go from gibberish to words as the loss falls")
        self.sample_text = QPlainTextEdit()
        self.sample_text.setReadOnly(True)
        self.sample_text.setPlaceholderText("No sample yet.")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        self.sample_text.setFont(mono)
        self.sample_text.setToolTip(self.sample_title.toolTip())
        sample_layout.addWidget(self.sample_title)
        sample_layout.addWidget(self.sample_text)

        self.runs_list = RunsList(self.state)
        self.runs_list.overlayChanged.connect(self._overlay_changed)
        self.runs_list.runOpened.connect(self._run_opened)
        self.runs_list.resumeRequested.connect(self.resume_run)

        right = QSplitter(Qt.Vertical)
        right.addWidget(self.plot_holder)
        right.addWidget(sample_box)
        right.addWidget(self.runs_list)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 1)
        right.setStretchFactor(2, 2)
        right.setSizes([430, 90, 200])
        right.setChildrenCollapsible(False)

        main = QSplitter(Qt.Horizontal)
        main.addWidget(scroll)
        main.addWidget(right)
        main.setStretchFactor(1, 1)
        main.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.prereq)
        layout.addWidget(main, 1)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.ensure_plot()

    def ensure_plot(self):
        if self.loss_plot is None:
            from playground.gui.widgets.loss_plot import LossPlot

            self.loss_plot = LossPlot()
            self.plot_layout.removeWidget(self.plot_placeholder)
            self.plot_placeholder.deleteLater()
            self.plot_layout.addWidget(self.loss_plot)
            if self.runs_list.checked_runs():
                self._overlay_changed(self.runs_list.checked_runs())
        return self.loss_plot

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def model_config(self):
        """The config to train: the Model tab's, or the Tiny preset; vocabulary = the tokenizer's."""
        from playground.core import model as model_mod

        tok = self.state.tokenizer
        cfg = self.state.model_config
        if cfg is None:
            return model_mod.preset(DEFAULT_PRESET, tok.vocab_size)
        if cfg.vocab_size != tok.vocab_size:
            changes = {"vocab_size": tok.vocab_size}
            if cfg.arch == "bigram":
                changes["d_model"] = tok.vocab_size
            cfg = dataclasses.replace(cfg, **changes)
        return cfg

    @Slot()
    @Slot(object)
    def _prerequisites_changed(self, *_args) -> None:
        corpus, tok = self.state.corpus, self.state.tokenizer
        missing = []
        if corpus is None:
            missing.append("load a text on the <b>Corpus</b> tab")
        if tok is None:
            missing.append("choose a tokenizer on the <b>Tokenizer</b> tab")
        self.prereq_label.setText(("Before training, " + " and ".join(missing) + ".") if missing else "")
        self.prereq.setVisible(bool(missing))
        self.go_corpus.setVisible(corpus is None)
        self.go_tokenizer.setVisible(corpus is not None and tok is None)
        self._describe_model()
        self._update_buttons()

    def _describe_model(self) -> None:
        cfg = self.state.model_config
        tok = self.state.tokenizer
        if cfg is None:
            text = (f"<b>{DEFAULT_PRESET.title()} preset</b> (the default until you choose a size on "
                    "the Model tab): 2 layers, 2 heads, 64 wide, context 64.")
        elif cfg.arch == "bigram":
            text = "<b>Bigram</b>: one table of next-token scores, no attention."
        else:
            text = (f"<b>{cfg.n_layer} layers</b>, {cfg.n_head} heads, {cfg.d_model} wide, "
                    f"context {cfg.context_length}" + (f", dropout {cfg.dropout:g}" if cfg.dropout else "") + ".")
        if tok is not None and "playground.core.model" in sys.modules:  # never import torch for a label
            try:
                n = sys.modules["playground.core.model"].param_count(self.model_config())
                text += f" About {n / 1e6:.2f} M parameters."
            except PlaygroundError:
                pass
        if tok is not None:
            text += f"<br>Vocabulary: {tok.vocab_size:,} tokens ({tok.kind})."
        self.model_label.setText(text)

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.state.corpus is not None and self.state.tokenizer is not None
        phase = self.phase
        self.start_button.setEnabled(phase == "idle" and ready)
        self.pause_button.setEnabled(phase in ("starting", "training"))
        self.resume_button.setEnabled(phase in ("pausing", "paused"))
        self.stop_button.setEnabled(phase in ("starting", "training", "pausing", "paused"))
        editable = phase == "idle"
        for w in (self.iters_box, self.batch_box, self.lr_box, self.warmup_box, self.eval_box,
                  self.seed_box, self.name_edit, self.compile_box, self.defaults_button):
            w.setEnabled(editable)
        self.banner_resume.setEnabled(phase == "idle")

    def show_message(self, text: str, style: str = ERROR_STYLE) -> None:
        self.message_label.setStyleSheet(style)
        self.message_label.setText(text)
        self.message_label.show()

    def clear_message(self) -> None:
        self.message_label.clear()
        self.message_label.hide()

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, PlaygroundError):
            self.show_message(exc.message + (f"\n{exc.hint}" if exc.hint else ""))
        else:
            from playground.gui.error_dialog import excepthook

            excepthook(type(exc), exc, exc.__traceback__)

    # ------------------------------------------------------------------ settings
    def train_config(self):
        """The TrainConfig from the form; TrainingError (message + hint) when a value is bad."""
        from playground.core.train import TrainConfig
        from playground.errors import TrainingError

        text = self.lr_box.currentText().strip()
        try:
            lr = float(text)
        except ValueError:
            raise TrainingError(f"The learning rate '{text}' is not a number.",
                                "Write it like 1e-3 (= 0.001) or 0.0003.") from None
        min_lr = lr / 10  # the cosine decays to a tenth, as in nanoGPT
        cfg = TrainConfig(iters=self.iters_box.value(), batch_size=self.batch_box.value(), lr=lr,
                          min_lr=min_lr, warmup=self.warmup_box.value(), eval_interval=self.eval_box.value(),
                          seed=self.seed_box.value(), split=self.state.split,
                          compile=self.compile_box.isChecked())
        cfg.validate()
        return cfg

    def set_train_values(self, **values: Any) -> None:
        boxes = {"iters": self.iters_box, "batch_size": self.batch_box, "warmup": self.warmup_box,
                 "eval_interval": self.eval_box, "seed": self.seed_box}
        for key, value in values.items():
            if key == "lr":
                self.lr_box.setCurrentText(f"{value:g}")
            else:
                boxes[key].setValue(int(value))

    @Slot()
    def apply_defaults(self) -> None:
        if self.state.tokenizer is None:
            self._prerequisites_changed()
            return
        try:
            values, why = sensible_defaults(self.model_config())
        except PlaygroundError as exc:
            self._show_error(exc)
            return
        self.set_train_values(**values)
        self.defaults_note.setText(why)
        self.defaults_note.show()
        self._describe_model()

    # ------------------------------------------------------------------ start / resume
    @Slot()
    def _start_shortcut(self) -> None:
        if self.start_button.isEnabled():
            self.start_training()

    @Slot()
    def start_training(self) -> checkpoint.Run | None:
        """Create a run from the form and train it in a child process."""
        if self.busy:
            return None
        if self.state.corpus is None or self.state.tokenizer is None:
            self._prerequisites_changed()
            self.show_message("Training needs a text and a tokenizer first (see the note above).", WARNING_STYLE)
            return None
        self.clear_message()
        self.status_label.setText("Preparing…")
        try:
            from playground.core import model as model_mod

            tcfg = self.train_config()
            mcfg = self.model_config()
            model_mod.check_fits(mcfg, tcfg.batch_size)
            corpus = self.state.corpus
            run = checkpoint.Run.create(self.name_edit.text().strip() or None, mcfg, tcfg,
                                        corpus.record(tcfg.split), self.state.tokenizer)
        except PlaygroundError as exc:
            self.status_label.setText("Ready.")
            self._show_error(exc)
            return None
        self._describe_model()
        self._launch(run, corpus, resume=False)
        return run

    @Slot(object)
    def resume_run(self, run: checkpoint.Run) -> None:
        """Continue a stopped or interrupted run from its latest.pt."""
        if self.busy:
            return
        run = checkpoint.Run(run.path)  # fresh run.json
        if not run.has_latest():
            self.show_message(f"Run '{run.name}' has no checkpoint to resume from.\nStart a new run instead.")
            return
        self.clear_message()
        corpus = self.state.corpus
        if corpus is None or corpus.sha256 != run.corpus_record.get("sha256"):
            corpus = None  # the child reloads it from the run's record (and says so if it vanished)
        if run.info.get("interrupted"):
            run.update(touch=False, interrupted=False)
        self._dismiss_banner()
        self._launch(run, corpus, resume=True)

    def _launch(self, run: checkpoint.Run, corpus, resume: bool) -> None:
        from playground.core.train import lr_at

        self.run = run
        tcfg = run.train_config
        self.total_iters = tcfg.iters
        self.start_step = self.current_step = run.step if resume else 0
        self.evals = []
        self.finished_event = None
        self.last_checkpoint = None
        self.overfit_label.hide()
        plot = self.ensure_plot()
        stride = max(1, tcfg.iters // PLAN_POINTS)
        plan_steps = list(range(0, tcfg.iters, stride)) + [tcfg.iters - 1]
        plot.reset(run.info.get("tokenizer", {}).get("vocab_size"), tcfg.iters,
                   ([s + 1 for s in plan_steps], [lr_at(tcfg, s) for s in plan_steps]))
        if resume:
            rows = [r for r in run.metrics() if r["it"] is not None and r["it"] <= run.step]
            plot.load_metrics(rows)
            self.evals = [(r["it"], r["train_loss"], r["val_loss"]) for r in rows if r["kind"] == "eval"]
            plot.redraw()
        self.sample_text.clear()
        self.sample_title.setText("<b>Latest sample</b> — text the model writes at each evaluation")
        self.progress.setRange(0, max(1, tcfg.iters))
        self.progress.setValue(self.current_step)
        self._active_s, self._active_since = 0.0, None
        self.time_label.setText(" ")
        self.status_label.setText(("Resuming" if resume else "Starting") + f" run {run.name}: "
                                  "launching the training process (loading torch takes a few seconds)…")
        self.runs_list.refresh()
        self.runs_list.set_busy_run(run)
        self.runs_list.select(run)
        self._set_phase("starting")
        self.job = TrainingJob(run.path, corpus, resume=resume, parent=self, on_events=self.handle_events,
                               on_done=self._job_done, on_error=self._job_failed)
        self._clock.start()

    # ------------------------------------------------------------------ pause / resume / stop
    @Slot()
    def _pause_shortcut(self) -> None:
        if self.pause_button.isEnabled():
            self.pause_training()
        elif self.resume_button.isEnabled():
            self.resume_training()

    @Slot()
    def pause_training(self) -> None:
        if self.job is None or self.phase not in ("starting", "training"):
            return
        self.job.pause()
        self._set_phase("pausing")
        self.status_label.setText("Pausing after the current step…")

    @Slot()
    def resume_training(self) -> None:
        if self.job is None or self.phase not in ("pausing", "paused"):
            return
        self.job.resume_training()
        self._set_phase("training")
        self._active_since = time.monotonic()
        self.status_label.setText(f"Training run {self.run.name}.")

    @Slot()
    def stop_training(self) -> None:
        if self.job is None or not self.job.running or self.phase == "stopping":
            return
        self.job.stop()
        self._pause_clock()
        self._set_phase("stopping")
        self.status_label.setText("Stopping after the current step and saving a checkpoint…")

    def _pause_clock(self) -> None:
        if self._active_since is not None:
            self._active_s += time.monotonic() - self._active_since
            self._active_since = None

    # ------------------------------------------------------------------ events from the worker
    @Slot(list)
    def handle_events(self, events: list) -> None:
        """A batch of the child's events (GUI thread, ≤ ~30 batches a second)."""
        plot = self.ensure_plot()
        plot.add_events(events)
        refresh_row = False
        for ev in events:
            kind = type(ev).__name__
            if kind == "Step":
                self.current_step = ev.it
                if self._compiling:  # the first compiled step has run
                    self._compiling = False
                    self.status_label.setText(f"Training run {self.run.name} (compiled).")
            elif kind == "Eval":
                self.current_step = max(self.current_step, ev.it)
                self._eval_done(ev)
            elif kind == "Checkpointed":
                self.last_checkpoint = ev.it
                refresh_row = True
            elif kind == "Sample":
                self.sample_title.setText(f"<b>Latest sample</b> at step {ev.it:,} — generated from the "
                                          "same start each time")
                self.sample_text.setPlainText(ev.text.lstrip("\n"))  # it starts from a newline
            elif kind == "Note":
                from playground.core.train import COMPILING_NOTE  # torch loads with the first run

                self._compiling = ev.message == COMPILING_NOTE
                self.status_label.setText(ev.message)
            elif kind == "Started":
                if self.phase == "starting":
                    self._set_phase("training")
                if self.phase == "training":
                    self._active_since = time.monotonic()
                self.status_label.setText(f"Training run {self.run.name} (process {ev.pid}).")
            elif kind == "Paused":
                self.current_step = ev.it
                # Resume may have been pressed since: only a pause still asked for counts.
                if self.job is not None and self.job.pause_event.is_set() and self.phase != "stopping":
                    self._pause_clock()
                    self._set_phase("paused")
                    self.status_label.setText(f"Paused at step {ev.it:,}. Press Resume to continue.")
            elif kind == "Resumed":
                if self.phase == "training" and self._active_since is None:
                    self._active_since = time.monotonic()
            elif kind == "Finished":
                self.current_step = ev.it
                self.show_finished(ev)
        self.progress.setValue(min(self.current_step, self.progress.maximum()))
        self._update_times()
        if refresh_row and self.run is not None:
            self.runs_list.update_run(checkpoint.Run(self.run.path))

    def _eval_done(self, ev) -> None:
        from playground.core import analysis

        self.evals.append((ev.it, ev.train_loss, ev.val_loss))
        self.overfit_label.setVisible(analysis.overfitting(self.evals))

    @Slot()
    def _update_times(self) -> None:
        if self.phase == "idle" and self.finished_event is None:
            return
        active = self._active_s + (time.monotonic() - self._active_since if self._active_since else 0.0)
        done = self.current_step - self.start_step
        text = f"Elapsed {format_duration(active)}"
        remaining = self.total_iters - self.current_step
        if self.phase in ("training", "pausing", "paused") and done > 0 and remaining > 0:
            text += f" · about {format_duration(active / done * remaining)} left"
        self.time_label.setText(text)

    @Slot(object)
    def show_finished(self, ev) -> None:
        """A Finished event: say what happened and, for failures, what to change."""
        self.finished_event = ev
        self._pause_clock()
        title = FINISHED_TITLES.get(ev.reason, "Training ended")
        if ev.reason == "done":
            self.status_label.setText(f"{title}. {ev.message}")
            self.show_message(f"{title} at step {ev.it:,}. This model is now the current one in the "
                              "Attention and Generate tabs.", INFO_STYLE)
        elif ev.reason == "stopped":
            self.status_label.setText(f"{title}. {ev.message}")
            self.show_message(f"{title} at step {ev.it:,} and saved. Resume it from the runs list "
                              "whenever you like.", INFO_STYLE)
        else:
            self.status_label.setText(title + ".")
            what = {"nan": "\nWhat to change: a lower learning rate (try a third of it), or a longer "
                           "warmup; then start a new run.",
                    "oom": "\nWhat to change: a smaller batch size, a shorter context or a smaller model.",
                    }.get(ev.reason, "")
            message = ev.message or ""
            if ev.reason in ("nan", "oom") and ("lower" in message.lower() or "smaller" in message.lower()):
                what = ""  # the core's message already says what to change
            self.show_message(f"<b>{title}.</b><br>{message}{what}".replace("\n", "<br>"), ERROR_STYLE)

    def _job_done(self, finished) -> None:
        self._clock.stop()
        self._pause_clock()
        run = checkpoint.Run(self.run.path) if self.run is not None else None
        self.job = None
        self._set_phase("idle")
        self.runs_list.set_busy_run(None)
        self.runs_list.refresh()
        if run is not None:
            self.runs_list.select(run)
        if self.loss_plot is not None:
            self.loss_plot.redraw()
        self._update_times()
        if run is not None and finished is not None and finished.reason in ("done", "stopped") and \
                (run.has_latest() or run.snapshots()):
            self.state.set_run(run)

    def _job_failed(self, exc: BaseException) -> None:
        self._clock.stop()
        self._pause_clock()
        self.job = None
        self._set_phase("idle")
        self.status_label.setText("Training did not run.")
        if self.run is not None:  # a new run that never got going is clutter: to the trash
            try:
                run = checkpoint.Run(self.run.path)
                if run.status == "created" and not run.has_latest() and not run.metrics_path.exists():
                    run.delete()
            except (OSError, PlaygroundError):
                pass
        self.runs_list.set_busy_run(None)
        self.runs_list.refresh()
        self._show_error(exc)

    # ------------------------------------------------------------------ runs list
    @Slot(list)
    def _overlay_changed(self, runs: list) -> None:
        plot = self.ensure_plot()
        plot.set_overlays([(r.name, r.metrics()) for r in runs])

    @Slot(object)
    def _run_opened(self, run: checkpoint.Run) -> None:
        """Show an opened run's curves (unless a training is being watched)."""
        if self.busy:
            return
        from playground.core.train import lr_at

        tcfg = run.train_config
        plot = self.ensure_plot()
        stride = max(1, tcfg.iters // PLAN_POINTS)
        plan = list(range(0, tcfg.iters, stride)) + [tcfg.iters - 1]
        plot.reset(run.info.get("tokenizer", {}).get("vocab_size"), tcfg.iters,
                   ([s + 1 for s in plan], [lr_at(tcfg, s) for s in plan]))
        plot.load_metrics(run.metrics())
        plot.redraw()
        self.evals = run.evals()
        self.overfit_label.setVisible(self._overfitting())
        self.run, self.current_step, self.total_iters = run, run.step, tcfg.iters
        self.progress.setRange(0, max(1, tcfg.iters))
        self.progress.setValue(min(run.step, tcfg.iters))
        self.status_label.setText(f"Showing run {run.name}.")

    def _overfitting(self) -> bool:
        from playground.core import analysis

        return analysis.overfitting(self.evals)

    # ------------------------------------------------------------------ interrupted runs
    @Slot()
    def check_interrupted(self) -> checkpoint.Run | None:
        """Offer to resume the newest run if its training was interrupted (closed window, crash)."""
        if self.busy:
            return None
        try:
            runs = checkpoint.list_runs()
        except OSError:
            return None
        run = runs[0] if runs else None
        if run is None or not run.has_latest():
            self.banner.hide()
            return None
        crashed = run.status == "training"
        if crashed and run.metrics_path.exists() and time.time() - run.metrics_path.stat().st_mtime < 60:
            return None  # metrics still growing: it is training elsewhere (the command line)
        if not (crashed or (run.status == "stopped" and run.info.get("interrupted"))):
            self.banner.hide()
            return None
        iters = run.info.get("train", {}).get("iters", "?")
        why = "the app closed while it was training" if not crashed else "training was cut off"
        self.banner_label.setText(f"<b>Resume training?</b> Run <b>{run.name}</b> stopped at step "
                                  f"{run.step:,} of {iters:,} because {why}. Its last checkpoint is saved."
                                  if isinstance(iters, int) else f"Run {run.name} was interrupted.")
        self._banner_run = run
        self.banner.show()
        return run

    @Slot()
    def _banner_resume_clicked(self) -> None:
        if self._banner_run is not None:
            self.resume_run(self._banner_run)

    @Slot()
    def _dismiss_banner(self) -> None:
        run, self._banner_run = self._banner_run, None
        self.banner.hide()
        if run is not None and run.info.get("interrupted") and not self.busy:
            try:
                checkpoint.Run(run.path).update(touch=False, interrupted=False)
            except (OSError, PlaygroundError):
                pass

    # ------------------------------------------------------------------ closing
    def confirm_close(self) -> bool:
        """Asked by the main window before it closes: True = go ahead."""
        if not self.busy:
            return True
        return self._ask_stop_and_close()

    def _ask_stop_and_close(self) -> bool:
        box = QMessageBox(QMessageBox.Question, "Training is running",
                          "A model is still training. Stop it, save a checkpoint and close?\n\n"
                          "Next time, the Train tab offers to resume it where it stopped.", parent=self)
        stop = box.addButton("Stop, save and close", QMessageBox.AcceptRole)
        box.addButton("Keep training", QMessageBox.RejectRole)
        box.setDefaultButton(stop)
        box.exec()
        return box.clickedButton() is stop

    def shutdown(self) -> None:
        """The window closes: stop the training cleanly (the child saves), mark it interrupted."""
        job = self.job
        if job is not None and job.running:
            job.stop()
            job.wait(STOP_WAIT_MS)
            if job.process is not None and job.process.is_alive():  # did not save in time
                job.process.terminate()
                job.process.join(5)
            if self.run is not None:
                try:
                    run = checkpoint.Run(self.run.path)
                    if run.status in ("stopped", "training"):
                        run.update(touch=False, interrupted=True)
                except (OSError, PlaygroundError):
                    pass
        self._clock.stop()
        self.runs_list.shutdown()

