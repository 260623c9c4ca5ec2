"""Switch parts of the model off and see what changes: the ablation view of the Attention tab.

A grid of checkboxes — every head (layer × head, with the pattern the tab labelled it with), each
block's MLP, the position vectors — and, for the chosen position of the text, the next-token
probabilities before and after side by side (two bars per token), the validation loss on a fixed
sample before and after, and a "Which heads matter?" button that switches the heads off one at a
time and sorts them by how much the loss rises.

Every number comes from ``core.ablation`` in a worker (``workers.start``); the model is the app's
shared one (``model_cache.MODELS``), which the core switches parts off in with hooks on the
worker's thread only. The Attention tab tells it what is shown with :meth:`AblationView.set_context`
(or :meth:`AblationView.show_context`, the call of ``AttentionTab.add_view``).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core import ablation as ab
from playground.core.attention_views import PATTERN_TITLES
from playground.errors import PlaygroundError
from playground.gui import ui, workers
from playground.gui.widgets.prob_bars import ProbBars, tick_label

BEFORE_COLOR = "#56b4e9"  # the same blue and orange as ProbBars draws its two bars in
AFTER_COLOR = "#e69f00"


@dataclass(frozen=True)
class Shape:
    """What can be switched off in a model: read from the loaded model by the first job."""

    arch: str
    n_layer: int
    n_head: int
    positions: bool


@dataclass(frozen=True)
class _Result:
    key: tuple
    shape: Shape
    comparison: ab.Comparison | None  # None for a bigram
    token_labels: dict[int, str]  # labels of the tokens in the bars


def _compare_job(key: tuple, sample: ab.Sample | None) -> _Result:
    from playground.core.model_cache import MODELS

    run_path, step, ids, query, ablation = key
    loaded = MODELS.get(run_path, step)
    cfg = loaded.model.config
    gpt = cfg.arch == "gpt"
    shape = Shape(cfg.arch, cfg.n_layer if gpt else 0, cfg.n_head if gpt else 0, ab.has_positions(loaded.model))
    if not gpt:
        return _Result(key, shape, None, {})
    comparison = ab.compare(run_path, step, list(ids), query, ablation, sample)
    rows = comparison.next_token.rows if comparison.next_token is not None else []
    labels = {i: loaded.tokenizer.token_label(i) for i, _, _ in rows}
    return _Result(key, shape, comparison, labels)


@dataclass(frozen=True)
class Importance:
    """Each head's effect, switched off alone: (whole model's loss, effects) on the text shown
    (None: under two tokens) and on the validation sample (None: the corpus is gone)."""

    text: tuple[float, list[ab.HeadEffect]] | None
    sample: tuple[float, list[ab.HeadEffect]] | None


def _importance_job(key: tuple, sample: ab.Sample | None, progress, cancel) -> Importance:
    from playground.core.model_cache import MODELS

    run_path, step, ids = key
    loaded = MODELS.get(run_path, step)
    model = loaded.model
    heads = model.config.n_layer * model.config.n_head
    on_text = None
    if len(ids) >= 2:
        on_text = ab.head_importance(model, ab.text_sample(ids), progress=lambda d, _t: progress(d, 2 * heads),
                                     cancel=cancel)
    if sample is None:
        try:
            sample = ab.validation_sample(run_path, loaded.tokenizer, model.config.context_length)
        except PlaygroundError:  # the corpus is gone: the text's column alone
            if on_text is None:
                raise
            return Importance(on_text, None)
    on_sample = ab.head_importance(model, sample, progress=lambda d, _t: progress(heads + d, 2 * heads),
                                   cancel=cancel)
    return Importance(on_text, on_sample)


class BeforeAfterBars(ProbBars):
    """ProbBars' two bars per token, read as: blue the whole model, orange with the parts off."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_text = "Pick a text: this chart shows the next-token probabilities before and after."
        self.title.setText(self.empty_text)
        self.legend.setText(
            f"<span style='color:{BEFORE_COLOR}'>&#9632;</span>&nbsp;the whole model &nbsp; "
            f"<span style='color:{AFTER_COLOR}'>&#9632;</span>&nbsp;with the ticked parts switched off "
            "(the number)")
        self.setToolTip("The next-token probabilities at the chosen position: blue with every part of "
                        "the model working, orange with the ticked parts switched off.")

    def row_tooltip(self, row: int) -> str:
        token_id, label, before, after = self._alts[row]
        return "<br>".join([f"<b>{tick_label(label)}</b> (token id {token_id})",
                            f"the whole model: {before:.2%}",
                            f"with the parts switched off: {after:.2%}"])


