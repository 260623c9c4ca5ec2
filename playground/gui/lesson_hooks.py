"""What the lessons need from the window: its actions recorded, its controls found, a setup applied.

- :class:`ActivityWatcher` listens to the tabs' own signals from the window's start and records
  what a mission checks (``core.activity``): a BPE trained, the merges player opened, runs
  overlaid, the logit lens, the loss step of the math, an ablation, text generated. (A few
  results arrive without a signal: the Generate tab's scores and comparisons and the positions
  experiment record themselves with one line where they are shown.)
- :data:`TARGETS` / :func:`find_target`: the control a step or the tour points at, by name. The
  control gets that name as its objectName, so ``window.findChild(QWidget, name)`` finds it too.
- :class:`SetupRunner`: one click's setup (core.missions.Setup) applied through the tabs, as the
  student would: load the corpus, choose the tokenizer, the model and the training settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint, QRect, Signal, Slot
from PySide6.QtWidgets import QWidget

from playground.core import activity as act

# ------------------------------------------------------------------------------ finding controls


def tab_of(window, title: str):
    """The main window's tab called ``title``."""
    return window.tab_widgets[[t.TITLE for t in window.tab_widgets].index(title)]


def _attention(window, attr: str) -> QWidget | None:
    tab = tab_of(window, "Attention")
    window.show_tab("Attention")
    if hasattr(tab, "_update_page"):
        tab._update_page()  # builds the views when there is a run to show
    return getattr(tab, attr, None) if getattr(tab, "_built", False) else tab


TARGETS: dict[str, Callable[[Any], QWidget | None]] = {
    "corpus.builtin": lambda w: tab_of(w, "Corpus").builtin_combo,
    "tokenizer.kind": lambda w: tab_of(w, "Tokenizer").radios["bpe"].parentWidget(),
    "tokenizer.train_bpe": lambda w: tab_of(w, "Tokenizer").train_button,
    "tokenizer.compare": lambda w: tab_of(w, "Tokenizer").comparison,
    "tokenizer.merges": lambda w: tab_of(w, "Tokenizer").merges,
    "model.preset": lambda w: tab_of(w, "Model").preset_combo,
    "model.positions": lambda w: tab_of(w, "Model").positions_button,
    "train.start": lambda w: tab_of(w, "Train").start_button,
    "train.plot": lambda w: tab_of(w, "Train").ensure_plot(),
    "train.units": lambda w: tab_of(w, "Train").ensure_plot().units_box,
    "train.runs": lambda w: tab_of(w, "Train").runs_list,
    "attention.grid": lambda w: _attention(w, "grid"),
    "attention.labels": lambda w: _attention(w, "labels_page"),
    "attention.switch_off": lambda w: _attention(w, "ablation_view"),
    "attention.lens": lambda w: _attention(w, "lens_view"),
    "attention.math": lambda w: _attention(w, "math_view"),
    "generate.next": lambda w: tab_of(w, "Generate").write_page.next_button,
    "generate.top_k": lambda w: tab_of(w, "Generate").form.top_k,
    "generate.chart": lambda w: tab_of(w, "Generate").write_page.chart_holder,
    "generate.train_vs_val": lambda w: tab_of(w, "Generate").score_page.trainval_button,
}


def find_target(window, name: str) -> QWidget | None:
    """The control called ``name`` (TARGETS), named so (objectName) for the next look-up."""
    resolve = TARGETS.get(name)
    widget = resolve(window) if resolve is not None else window.findChild(QWidget, name)
    if widget is not None and not widget.objectName():
        widget.setObjectName(name)
    return widget


def tab_rect(window, title: str) -> tuple[QWidget, QRect]:
    """The tab bar and the rectangle of the tab called ``title`` in it (the tour points there)."""
    bar = window.tabs.tabBar()
    index = [window.tabs.tabText(i) for i in range(window.tabs.count())].index(title)
    return bar, bar.tabRect(index)


# ------------------------------------------------------------------------------ recording


