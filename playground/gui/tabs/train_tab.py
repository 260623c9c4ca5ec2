"""Step 4, the Train tab: train the model in the background and watch it learn.

The student sets a few hyperparameters (or takes the sensible defaults for the model's size),
presses Start, and sees the training and validation loss fall live, the learning-rate schedule,
the speed, a sample of generated text at each evaluation, and a note if the model overfits.
Every training is a run on disk; the runs list below compares, resumes, renames, deletes,
exports and imports them.

Training runs in a child process driven by a QThread worker (see training_process.py for why
and how). Torch is never imported when this module loads: the window must open fast. Nor does
starting a training touch the GPU here: whether the model fits is checked by the training
child (Trainer._setup), whose ModelError comes back as the tab's error message, so the GUI
process never creates a CUDA context.

The settings form lives in train_form.py; the clock, the end-of-training summary and the
interrupted-run banner in train_status.py.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core import bits, checkpoint, config
from playground.core.events import (
    COMPILING_NOTE,
    Checkpointed,
    Eval,
    Finished,
    Note,
    Sample,
    Step,
)
from playground.errors import PlaygroundError
from playground.gui import device_probe, ui, workers
from playground.gui.tabs.train_form import TrainSettings
from playground.gui.tabs.train_status import (
    ActiveClock,
    ResumeBanner,
    finished_summary,
    format_duration,
)
from playground.gui.training_process import Paused, Resumed, Started, TrainingJob
from playground.gui.widgets.runs_list import RunsList, can_start_again

PROGRESS_S = 0.25  # the progress bar and times while training: ≤ 4 updates a second
STOP_WAIT_MS = 60_000  # closing the window: how long to wait for the child to save and stop
PLAN_POINTS = 2000  # the planned learning-rate curve is drawn with at most this many points
DEFAULT_PRESET = "tiny"  # until the Model tab publishes a config
SAMPLE_TITLE = "<b>Latest sample</b> — text the model writes at each evaluation"


class TrainTab(QWidget):
    TITLE = "Train"

    requestTab = Signal(str)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.job: TrainingJob | None = None
        self.run: checkpoint.Run | None = None  # the run being trained (or last trained)
        self._new_run = False  # self.run was made by this Start: not kept if it saves nothing
        self.phase = "idle"  # idle | starting | training | pausing | paused | stopping
        self._compiling = False  # the status line says the model is compiling
        self.current_step = 0
        self.start_step = 0
        self.total_iters = 0
        self.evals: list[tuple[int, float, float]] = []
        self.finished_event: Finished | None = None
        self.last_checkpoint: int | None = None
        self.loss_plot = None  # created on first show: importing pyqtgraph takes ~0.5 s
        # Characters per token of the shown runs (bits per character), measured by a worker;
        # nan: cannot be (corpus gone).
        self._ratios: dict[str, float] = {}
        self._plot_run: checkpoint.Run | None = None  # the run whose curves the plot shows live
        self._ratio_job: workers.WorkerHandle | None = None
        self.clock = ActiveClock()

        self._build()
        self._progress_shown_at = 0.0
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._clock_timer.timeout.connect(self._update_times)
        state.corpusChanged.connect(self._prerequisites_changed)
        state.tokenizerChanged.connect(self._prerequisites_changed)
        state.modelConfigChanged.connect(self._prerequisites_changed)
        self._prerequisites_changed()
        self._set_phase("idle")
        QTimer.singleShot(0, self.check_interrupted)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        # Banner: a run that was interrupted (window closed, crash) can be resumed.
        self.banner = ResumeBanner()
        self.banner.resume_button.clicked.connect(self._banner_resume_clicked)
        self.banner.dismiss_button.clicked.connect(self._dismiss_banner)

        # What is missing before training can start.
        self.prereq = QFrame()
        self.prereq.setStyleSheet(f"QFrame {{ {ui.WARNING} }} QLabel {{ border: none; padding: 0; }}")
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

        self.settings = TrainSettings()
        self.settings.defaults_button.clicked.connect(self.apply_defaults)
        self.settings.scale_button.clicked.connect(self.open_scale_dialog)
        # One batch size for the whole app: the Model tab's memory check and Measure use it too.
        self.settings.batch_box.setValue(self.state.batch_size)
        self.settings.batch_box.valueChanged.connect(self.state.set_batch_size)
        self.state.batchSizeChanged.connect(self._batch_changed)
        col.addWidget(self.settings)

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
        self.status_label.setStyleSheet(ui.NOTE)
        col.addWidget(self.status_label)
        self.message_label = ui.MessageLabel()
        col.addWidget(self.message_label)
        self.overfit_label = QLabel(
            "<b>Overfitting?</b> The validation loss has risen for several evaluations while the "
            "training loss kept falling: the model is memorising its training text instead of "
            "learning patterns that carry over to new text. Try more text, some dropout "
            "(Model tab), or a smaller model; the best checkpoint so far is kept.")
        self.overfit_label.setWordWrap(True)
        self.overfit_label.setStyleSheet(ui.WARNING)
        self.overfit_label.setToolTip("Overfitting: doing better and better on the training text but "
                                      "worse on unseen text")
        self.overfit_label.hide()
        col.addWidget(self.overfit_label)
        col.addStretch(1)

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
        self.sample_title = QLabel(SAMPLE_TITLE)
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
        main.addWidget(ui.side_panel(left, 300, 380))
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
        self._describe_model()  # the device may be known by now

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

    def _reset_plot(self, run: checkpoint.Run):
        """Empty the live curves for ``run``: its vocabulary's reference line and planned schedule."""
        tcfg = run.train_config
        stride = max(1, tcfg.iters // PLAN_POINTS)
        plan = list(range(0, tcfg.iters, stride)) + [tcfg.iters - 1]
        plot = self.ensure_plot()
        plot.reset(run.info.get("tokenizer", {}).get("vocab_size"), tcfg.iters,
                   ([s + 1 for s in plan], [config.lr_at(tcfg, s) for s in plan]))
        self._plot_run = run
        plot.set_live_units(run.name, bits.tokenizer_label(run.info), self._ratio(run))
        self._measure_ratios()
        return plot

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def model_config(self) -> config.ModelConfig:
        """The config to train: the Model tab's, or the Tiny preset; vocabulary = the tokenizer's."""
        tok = self.state.tokenizer
        cfg = self.state.model_config
        if cfg is None:
            return config.preset(DEFAULT_PRESET, tok.vocab_size)
        return cfg.for_vocab(tok.vocab_size)

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
        self._follow_size_defaults()
        self._describe_model()
        self._update_buttons()

    def _follow_size_defaults(self) -> None:
        """Keep the form on the model size's defaults (config.training_defaults, the CLI's rule
        too) until the student changes a field: Start then trains what the built-in texts were
        tested with."""
        untouched = self.settings.auto_values is None or self.settings.auto_values == self.settings.shown_values()
        if self.phase == "idle" and self.state.tokenizer is not None and untouched:
            try:
                self.settings.apply_defaults(self.model_config())
            except PlaygroundError:
                pass  # a config the Model tab refuses: the form keeps its values
            else:
                self.state.set_batch_size(self.settings.batch_box.value())

    def _describe_model(self) -> None:
        cfg = self.state.model_config
        tok = self.state.tokenizer
        if cfg is None:
            text = (f"<b>{DEFAULT_PRESET.title()} preset</b> (the default until you choose a size on "
                    "the Model tab): 2 layers, 2 heads, 64 wide, context 64.")
        elif cfg.arch == "bigram":
            text = "<b>Bigram</b>: one table of next-token scores, no attention."
        elif cfg.is_encoder_decoder:
            text = (f"<b>Encoder–decoder</b>: {cfg.n_layer} encoder + {cfg.n_layer} decoder layers, {cfg.n_head} "
                    f"heads, {cfg.d_model} wide, context {cfg.context_length}.")
        else:
            text = (f"<b>{cfg.n_layer} layers</b>, {cfg.n_head} heads, {cfg.d_model} wide, "
                    f"context {cfg.context_length}" + (f", dropout {cfg.dropout:g}" if cfg.dropout else "") + ".")
        if tok is not None:
            try:
                n = config.param_count(self.model_config())
                text += f" About {n / 1e6:.2f} M parameters."
            except PlaygroundError:
                pass
            text += f"<br>Vocabulary: {tok.vocab_size:,} tokens ({tok.kind})."
        device = device_probe.cached()  # asked at start-up for the status bar; training picks the GPU if any
        if device is not None:
            text += f"<br>Trains on: {device.description}."
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
        self.settings.set_editable(phase == "idle")
        self.banner.resume_button.setEnabled(phase == "idle")

    # ------------------------------------------------------------------ settings
    def train_config(self) -> config.TrainConfig:
        """The TrainConfig from the form; TrainingError (message + hint) when a value is bad."""
        return self.settings.train_config(self.state.split)

    def set_train_values(self, **values: Any) -> None:
        self.settings.set_values(**values)

    @Slot(int)
    def _batch_changed(self, value: int) -> None:
        """The shared batch size changed (here or on the Model tab)."""
        self.settings.batch_box.setValue(value)  # no echo: the state ignores an equal value

    @Slot()
    def open_scale_dialog(self):
        from playground.gui import scale_dialog

        return scale_dialog.open_for(self)

    @Slot()
    def apply_defaults(self) -> None:
        if self.state.tokenizer is None:
            self._prerequisites_changed()
            return
        try:
            self.settings.apply_defaults(self.model_config())
        except PlaygroundError as exc:
            self.message_label.show_error(exc)
            return
        self._describe_model()

    # ------------------------------------------------------------------ start / resume
    @Slot()
    def _start_shortcut(self) -> None:
        if self.start_button.isEnabled():
            self.start_training()

    @Slot()
    def start_training(self) -> checkpoint.Run | None:
        """Create a run from the form and train it in a child process.

        Whether the model fits in memory is not checked here: that needs the device, and asking
        CUDA about it would create a CUDA context in the GUI process. The child checks it before
        it builds anything (Trainer._setup) and its ModelError arrives in ``_job_failed``.
        """
        if self.busy:
            return None
        if self.state.corpus is None or self.state.tokenizer is None:
            self._prerequisites_changed()
            self.message_label.show_text("Training needs a text and a tokenizer first (see the note above).",
                                         ui.WARNING)
            return None
        self.message_label.clear_message()
        self.status_label.setText("Preparing…")
        try:
            tcfg = self.train_config()
            mcfg = self.model_config()
            mcfg.validate()
            corpus = self.state.corpus
            run = checkpoint.Run.create(self.settings.run_name, mcfg, tcfg, corpus.record(tcfg.split),
                                        self.state.tokenizer)
        except PlaygroundError as exc:
            self.status_label.setText("Ready.")
            self.message_label.show_error(exc)
            return None
        self._describe_model()
        self._launch(run, corpus, resume=False, new=True)
        return run

    @Slot(object)
    def resume_run(self, run: checkpoint.Run) -> None:
        """Continue a stopped or interrupted run from its latest.pt, or start it again from step 0
        when it was cut off before its first checkpoint.

        Whether another process trains the run is the training child's to find out (it takes
        the run's lock first and refuses with RunBusy): nothing of the run is written here.
        """
        if self.busy:
            return
        run = checkpoint.Run(run.path)  # fresh run.json
        again = not run.has_latest()
        if again and not can_start_again(run):
            self.message_label.show_text(f"Run '{run.name}' has no checkpoint to resume from.\n"
                                         "Start a new run instead.")
            return
        self.message_label.clear_message()
        corpus = self.state.corpus
        if corpus is None or corpus.sha256 != run.corpus_record.get("sha256"):
            corpus = None  # the child reloads it from the run's record (and says so if it vanished)
        self.banner.take()
        self._launch(run, corpus, resume=not again, restart=again)

    def _launch(self, run: checkpoint.Run, corpus, resume: bool, restart: bool = False, new: bool = False) -> None:
        self.run = run
        self.state.set_run(run)  # the status bar and the other tabs follow the run being trained
        self._new_run = new
        tcfg = run.train_config
        self.total_iters = tcfg.iters
        self.start_step = self.current_step = run.step if resume else 0
        self.evals = []
        self.finished_event = None
        self.last_checkpoint = None
        self.overfit_label.hide()
        self.settings.mark(None)
        plot = self._reset_plot(run)
        if resume:
            rows = [r for r in run.metrics() if r["it"] is not None and r["it"] <= run.step]
            plot.load_metrics(rows)
            self.evals = [(r["it"], r["train_loss"], r["val_loss"]) for r in rows if r["kind"] == "eval"]
            plot.redraw()
        self.sample_text.clear()
        self.sample_title.setText(SAMPLE_TITLE)
        self.progress.setRange(0, max(1, tcfg.iters))
        self.progress.setValue(self.current_step)
        self.clock.reset()
        self.time_label.setText(" ")
        doing = "Resuming" if resume else "Starting again" if restart else "Starting"
        self.status_label.setText(f"{doing} run {run.name}: launching the training process (loading torch "
                                  "takes a few seconds)…")
        self.runs_list.refresh()
        self.runs_list.set_busy_run(run)
        self.runs_list.select(run)
        self._set_phase("starting")
        self.job = TrainingJob(run.path, corpus, resume=resume, restart=restart, parent=self,
                               on_events=self.handle_events, on_done=self._job_done, on_error=self._job_failed)
        self._clock_timer.start()

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
        self.clock.start()
        self.status_label.setText(f"Training run {self.run.name}.")

    @Slot()
    def stop_training(self) -> None:
        if self.job is None or not self.job.running or self.phase == "stopping":
            return
        self.job.stop()
        self.clock.pause()
        self._set_phase("stopping")
        self.status_label.setText("Stopping after the current step and saving a checkpoint…")

    # ------------------------------------------------------------------ events from the worker
    @Slot(list)
    def handle_events(self, events: list) -> None:
        """A batch of the child's events (GUI thread, ≤ ~30 batches a second)."""
        plot = self.ensure_plot()
        plot.add_events(events)
        refresh_row = False
        for ev in events:
            match ev:
                case Step(it=it):
                    self.current_step = it
                    if self._compiling:  # the first compiled step has run
                        self._compiling = False
                        self.status_label.setText(f"Training run {self.run.name} (compiled).")
                case Eval(it=it, train_loss=train_loss, val_loss=val_loss):
                    self.current_step = max(self.current_step, it)
                    self.evals.append((it, train_loss, val_loss))
                    self._update_overfit_note()
                case Checkpointed(it=it):
                    self.last_checkpoint = it
                    refresh_row = True
                    if self.run is not None:  # the Attention tab follows the training's checkpoints
                        self.state.notify_checkpoint(str(self.run.path), it)
                case Sample(it=it, text=text):
                    translates = self.run is not None and self.run.model_config.is_encoder_decoder
                    self.sample_title.setText(f"<b>Latest sample</b> at step {it:,} — " + (
                        "the first validation source → the model's translation" if translates
                        else "generated from the same start each time"))
                    self.sample_text.setPlainText(text.lstrip("\n"))  # it starts from a newline
                case Note(message=message):
                    self._compiling = message == COMPILING_NOTE
                    self.status_label.setText(message)
                case Started(pid=pid):
                    if self.phase == "starting":
                        self._set_phase("training")
                    if self.phase == "training":
                        self.clock.start()
                    self.status_label.setText(f"Training run {self.run.name} (process {pid}).")
                case Paused(it=it):
                    self.current_step = it
                    # Resume may have been pressed since: only a pause still asked for counts.
                    if self.job is not None and self.job.pause_event.is_set() and self.phase != "stopping":
                        self.clock.pause()
                        self._set_phase("paused")
                        self.status_label.setText(f"Paused at step {it:,}. Press Resume to continue.")
                case Resumed():
                    if self.phase == "training":
                        self.clock.start()
                case Finished(it=it):
                    self.current_step = it
                    self.show_finished(ev)
        # The progress bar repaints at once whenever its text changes, and the GUI's painting
        # slows the training child that shares the cores: ≤ 4 times a second (the times below
        # also follow the clock timer, once a second).
        now = time.monotonic()
        if now - self._progress_shown_at >= PROGRESS_S or self.phase != "training" or \
                any(isinstance(ev, (Finished, Paused)) for ev in events):
            self._progress_shown_at = now
            self.progress.setValue(min(self.current_step, self.progress.maximum()))
            self._update_times()
        if refresh_row and self.run is not None:
            self.runs_list.update_run(checkpoint.Run(self.run.path))

    def _update_overfit_note(self) -> None:
        from playground.core import analysis  # loads numpy: not while the window opens

        self.overfit_label.setVisible(analysis.overfitting(self.evals))

    @Slot()
    def _update_times(self) -> None:
        if self.phase == "idle" and self.finished_event is None:
            return
        active = self.clock.seconds
        done = self.current_step - self.start_step
        text = f"Elapsed {format_duration(active)}"
        remaining = self.total_iters - self.current_step
        if self.phase in ("training", "pausing", "paused") and done > 0 and remaining > 0:
            text += f" · about {format_duration(active / done * remaining)} left"
        self.time_label.setText(text)

    @Slot(object)
    def show_finished(self, ev: Finished) -> None:
        """A Finished event: say what happened and, for failures, point at the setting to change."""
        self.finished_event = ev
        self.clock.pause()
        status, message, style = finished_summary(ev)
        self.status_label.setText(status)
        self.message_label.show_text(message, style)
        self.settings.mark(ev.suggest)

    def _job_done(self, finished: Finished | None) -> None:
        self._clock_timer.stop()
        self.clock.pause()
        failed = finished is None or finished.reason not in ("done", "stopped")
        if failed and self._discard_unstarted_run() and finished is not None:
            _status, message, style = finished_summary(finished)
            self.message_label.show_text(f"{message}<br>Nothing was saved, so the run was not kept.", style)
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
        self._clock_timer.stop()
        self.clock.pause()
        self.job = None
        self._set_phase("idle")
        self.status_label.setText("Training did not run.")
        self._discard_unstarted_run()
        self.runs_list.set_busy_run(None)
        self.runs_list.refresh()
        self.message_label.show_error(exc)

    def _discard_unstarted_run(self) -> bool:
        """A run this Start created that saved no weights (refused: text too small, model too big;
        failed before its first checkpoint; its process died first) would become the "latest" run
        with nothing in it: it goes, as the command line does (Run.discard_unstarted)."""
        if self.run is None or not self._new_run:
            return False
        try:
            discarded = checkpoint.Run(self.run.path).discard_unstarted()
        except (OSError, PlaygroundError):
            return False
        if discarded:
            self.run = None
        return discarded

    # ------------------------------------------------------------------ runs list
    @Slot(list)
    def _overlay_changed(self, runs: list) -> None:
        from playground.gui.widgets.loss_plot import OverlayRun

        plot = self.ensure_plot()
        plot.set_overlays([OverlayRun(r.name, r.metrics(), bits.tokenizer_label(r.info), self._ratio(r))
                           for r in runs])
        self._measure_ratios()

    # ------------------------------------------------------------------ bits per character
    def _ratio(self, run: checkpoint.Run) -> float | None:
        """The run's characters per token if known (nan: it cannot be measured)."""
        return self._ratios.get(str(run.path)) or bits.peek_chars_per_token(run.path)

    def _measure_ratios(self) -> None:
        """Measure, in a worker (it reads and encodes the corpus), the characters per token of
        the shown and overlaid runs that lack it; the curves are redrawn with them."""
        if self._ratio_job is not None:
            return  # its end measures again what is still missing
        runs = self.runs_list.checked_runs() + ([self._plot_run] if self._plot_run is not None else [])
        missing = list(dict.fromkeys(str(r.path) for r in runs if self._ratio(r) is None))
        if not missing:
            return

        self._ratio_job = workers.start(lambda progress, cancel: bits.runs_chars_per_token(missing),
                                        parent=self, on_done=self._ratios_measured,
                                        on_error=self._ratios_failed, name="chars-per-token")

    def _ratios_measured(self, found: dict[str, float]) -> None:
        self._ratio_job = None
        self._ratios.update(found)
        if self.loss_plot is None:
            return
        run = self._plot_run
        if run is not None:
            self.loss_plot.set_live_units(run.name, bits.tokenizer_label(run.info), self._ratio(run))
        self._overlay_changed(self.runs_list.checked_runs())  # measures again what was ticked since

    def _ratios_failed(self, exc: BaseException) -> None:
        self._ratio_job = None
        ui.report_unexpected(exc)

    @Slot(object)
    def _run_opened(self, run: checkpoint.Run) -> None:
        """Show an opened run's curves (unless a training is being watched)."""
        if self.busy:
            return
        tcfg = run.train_config
        plot = self._reset_plot(run)
        plot.load_metrics(run.metrics())
        plot.redraw()
        self.evals = run.evals()
        self._update_overfit_note()
        self.run, self.current_step, self.total_iters = run, run.step, tcfg.iters
        self.progress.setRange(0, max(1, tcfg.iters))
        self.progress.setValue(min(run.step, tcfg.iters))
        self.status_label.setText(f"Showing run {run.name}.")

    # ------------------------------------------------------------------ interrupted runs
    @Slot()
    def check_interrupted(self) -> checkpoint.Run | None:
        """Offer to resume (or start again) the newest run if its training was cut off (closed
        window, the app killed, a crash)."""
        if self.busy:
            return None
        try:
            runs = checkpoint.list_runs()
        except OSError:
            return None
        return self.banner.offer(runs)

    @Slot()
    def _banner_resume_clicked(self) -> None:
        if self.banner.run is not None:
            self.resume_run(self.banner.run)

    @Slot()
    def _dismiss_banner(self) -> None:
        run = self.banner.take()
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
            self._discard_unstarted_run()  # closed while its process was still starting
        self._clock_timer.stop()
        self.runs_list.shutdown()
        workers.shutdown(self)  # a characters-per-token measure