class AblationView(QWidget):
    """See the module docstring. Public API: :meth:`set_context`, :meth:`set_ablation`, ``computed``."""

    computed = Signal()  # the bars and losses now show the current context and ablation
    importanceComputed = Signal()  # the "Which heads matter?" table is filled

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_path: str | None = None
        self.step: int | None = None
        self.ids: list[int] = []
        self.labels: list[str] = []
        self.query: int | None = None
        self.head_labels: list[list[tuple[str, float]]] | None = None
        self.shape: Shape | None = None
        self.shown_key: tuple | None = None
        self.result: _Result | None = None
        self.importance: Importance | None = None
        self._samples: dict[str, ab.Sample] = {}
        self._handle: workers.WorkerHandle | None = None
        self._importance_handle: workers.WorkerHandle | None = None
        self._pending = False
        self._closed = False
        self._setting = False  # ticking boxes from code: one request at the end, not one per box
        self.head_boxes: dict[tuple[int, int], QCheckBox] = {}
        self.mlp_boxes: dict[int, QCheckBox] = {}

        intro = QLabel("Tick parts of the model to switch them off, and see what the model predicts "
                       "without them. A head switched off adds nothing to W_O; an MLP switched off "
                       "adds nothing to the residual stream; without positions the model is order-blind.")
        intro.setWordWrap(True)
        self.grid_box = QWidget()
        self.grid = QGridLayout(self.grid_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.positions_box = QCheckBox("the positions (every position vector zero)")
        self.positions_box.toggled.connect(self._toggled)
        self.all_on = QPushButton("Switch everything back on")
        self.all_on.clicked.connect(self.clear_ablation)
        parts_row = QHBoxLayout()
        parts_row.addWidget(self.positions_box)
        parts_row.addStretch(1)
        parts_row.addWidget(self.all_on)

        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # moving to and fro: working, no fraction to show
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        self.status_label = QLabel("")
        self.status_label.setStyleSheet(ui.NOTE)
        busy_row = QHBoxLayout()
        busy_row.addWidget(self.busy_bar)
        busy_row.addWidget(self.status_label, 1)
        self.error_label = ui.MessageLabel()

        self.bars = BeforeAfterBars()
        self.target_label = QLabel("")
        self.target_label.setWordWrap(True)
        self.target_label.setTextFormat(Qt.RichText)
        self.loss_label = QLabel("")
        self.loss_label.setWordWrap(True)
        self.loss_label.setTextFormat(Qt.RichText)

        self.matter_button = QPushButton("Which heads matter?")
        self.matter_button.setToolTip("Switch each head off on its own and measure the validation loss: "
                                      "the heads whose loss rises most matter most for this text.")
        self.matter_button.clicked.connect(self.find_important_heads)
        self.importance_label = QLabel("")
        self.importance_label.setWordWrap(True)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["layer", "head", "label", "loss rise on this text",
                                              "loss rise on the validation sample"])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(120)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.grid_box)
        layout.addLayout(parts_row)
        layout.addLayout(busy_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.bars, 3)
        layout.addWidget(self.target_label)
        layout.addWidget(self.loss_label)
        layout.addWidget(self.matter_button, 0, Qt.AlignLeft)
        layout.addWidget(self.importance_label)
        layout.addWidget(self.table, 1)
        self._set_shape(None)

    # ================================================================== public API
    def set_context(self, run_path: str, step: int | None, ids: list[int], labels: list[str],
                    query: int | None, head_labels: list[list[tuple[str, float]]] | None) -> None:
        """Show the model of ``run_path`` at ``step`` on the text ``ids`` (token ``labels``), the
        next token after position ``query`` (None: the last), heads captioned with ``head_labels``
        ([layer][head] -> (pattern, score), the tab's labels; None: no captions)."""
        run_path = str(run_path)
        if run_path != self.run_path:
            self._set_shape(None)  # another model: nothing ticked until its parts are known
        if (run_path, step) != (self.run_path, self.step):
            self._show_importance(None)
        self.run_path, self.step = run_path, step
        self.ids, self.labels = [int(i) for i in ids], list(labels)
        self.query = None if query is None or not 0 <= query < len(self.ids) else int(query)
        self.head_labels = head_labels
        if self.shape is None and head_labels:
            n_head = len(head_labels[0]) if head_labels else 0
            self._set_shape(Shape("gpt", len(head_labels), n_head, False), positions_known=False)
        else:
            self._caption_heads()
        self._request()

    def show_context(self, ctx) -> None:
        """``AttentionTab.add_view``'s call: ``ctx`` is an ``attention_jobs.ViewContext``."""
        head_labels = None if ctx.head_labels is None else [list(layer) for layer in ctx.head_labels]
        self.set_context(ctx.run_path, ctx.step, list(ctx.ids), list(ctx.labels), ctx.query, head_labels)

    def ablation(self) -> ab.Ablation:
        """What the boxes say is switched off."""
        return ab.Ablation(
            heads=frozenset(k for k, box in self.head_boxes.items() if box.isChecked()),
            mlps=frozenset(k for k, box in self.mlp_boxes.items() if box.isChecked()),
            positions=self.positions_box.isEnabled() and self.positions_box.isChecked())

    def set_ablation(self, ablation: ab.Ablation) -> None:
        """Tick exactly the parts of ``ablation`` (those the model has) and recompute."""
        self._setting = True
        for key, box in self.head_boxes.items():
            box.setChecked(key in ablation.heads)
        for key, box in self.mlp_boxes.items():
            box.setChecked(key in ablation.mlps)
        self.positions_box.setChecked(ablation.positions)
        self._setting = False
        self._request()

    @Slot()
    def clear_ablation(self) -> None:
        self.set_ablation(ab.NOTHING)

    def current_key(self) -> tuple | None:
        if self.run_path is None:
            return None
        return self.run_path, self.step, tuple(self.ids), self.query, self.ablation()

    @property
    def busy(self) -> bool:
        return any(h is not None and h.running for h in (self._handle, self._importance_handle))

    # ================================================================== the boxes
    def _set_shape(self, shape: Shape | None, positions_known: bool = True) -> None:
        """Build the grid of boxes for a model of this shape (all unticked)."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.head_boxes, self.mlp_boxes = {}, {}
        self.shape = shape if positions_known else None
        gpt = shape is not None and shape.arch == "gpt"
        self._setting = True
        self.positions_box.setChecked(False)
        self._setting = False
        self.positions_box.setEnabled(gpt and shape.positions)
        self.positions_box.setToolTip("" if shape is None or shape.positions
                                      else "This model adds no position vectors.")
        self.matter_button.setEnabled(gpt)
        if not gpt:
            if shape is not None:
                self.grid.addWidget(QLabel("A bigram model is one table: it has no heads, MLPs or "
                                           "positions to switch off."), 0, 0)
            return
        for h in range(shape.n_head):
            self.grid.addWidget(QLabel(f"<b>head {h + 1}</b>"), 0, h + 1)
        self.grid.addWidget(QLabel("<b>after the heads</b>"), 0, shape.n_head + 1)
        for layer in range(shape.n_layer):
            self.grid.addWidget(QLabel(f"<b>layer {layer + 1}</b>"), layer + 1, 0)
            for h in range(shape.n_head):
                box = QCheckBox()
                box.toggled.connect(self._toggled)
                self.head_boxes[(layer, h)] = box
                self.grid.addWidget(box, layer + 1, h + 1)
            box = QCheckBox(f"MLP of block {layer + 1}")
            box.setToolTip(f"Switch off the MLP of block {layer + 1}: it adds nothing to the residual stream.")
            box.toggled.connect(self._toggled)
            self.mlp_boxes[layer] = box
            self.grid.addWidget(box, layer + 1, shape.n_head + 1)
        self._caption_heads()

    def _learn_shape(self, shape: Shape) -> None:
        """The loaded model's parts: the grid built from the tab's head labels stays (with what is
        ticked) when it has the same heads; the positions box is known only now."""
        built = (len({layer for layer, _ in self.head_boxes}), len({h for _, h in self.head_boxes}))
        if shape.arch == "gpt" and built == (shape.n_layer, shape.n_head) and len(self.mlp_boxes) == shape.n_layer:
            self.shape = shape
            self.positions_box.setEnabled(shape.positions)
            self.positions_box.setToolTip("" if shape.positions else "This model adds no position vectors.")
        else:
            self._set_shape(shape)

    def _caption_heads(self) -> None:
        for (layer, h), box in self.head_boxes.items():
            name = None
            if self.head_labels and layer < len(self.head_labels) and h < len(self.head_labels[layer]):
                name = PATTERN_TITLES.get(self.head_labels[layer][h][0], self.head_labels[layer][h][0])
            box.setText(f"L{layer + 1} H{h + 1}" + (f" · {name}" if name else ""))
            box.setToolTip(f"Switch off head {h + 1} of layer {layer + 1}: its output into W_O becomes zero.")

    @Slot(bool)
    def _toggled(self, _on: bool) -> None:
        if not self._setting:
            self._request()

    # ================================================================== work
    def _request(self) -> None:
        """Start one job for the current key (the newest request wins; one job at a time)."""
        key = self.current_key()
        if key is None or self._closed:
            return
        if self._handle is not None and self._handle.running:
            self._pending = True
            return
        self._pending = False
        sample = self._samples.get(self.run_path)
        self.error_label.clear_message()
        self._handle = workers.start(lambda progress, cancel: _compare_job(key, sample), parent=self,
                                     on_done=self._job_done, on_error=self._job_failed, name="ablation")
        self._busy("Measuring the model with and without the ticked parts…")

    def _job_done(self, result: _Result) -> None:
        if self._closed:
            return
        self._busy("")
        comparison = result.comparison
        if comparison is not None and comparison.sample is not None:
            self._samples[result.key[0]] = comparison.sample
        if result.key[0] == self.run_path and result.shape != self.shape:
            self._learn_shape(result.shape)
        if self._pending or result.key != self.current_key():
            self._request()
            return
        self._show(result)

    def _job_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._busy("")
        if self._pending:
            self._request()
            return
        if not isinstance(exc, PlaygroundError):
            exc = PlaygroundError(f"Could not measure this checkpoint: {exc}",
                                  "The checkpoint file may be damaged; pick another one.")
        self.error_label.show_error(exc)

    def _busy(self, text: str) -> None:
        """The moving bar while any job runs; ``text`` says which ("" keeps quiet)."""
        self.busy_bar.setVisible(self.busy)
        self.status_label.setText(text if self.busy else "")

    # ================================================================== showing
    def _show(self, result: _Result) -> None:
        self.result = result
        self.shown_key = result.key
        comparison = result.comparison
        if comparison is None:
            self.bars.clear()
            self.target_label.setText("")
            self.loss_label.setText("")
        else:
            self._show_bars(comparison, result.token_labels)
            self._show_loss(comparison)
        self.computed.emit()

    def _show_bars(self, comparison: ab.Comparison, token_labels: dict[int, str]) -> None:
        nt = comparison.next_token
        if nt is None:
            self.bars.clear()
            self.target_label.setText("")
            return
        what = comparison.ablation.describe()
        label = tick_label(self.labels[nt.position]) if nt.position < len(self.labels) else str(nt.position)
        title = (f"After <b>{label}</b> (token {nt.position + 1} of {len(self.ids)}): "
                 f"the whole model, and without {what}")
        self.bars.show_step([(i, token_labels.get(i, str(i)), pb, pa) for i, pb, pa in nt.rows], None, title)
        if nt.target is None:
            self.target_label.setText("The last token: the text does not say what really comes next.")
        else:
            real = tick_label(self.labels[nt.position + 1]) if nt.position + 1 < len(self.labels) else nt.target
            self.target_label.setText(f"What really comes next, <b>{real}</b>: {nt.target_before:.1%} "
                                      f"→ <b>{nt.target_after:.1%}</b> without {what}.")

    def _show_loss(self, comparison: ab.Comparison) -> None:
        if comparison.loss_before is None:
            reason = comparison.sample_error
            words = ui.error_text(reason, " ") if isinstance(reason, PlaygroundError) else str(reason or "")
            self.loss_label.setText(f"No validation loss: {words}")
            return
        change = comparison.loss_after - comparison.loss_before
        self.loss_label.setText(
            f"Validation loss on a fixed sample ({comparison.sample.describe()}): "
            f"{comparison.loss_before:.3f} with the whole model → <b>{comparison.loss_after:.3f}</b> "
            f"without {comparison.ablation.describe()} ({change:+.3f}).")

    # ================================================================== which heads matter
    @Slot()
    def find_important_heads(self) -> None:
        """Switch each head off on its own (in a worker) and fill the table: the loss rise on
        this text and on the validation sample, the largest rise on this text first."""
        if self.run_path is None or self._closed or (self._importance_handle is not None
                                                     and self._importance_handle.running):
            return
        key = self.run_path, self.step, tuple(self.ids)
        sample = self._samples.get(self.run_path)

        def job(progress, cancel):
            return key, _importance_job(key, sample, progress, cancel)

        self.matter_button.setEnabled(False)
        self._importance_handle = workers.start(job, parent=self, on_done=self._importance_done,
                                                on_error=self._importance_failed,
                                                on_progress=self._importance_progress, name="ablation-heads")
        self._busy("Switching each head off in turn…")

    def _importance_progress(self, done: int, total: int) -> None:
        self.busy_bar.setRange(0, max(total, 1))
        self.busy_bar.setValue(done)

    def _importance_done(self, result) -> None:
        if self._closed:
            return
        self._importance_finished()
        key, importance = result
        if key == (self.run_path, self.step, tuple(self.ids)):
            self._show_importance(importance)
            self.importanceComputed.emit()

    def _importance_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self._importance_finished()
        if not isinstance(exc, PlaygroundError):
            exc = PlaygroundError(f"Could not measure the heads: {exc}")
        self.error_label.show_error(exc)

    def _importance_finished(self) -> None:
        self.busy_bar.setRange(0, 0)
        self._busy("")
        self.matter_button.setEnabled(self.shape is not None and self.shape.arch == "gpt")

    def _show_importance(self, importance: Importance | None) -> None:
        self.importance = importance
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        if importance is None:
            self.importance_label.setText("")
            return
        text, sample = importance.text, importance.sample
        words = []
        if text is not None:
            words.append(f"{text[0]:.3f} on this text")
        if sample is not None:
            words.append(f"{sample[0]:.3f} on the validation sample")
        self.importance_label.setText("The whole model's loss: " + " and ".join(words) + ". "
                                      "Each row: how much the loss rises with that head alone switched off.")
        rises = [{(e.layer, e.head): e.increase for e in part[1]} if part else {} for part in (text, sample)]
        heads = [(e.layer, e.head) for e in (text or sample)[1]]
        self.table.setRowCount(len(heads))
        for row, (layer, h) in enumerate(heads):
            name = ""
            if self.head_labels and layer < len(self.head_labels) and h < len(self.head_labels[layer]):
                name = PATTERN_TITLES.get(self.head_labels[layer][h][0], "")
            # layers and heads counted from 1, as the rest of the tab counts them
            cells = [_number_item(layer, str(layer + 1)), _number_item(h, str(h + 1)),
                     QTableWidgetItem(name)]
            for rise in rises:
                value = rise.get((layer, h), float("nan"))
                cells.append(_number_item(value, "–" if value != value else f"{value:+.3f}"))
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(3 if text is not None else 4, Qt.DescendingOrder)

    def table_rows(self) -> list[tuple[int, int, str, float, float]]:
        """The table as shown, top to bottom: (layer, head, label, rise on the text, rise on the sample)."""
        rows = []
        for r in range(self.table.rowCount()):
            cells = [self.table.item(r, c) for c in range(5)]
            rows.append((int(cells[0].data(Qt.UserRole)), int(cells[1].data(Qt.UserRole)), cells[2].text(),
                         float(cells[3].data(Qt.UserRole)), float(cells[4].data(Qt.UserRole))))
        return rows

    def shutdown(self) -> None:
        self._closed = True
        workers.shutdown(self)


class _NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number, not its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return float(self.data(Qt.UserRole)) < float(other.data(Qt.UserRole))


def _number_item(value: float, text: str) -> QTableWidgetItem:
    item = _NumberItem(text)
    item.setData(Qt.UserRole, value)
    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
    return item