class ActivityWatcher(QObject):
    """Records, from the window's start, what the student does that a mission checks."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.tokenizer_tab = tab_of(window, "Tokenizer")
        self.train_tab = tab_of(window, "Train")
        self.attention_tab = tab_of(window, "Attention")
        self.generate_tab = tab_of(window, "Generate")
        self._attention_hooked = False
        self._units_hooked = False
        self.tokenizer_tab.tokenizerReady.connect(self._tokenizer_ready)
        self.tokenizer_tab.inner_tabs.currentChanged.connect(self._tokenizer_page)
        self.train_tab.runs_list.overlayChanged.connect(self._overlay_changed)
        self.attention_tab.shown.connect(self._attention_shown)
        self.generate_tab.tokensShown.connect(self._tokens_shown)

    # -- tokenizer
    @Slot(object)
    def _tokenizer_ready(self, tok: Any) -> None:
        if getattr(tok, "kind", None) == "bpe":
            act.record(act.BPE_TRAINED, vocab_size=int(tok.vocab_size))
        self._tokenizer_page()

    @Slot()
    @Slot(int)
    def _tokenizer_page(self, *_args) -> None:
        tab = self.tokenizer_tab
        if tab.inner_tabs.currentWidget() is tab.merges and tab.merges.tokenizer is not None:
            act.record(act.MERGES_PLAYER, vocab_size=int(tab.merges.tokenizer.vocab_size))

    # -- train: overlaid curves, in which units
    @Slot(list)
    def _overlay_changed(self, _runs: list) -> None:
        plot = self.train_tab.loss_plot
        if plot is not None and not self._units_hooked:
            plot.units_box.currentIndexChanged.connect(self._units_changed)
            self._units_hooked = True
        self._units_changed()

    @Slot()
    @Slot(int)
    def _units_changed(self, *_args) -> None:
        tab = self.train_tab
        names = {r.name for r in tab.runs_list.checked_runs()}
        if tab.run is not None:
            names.add(tab.run.name)  # the run the plot shows live, under the ticked ones
        if len(names) >= 2:
            bits = tab.loss_plot is not None and tab.loss_plot.bpc
            act.record(act.RUNS_OVERLAID, runs=sorted(names), bits_per_char=bool(bits))

    # -- attention: the lens, the loss step of the math, switching parts off
    @Slot()
    def _attention_shown(self) -> None:
        tab = self.attention_tab
        if not self._attention_hooked and getattr(tab, "_built", False):
            self._attention_hooked = True
            tab.views.currentChanged.connect(self._attention_view)
            tab.math_view.verticalScrollBar().valueChanged.connect(self._attention_view)
            tab.ablation_view.computed.connect(self._ablation_computed)
        self._attention_view()

    def _run_name(self) -> str | None:
        run = self.attention_tab.run
        return run.name if run is not None else None

    @Slot()
    @Slot(int)
    def _attention_view(self, *_args) -> None:
        tab = self.attention_tab
        if not getattr(tab, "_built", False) or self._run_name() is None:
            return
        view = tab.current_view()
        if view == "Logit lens" and tab.lens_view.lens is not None:
            act.record(act.LOGIT_LENS, run=self._run_name())
        elif view == "The math" and tab.math_view.forward.data is not None and self.loss_step_on_screen():
            act.record(act.LOSS_STEP, run=self._run_name())

    def loss_step_on_screen(self) -> bool:
        """Step 17 of "The math" (the loss) is at least partly inside the scroll area's view."""
        math_view = self.attention_tab.math_view
        step = math_view.forward.step_loss
        if not step.isVisible():
            return False
        port = math_view.viewport()
        top = step.mapTo(port, QPoint(0, 0)).y()
        return top < port.height() and top + step.height() > 0

    @Slot()
    def _ablation_computed(self) -> None:
        view = self.attention_tab.ablation_view
        ablation = view.ablation()
        if not ablation or view.result is None or view.result.comparison is None or view.run_path is None:
            return
        act.record(act.ABLATION, run=Path(view.run_path).name,
                   heads=[f"layer {layer + 1} head {head + 1}" for layer, head in sorted(ablation.heads)],
                   mlps=[f"layer {layer + 1}" for layer in sorted(ablation.mlps)], positions=ablation.positions)

    # -- generate: with which settings, and tokens picked by hand
    @Slot(int)
    def _tokens_shown(self, _n: int) -> None:
        page = self.generate_tab.write_page
        session, run = page.session, page.run
        if run is None:
            return
        try:
            cfg = page.form.config()
        except Exception:  # noqa: BLE001 - a value being typed: the form says what is wrong
            return
        act.record(act.GENERATED, run=run.name, temperature=float(cfg.temperature), top_k=cfg.top_k,
                   top_p=cfg.top_p, greedy=bool(cfg.greedy), step_mode=session.proposal is not None)
        if any(getattr(s, "forced", False) for s in session.steps):
            act.record(act.PICKED_TOKEN, run=run.name)


