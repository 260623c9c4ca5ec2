"""Step 6, the Generate tab: one run picker and one row of sampling controls over three pages.

* **Write** (``write_page``): type a prompt and watch the model write, token by token.
* **Score a text** (``score_page``): each token shaded by the model's surprise.
* **Compare** (``compare_page``): the same prompt and seed on two runs or checkpoints.

Models load in a worker into the app's one cache (``core.model_cache.MODELS``). torch is only
imported inside functions: this module is imported when the window starts.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core import checkpoint
from playground.core.corpus import DEFAULT_SPLIT
from playground.core.generation_session import Transcript
from playground.gui import ui, workers
from playground.gui.tabs.generate import jobs
from playground.gui.tabs.generate.common import ModelLoader
from playground.gui.tabs.generate.compare_page import ComparePage
from playground.gui.tabs.generate.sampling_form import SamplingForm
from playground.gui.tabs.generate.score_page import ScorePage
from playground.gui.tabs.generate.translate_page import TranslatePage
from playground.gui.tabs.generate.write_page import WritePage
from playground.gui.widgets.run_picker import RunPicker

WRITE, SCORE, COMPARE, TRANSLATE = range(4)  # the pages, in tab order (Translate: encoder–decoder runs)


class GenerateTab(QWidget):
    TITLE = "Generate"

    requestTab = Signal(str)
    tokensShown = Signal(int)  # the Write page's written tokens now in the view (benchmark and tests)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.run: checkpoint.Run | None = None
        self.loader = ModelLoader(self)
        self.transcript = Transcript()  # every prompt and output of the tab (Markdown export)
        self._suggestions: dict[str, str] = {}  # run folder -> a prompt its model can read
        self._prompt_jobs: list[workers.WorkerHandle] = []
        self._build()
        self.write_page.tokensShown.connect(self.tokensShown)
        self.picker.runPicked.connect(self._run_picked)
        self.picker.combo.currentIndexChanged.connect(self._picker_index_changed)
        self.state.runChanged.connect(self._state_run_changed)
        self._update_empty_state()
        self._picker_index_changed()

    # ================================================================== UI
    def _build(self) -> None:
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_empty_page())
        main = QWidget()
        self.stack.addWidget(main)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self.stack)

        layout = QVBoxLayout(main)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.picker = RunPicker(self.state, label="Model (run):")
        self.picker.combo.setToolTip(
            "The trained model that writes. Each training on the Train tab becomes a run; the "
            "newest weights of the run are used.")
        top.addWidget(self.picker, 3)
        self.model_label = QLabel("")
        self.model_label.setStyleSheet("color: #444;")
        self.model_label.setWordWrap(True)  # a long description wraps instead of widening the window
        self.model_label.setToolTip("Size of the chosen model and how it reads text")
        top.addWidget(self.model_label, 4)
        layout.addLayout(top)
        self.form = SamplingForm()
        layout.addWidget(self.form)

        self.write_page = WritePage(self.form, self.loader, self.transcript)
        self.score_page = ScorePage(self.loader)
        self.compare_page = ComparePage(self.form, self.loader, self.transcript)
        self.pages = QTabWidget()
        self.pages.addTab(self.write_page, "Write")
        self.pages.addTab(self.score_page, "Score a text")
        self.pages.addTab(self.compare_page, "Compare two models")
        self.pages.setTabToolTip(WRITE, "Type a prompt and watch the model continue it, token by token")
        self.pages.setTabToolTip(SCORE, "How surprised is the model by a text? Low surprise = it predicts it well")
        self.pages.setTabToolTip(COMPARE, "The same prompt and seed on two runs or two checkpoints, side by side")
        self.translate_page = TranslatePage(self.form, self.loader)
        self.pages.addTab(self.translate_page, "Translate")
        self._gpt_tips = {i: self.pages.tabToolTip(i) for i in (WRITE, SCORE, COMPARE)}
        self._show_pages_for(False)
        layout.addWidget(self.pages, 1)

        for keys, slot in ((("Ctrl+Return", "Ctrl+Enter"), self._shortcut_generate),
                           (("Escape",), self.stop),
                           (("Ctrl+Shift+Return", "Ctrl+Shift+Enter"), self._shortcut_next)):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)

    def _build_empty_page(self) -> QWidget:
        self.train_first_button = QPushButton("Train a model first")
        self.train_first_button.setToolTip("Go to the Train tab")
        self.train_first_button.clicked.connect(lambda: self.requestTab.emit("Train"))
        refresh = QPushButton("Look again for runs")
        refresh.setToolTip("Re-read the runs folder (e.g. after training from the command line)")
        refresh.clicked.connect(self.refresh_runs)
        return ui.empty_page(
            "No trained model yet",
            "The Generate tab writes with a model you trained. Train one on the Train tab (a Tiny "
            "model trains in a minute), then come back here.",
            [self.train_first_button, refresh])

    # ================================================================== the surface others drive
    # The GUI benchmark and the screenshot tool press Generate and read the Write page.
    @property
    def prompt(self):
        return self.write_page.prompt

    @property
    def max_tokens(self):
        return self.form.max_tokens

    @property
    def view(self):
        return self.write_page.view

    @property
    def error_label(self):
        return self.write_page.error_label

    @Slot()
    def generate(self) -> None:
        self.write_page.generate()

    # ================================================================== runs and models
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh_runs()
        self.write_page.chart  # noqa: B018 - build it now that the tab is on screen
        self._preload()

    @Slot()
    def refresh_runs(self) -> None:
        self.picker.refresh()
        self.compare_page.fill_runs(self.picker.runs(), self.run)
        self._update_empty_state()

    def _update_empty_state(self) -> None:
        self.stack.setCurrentIndex(1 if self.picker.combo.count() > 0 else 0)

    @Slot(object)
    def _state_run_changed(self, run) -> None:
        self._update_empty_state()

    @Slot(object)
    def _run_picked(self, run) -> None:
        self._set_run(run)

    @Slot()
    def _picker_index_changed(self, *_args) -> None:
        self._set_run(self.picker.current())

    def _set_run(self, run: checkpoint.Run | None) -> None:
        self._update_empty_state()
        if run is None or run == self.run:
            return
        self.run = self.write_page.run = self.score_page.run = run
        cfg = run.model_config
        self.model_label.setText(
            f"{run.info.get('model', {}).get('arch', 'gpt')} · {cfg.n_layer} layers × {cfg.n_head} heads × "
            f"{cfg.d_model} wide · context {cfg.context_length} tokens · "
            f"{run.info.get('tokenizer', {}).get('kind', '?')} tokenizer, {cfg.vocab_size} tokens")
        self.form.set_vocab_size(cfg.vocab_size)
        self._show_pages_for(cfg.is_encoder_decoder)
        self.translate_page.set_run(run if cfg.is_encoder_decoder else None)
        self.compare_page.fill_runs(self.picker.runs(), run)
        self._preload()

    def _show_pages_for(self, translates: bool) -> None:
        """An encoder–decoder translates (its own page); a GPT writes, scores and compares."""
        for page in (WRITE, SCORE, COMPARE):
            self.pages.setTabEnabled(page, not translates)
            self.pages.setTabToolTip(page, "Writing on from a prompt, scoring and comparing are for GPT runs: this "
                                     "run translates (the Translate page)." if translates else self._gpt_tips[page])
        self.pages.setTabEnabled(TRANSLATE, translates)
        self.pages.setTabToolTip(TRANSLATE, "Type a source sentence and watch the translation appear token by token"
                                 if translates else "Translating is for encoder–decoder runs (see the Model tab)")
        if translates != (self.pages.currentIndex() == TRANSLATE):
            self.pages.setCurrentIndex(TRANSLATE if translates else WRITE)

    def _preload(self) -> None:
        """Load the current run's model in the background, so Generate starts at once. Only
        while the tab is on screen: at window start-up torch must not compete with painting."""
        if self.run is not None and self.isVisible():
            run = self.run
            self.loader.with_model(run.path, None, lambda loaded: self._model_ready(run, loaded),
                                   self.write_page.error_label.show_error)

    def _model_ready(self, run: checkpoint.Run, loaded) -> None:
        if run != self.run:  # another run was picked while this one loaded
            return
        self.write_page.mark_unknown()
        self.score_page.mark_unknown()
        self._suggest_prompt(run, loaded)

    def _suggest_prompt(self, run: checkpoint.Run, loaded) -> None:
        """Offer the pages a first prompt the run's model can read (the start of a line of its
        corpus: "The " is unreadable for a character model of a text without "T")."""
        key = str(run.path)
        if key in self._suggestions:
            self._offer_prompt(run, self._suggestions[key])
            return
        record = dict(run.corpus_record)
        split = float(record.get("split") or DEFAULT_SPLIT)
        self._prompt_jobs = [h for h in self._prompt_jobs if h.running]
        self._prompt_jobs.append(workers.start(
            jobs.prompt_job(loaded.tokenizer, record, split), parent=self,
            on_done=lambda text: self._prompt_found(run, text), on_error=ui.report_unexpected,
            name="suggest-prompt"))

    def _prompt_found(self, run: checkpoint.Run, text: str) -> None:
        self._suggestions[str(run.path)] = text
        self._offer_prompt(run, text)

    def _offer_prompt(self, run: checkpoint.Run, text: str) -> None:
        if run == self.run:
            self.write_page.offer_prompt(text)
            self.compare_page.offer_prompt(text)

    def cached_model(self, run: checkpoint.Run, step: int | None = None):
        """The run's LoadedModel when it is in the cache and current, else None (never loads)."""
        return self.loader.cached(run.path, step)

    @property
    def busy(self) -> bool:
        return (self.loader.busy or self.write_page.running or self.score_page.running
                or self.compare_page.running or self.translate_page.running
                or any(h.running for h in self._prompt_jobs))

    # ================================================================== shortcuts
    @Slot()
    def _shortcut_generate(self) -> None:
        page = self.pages.currentIndex()
        if page == WRITE:
            self.write_page.generate()
        elif page == SCORE:
            self.score_page.score()
        elif page == TRANSLATE:
            self.translate_page.translate()
        else:
            self.compare_page.compare()

    @Slot()
    def _shortcut_next(self) -> None:
        if self.pages.currentIndex() == WRITE:
            self.write_page.next_token()

    @Slot()
    def stop(self) -> None:
        """Esc: stop writing, on the Write and the Compare page."""
        self.write_page.stop()
        self.compare_page.stop()
        self.translate_page.stop()

    # ================================================================== shutdown
    def shutdown(self) -> None:
        self.write_page.closed = self.translate_page.closed = True
        workers.shutdown(self)