# ------------------------------------------------------------------------------ one-click setup


class SetupRunner(QObject):
    """Applies a ``core.missions.Setup`` through the tabs and says when everything is in place.

    Each stage waits for the window's own signals (the corpus loads and the tokenizers are made
    in workers; the Model tab publishes a config once it knows the device), so nothing blocks.
    """

    progress = Signal(str)  # what it is doing, in words
    finished = Signal(object)  # the Setup, applied
    failed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.setup = None
        self._spec: str | None = None
        self._asked: set[str] = set()
        for signal in (self.state.corpusChanged, self.state.tokenizerChanged, self.state.modelConfigChanged):
            signal.connect(self._advance)
        self.window.tokenizer_tab.tokenizerReady.connect(self._advance)

    @property
    def busy(self) -> bool:
        return self.setup is not None

    def start(self, setup) -> None:
        from playground.core import missions
        from playground.errors import PlaygroundError

        try:
            self._spec = missions.prepare_corpus(setup)
        except (OSError, PlaygroundError) as exc:
            self.failed.emit(f"The mission's text could not be prepared: {exc}")
            return
        self.setup, self._asked = setup, set()
        tok_tab = self.window.tokenizer_tab
        if setup.vocab_size is not None:
            spin = tok_tab.bpe_spin if setup.tokenizer == "bpe" else tok_tab.word_spin
            spin.setValue(setup.vocab_size)
        tok_tab.select_kind(setup.tokenizer)
        self._advance()

    def cancel(self) -> None:
        self.setup = None

    def _corpus_ready(self) -> bool:
        corpus = self.state.corpus
        if corpus is None:
            return False
        spec = self._spec or ""
        return corpus.source == spec if spec.startswith("builtin:") else Path(corpus.source).name == Path(spec).name

    @Slot()
    @Slot(object)
    def _advance(self, *_args) -> None:
        setup = self.setup
        if setup is None:
            return
        window, tok_tab = self.window, self.window.tokenizer_tab
        if not self._corpus_ready():
            if "corpus" not in self._asked and not window.corpus_tab.busy:
                self._asked.add("corpus")
                self.progress.emit(f"Loading the text ({setup.corpus})…")
                window.corpus_tab.load_spec(self._spec)
            return
        tok = self.state.tokenizer
        wanted = tok_tab.tokenizers.get(setup.tokenizer)
        other_size = wanted is not None and setup.vocab_size and wanted.vocab_size != setup.vocab_size
        if setup.tokenizer == "bpe" and (wanted is None or other_size):
            if "bpe" not in self._asked and not tok_tab.busy:
                self._asked.add("bpe")
                self.progress.emit("Training the BPE tokenizer…")
                tok_tab.train_bpe()
            return
        if tok is None or tok is not wanted or tok_tab.corpus is not self.state.corpus:
            if tok_tab.kind != setup.tokenizer:
                tok_tab.select_kind(setup.tokenizer)
            self.progress.emit("Preparing the tokenizer…")
            return
        cfg = setup.model_config(tok.vocab_size)
        if cfg is not None:
            if self.state.model_config != cfg:
                if "model" not in self._asked:
                    self._asked.add("model")
                    self.progress.emit("Choosing the model…")
                    tab_of(window, "Model").set_config(cfg)
                    if self.state.model_config != cfg:
                        return  # published once the Model tab knows the device (it asks now)
                else:
                    return
            train = tab_of(window, "Train")
            train.set_train_values(**setup.train_values(tok.vocab_size))
            self.state.set_batch_size(train.settings.batch_box.value())
            train.settings.name_edit.setText(setup.run_name or "")
        self.setup = None
        self.finished.emit(setup)
