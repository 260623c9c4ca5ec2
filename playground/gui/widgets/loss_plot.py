"""Live training plots: loss against step (with validation loss and the uniform-guessing line),
the learning-rate schedule and the speed in tokens per second.

Events arrive in batches (≤ ~30 a second); the curves are redrawn at most ~30 times a second
from growing numpy buffers, and long curves are downsampled ("peak" keeps the spikes) and
clipped to the visible range, so a run of 100k steps draws as fast as one of 100.

Units: loss per token (nats) or bits per character (``core.bits``). A loss per token only
compares between runs that cut text the same way; overlaid runs with different tokenizers get a
warning that offers bits per character, in which every curve is divided by its own run's
characters per token × ln 2.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from playground.core.bits import LN2
from playground.core.events import Eval, Step
from playground.gui import ui
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

# The loss curves: ≤ 5 redraws a second. Painting the plot is the GUI's main cost while training
# (~15 ms a paint), and the training child shares the cores with it: at ~12 paints a second the
# GUI took 15% of a core and the child lost that much speed. 5 a second still moves smoothly.
REDRAW_MS = 200
SMALL_REDRAW_MS = 1000  # learning rate and speed change slowly: once a second is plenty
# Okabe-Ito: distinguishable with every common colour-vision deficiency.
TRAIN_COLOR = "#0072B2"
VAL_COLOR = "#D55E00"
OVERLAY_COLORS = ["#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#F0E442", "#999999"]
REFERENCE_COLOR = "#777777"
UNITS = ["per token (nats)", "bits per character"]
BPC = 1  # UNITS index
AXIS_LABELS = ["loss (cross-entropy, nats per token)", "bits per character"]


@dataclass(frozen=True)
class OverlayRun:
    """A run drawn over the live curves: its metrics rows, how it cuts text
    (``core.bits.tokenizer_label``) and its characters per token (None: not measured yet;
    nan: cannot be measured, e.g. its corpus is gone)."""

    name: str
    rows: Sequence[dict]
    tokenizer: str = ""
    chars_per_token: float | None = None


def _bpc_factor(chars_per_token: float | None) -> float | None:
    """What turns a loss per token into bits per character; None when it is not known."""
    if chars_per_token is None or not math.isfinite(chars_per_token) or chars_per_token <= 0:
        return None
    return 1.0 / (chars_per_token * LN2)


class Series:
    """A growing (x, y) buffer: appending is amortised O(1), drawing uses views, no copies."""

    def __init__(self, capacity: int = 1024) -> None:
        self.x = np.empty(capacity, dtype=np.float64)
        self.y = np.empty(capacity, dtype=np.float64)
        self.n = 0
        self.version = 0  # changes whenever the contents do: a curve is re-set only then

    def clear(self) -> None:
        self.n = 0
        self.version += 1

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.resize(self.x, 2 * self.n)
            self.y = np.resize(self.y, 2 * self.n)
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1
        self.version += 1

    def extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        for x, y in zip(xs, ys):
            self.append(x, y)

    @property
    def xs(self) -> np.ndarray:
        return self.x[: self.n]

    @property
    def ys(self) -> np.ndarray:
        return self.y[: self.n]


def split_metrics(rows: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """metrics.csv rows -> (step rows, eval rows)."""
    steps, evals = [], []
    for row in rows:
        (steps if row.get("kind") == "step" else evals if row.get("kind") == "eval" else []).append(row)
    return steps, evals


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _style_plot(plot, left: str | None, bottom: str | None = "step") -> None:
    plot.showGrid(x=True, y=True, alpha=0.2)
    if left:
        plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    plot.setMenuEnabled(False)
    # Long curves: draw at most about one point per pixel, keeping peaks, and only what is visible.
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    # Replaying an axis's text was most of the GUI thread's time while training (profiled):
    # keep axes and title as pixmaps, repainted only when their range or text changes.
    for name in ("left", "bottom"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
    plot.titleLabel.setCacheMode(QGraphicsItem.DeviceCoordinateCache)


class LossPlot(QWidget):
    """Loss (big), learning rate and tokens/s (small, x-linked), a hover readout, a log toggle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vocab_size: int | None = None
        self.iters: int | None = None
        self.steps = Series()  # (it, loss) of every step: training loss of one batch
        self.lrs = Series()
        self.speeds = Series()
        self.eval_train = Series()  # (it, train_loss) averaged over eval batches
        self.eval_val = Series()
        self.overlays: dict[str, dict[str, Any]] = {}
        self.overlay_runs: list[OverlayRun] = []
        self.live_name = "this run"
        self.live_tokenizer = ""  # how the live curves' run cuts text (core.bits.tokenizer_label)
        self.live_chars_per_token: float | None = None
        self.redraws = 0  # counted for the benchmark and tests

        self.log_box = QCheckBox("Log scale")
        self.log_box.setToolTip("Show the loss on a logarithmic axis: late, small improvements "
                                "become visible instead of being squashed at the bottom.")
        self.log_box.toggled.connect(self.set_log)
        self.units_box = QComboBox()
        self.units_box.addItems(UNITS)
        self.units_box.setToolTip(
            "Loss per token (nats) only compares runs that cut text the same way: a word or BPE "
            "token holds several characters, so its loss is larger. Bits per character = loss per "
            "token ÷ (characters per token × ln 2) compares any two runs.")
        self.units_box.currentIndexChanged.connect(self._units_changed)
        # Non-modal: overlaid runs whose losses per token do not compare (different tokenizers).
        self.units_note = ui.MessageLabel()
        self.units_note.setTextInteractionFlags(Qt.TextBrowserInteraction)
        self.units_note.linkActivated.connect(self._note_link)
        self.readout = QLabel("Hover the plot to read exact values.")
        self.readout.setStyleSheet("color: #333;")
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.readout, 1)
        top.addWidget(self.units_box)
        top.addWidget(self.log_box)

        self.loss = pg.PlotWidget()
        self.loss.setTitle("Loss (lower = better predictions)", size="11pt")
        _style_plot(self.loss.getPlotItem(), AXIS_LABELS[0])
        self.loss.setToolTip("Loss measures how surprised the model is by the real next token: "
                             "ln(vocabulary size) means guessing at random, 0 means always sure and right.")
        self.legend = self.loss.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.legend.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        # The two curves with a point per step are drawn without antialiasing: cheaper to paint.
        self.train_curve = self.loss.plot(name="training loss (each batch)",
                                          pen=pg.mkPen(TRAIN_COLOR, width=1), antialias=False)
        self.eval_train_curve = self.loss.plot(name="training loss (evaluation)", pen=None, symbol="o",
                                               symbolSize=6, symbolBrush=TRAIN_COLOR, symbolPen=None)
        self.val_curve = self.loss.plot(name="validation loss (unseen text)",
                                        pen=pg.mkPen(VAL_COLOR, width=2), symbol="o", symbolSize=6,
                                        symbolBrush=VAL_COLOR, symbolPen=None)
        self.reference = pg.InfiniteLine(angle=0, movable=False,
                                         pen=pg.mkPen(REFERENCE_COLOR, width=1, style=Qt.DashLine),
                                         label="", labelOpts={"position": 0.15, "color": REFERENCE_COLOR,
                                                              "anchors": [(0, 1), (0, 1)]})
        self.reference.hide()
        self.loss.addItem(self.reference, ignoreBounds=False)
        self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(REFERENCE_COLOR, style=Qt.DashLine)),
                            "uniform guessing = ln(vocabulary)")
        self.v_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888888", width=1))
        self.h_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#888888", width=1))
        for line in (self.v_line, self.h_line):
            line.hide()
            self.loss.addItem(line, ignoreBounds=True)

        self.lr_plot = pg.PlotWidget()
        self.lr_plot.setTitle("Learning rate (by step)", size="9pt")
        _style_plot(self.lr_plot.getPlotItem(), None, None)
        self.lr_plot.setToolTip("How big each update step is. It warms up linearly, then decays "
                                "along a cosine: big steps early, careful small ones at the end. "
                                "Dashed: the planned schedule.")
        self.lr_plan_curve = self.lr_plot.plot(pen=pg.mkPen("#bbbbbb", width=1, style=Qt.DashLine))
        self.lr_curve = self.lr_plot.plot(pen=pg.mkPen(TRAIN_COLOR, width=2))

        self.speed_plot = pg.PlotWidget()
        self.speed_plot.setTitle("Speed: tokens per second (by step)", size="9pt")
        _style_plot(self.speed_plot.getPlotItem(), None, None)
        self.speed_plot.setToolTip("How many tokens the model learns from per second (batch × context "
                                   "÷ step time). Dips are evaluations and checkpoints.")
        self.speed_curve = self.speed_plot.plot(pen=pg.mkPen("#009E73", width=1), antialias=False)

        small = QHBoxLayout()
        small.setContentsMargins(0, 0, 0, 0)
        small.addWidget(self.lr_plot)
        small.addWidget(self.speed_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.units_note)
        layout.addWidget(self.loss, 3)
        layout.addLayout(small, 1)
        self.lr_plot.setMinimumHeight(110)
        self.speed_plot.setMinimumHeight(110)

        # Painting a plot (its axes' text above all) is the GUI's main cost while training:
        # redraws are coalesced by timers, and the x axis is fixed to the planned steps so the
        # axes are not re-laid out at every step.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_loss)
        self._small_timer = QTimer(self)
        self._small_timer.setSingleShot(True)
        self._small_timer.setInterval(SMALL_REDRAW_MS)
        self._small_timer.timeout.connect(self._redraw_small)
        self._mouse_proxy = pg.SignalProxy(self.loss.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)

    # -- data ------------------------------------------------------------------------------
    def reset(self, vocab_size: int | None = None, iters: int | None = None,
              lr_plan: tuple[Sequence[float], Sequence[float]] | None = None) -> None:
        """Empty the live curves for a new run (overlays stay)."""
        for s in (self.steps, self.lrs, self.speeds, self.eval_train, self.eval_val):
            s.clear()
        self.vocab_size, self.iters = vocab_size, iters
        self._place_reference()
        if lr_plan is not None and len(lr_plan[1]):
            self.lr_plan_curve.setData(np.asarray(lr_plan[0], float), np.asarray(lr_plan[1], float))
            self.lr_plot.setYRange(0, max(lr_plan[1]) * 1.05, padding=0)
        else:
            self.lr_plan_curve.setData([], [])
            self.lr_plot.enableAutoRange(axis="y")
        self.readout.setText("Hover the plot to read exact values.")
        self.redraw()
        self.loss.enableAutoRange(axis="y")
        self.speed_plot.enableAutoRange(axis="y")
        self._fit_x()

    def _fit_x(self) -> None:
        """x from 0 to the planned steps (or the longest overlaid run), fixed while training."""
        end = self.iters or 0
        for items in self.overlays.values():
            x, _ = items["train"].getOriginalDataset()
            if x is not None and len(x):
                end = max(end, float(x[-1]))
        if self.steps.n:
            end = max(end, float(self.steps.xs[-1]))
        if end <= 0:
            for plot in (self.loss, self.lr_plot, self.speed_plot):
                plot.enableAutoRange(axis="x")
            return
        for plot in (self.loss, self.lr_plot, self.speed_plot):
            plot.setXRange(0, end, padding=0.02)

    def load_metrics(self, rows: Iterable[dict]) -> None:
        """Fill the live curves from a run's metrics.csv rows (resume, open)."""
        steps, evals = split_metrics(rows)
        for r in steps:
            self._add_step(r["it"], r.get("loss"), r.get("lr"), r.get("tokens_per_s"))
        for r in evals:
            self._add_eval(r["it"], r.get("train_loss"), r.get("val_loss"))
        self.schedule()

    def _add_step(self, it, loss, lr, tps) -> None:
        if _finite(loss):
            self.steps.append(it, loss)
        if _finite(lr):
            self.lrs.append(it, lr)
        if _finite(tps) and tps > 0:
            self.speeds.append(it, tps)

    def _add_eval(self, it, train_loss, val_loss) -> None:
        if _finite(train_loss):
            self.eval_train.append(it, train_loss)
        if _finite(val_loss):
            self.eval_val.append(it, val_loss)

    def add_events(self, events: Iterable[Any]) -> None:
        """Append the core trainer's Step / Eval events (others are ignored)."""
        for ev in events:
            match ev:
                case Step(it=it, loss=loss, lr=lr, tokens_per_s=tps):
                    self._add_step(it, loss, lr, tps)
                case Eval(it=it, train_loss=train_loss, val_loss=val_loss):
                    self._add_eval(it, train_loss, val_loss)
        self.schedule()

    def schedule(self) -> None:
        """Ask for a redraw; many calls within REDRAW_MS make one redraw."""
        if not self._timer.isActive():
            self._timer.start()
        if not self._small_timer.isActive():
            self._small_timer.start()

    @Slot()
    def redraw(self) -> None:
        """Draw everything now (end of training, a run opened)."""
        self._timer.stop()
        self._small_timer.stop()
        self._redraw_loss()
        self._redraw_small()

    @Slot()
    def _redraw_loss(self) -> None:
        self.redraws += 1
        f = self.live_factor()
        for curve, series in ((self.train_curve, self.steps), (self.eval_train_curve, self.eval_train),
                              (self.val_curve, self.eval_val)):
            # The evaluation curves (with their symbols, costly to rebuild) change only at an
            # evaluation: re-set a curve only when its points or the units changed.
            drawn = (series.version, f)
            if getattr(curve, "_drawn", None) == drawn:
                continue
            curve._drawn = drawn
            if f is None:  # bits per character before the run's characters per token are known
                curve.setData([], [])
            else:
                curve.setData(series.xs, series.ys if f == 1.0 else series.ys * f)
        if self.iters is None or (self.steps.n and self.steps.xs[-1] > self.iters):
            self._fit_x()

    @Slot()
    def _redraw_small(self) -> None:
        self.lr_curve.setData(self.lrs.xs, self.lrs.ys)
        self.speed_curve.setData(self.speeds.xs, self.speeds.ys)

    # -- units -----------------------------------------------------------------------------
    @property
    def bpc(self) -> bool:
        """True while the curves show bits per character."""
        return self.units_box.currentIndex() == BPC

    def set_units(self, bits_per_char: bool) -> None:
        self.units_box.setCurrentIndex(BPC if bits_per_char else 0)

    @Slot(str)
    def _note_link(self, _link: str) -> None:
        self.set_units(True)

    def _factor(self, chars_per_token: float | None) -> float | None:
        """What multiplies a per-token loss in the chosen units (None: unknown yet)."""
        return _bpc_factor(chars_per_token) if self.bpc else 1.0

    def live_factor(self) -> float | None:
        return self._factor(self.live_chars_per_token)

    def set_live_units(self, name: str, tokenizer: str, chars_per_token: float | None) -> None:
        """The live curves' run: its name, how it cuts text, its characters per token (None: not
        known yet)."""
        self.live_name, self.live_tokenizer, self.live_chars_per_token = name, tokenizer, chars_per_token
        self._refresh_units()

    @Slot(int)
    def _units_changed(self, _index: int) -> None:
        self._refresh_units()

    def _refresh_units(self) -> None:
        self.loss.getPlotItem().setLabel("left", AXIS_LABELS[BPC if self.bpc else 0])
        self._place_reference()
        self._draw_overlays()
        self._redraw_loss()
        self.h_line.hide()
        self.loss.enableAutoRange(axis="y")
        self._update_units_note()

    def _update_units_note(self) -> None:
        """Warn (inline) when the curves' losses per token do not compare; in bits per
        character, say which runs still lack their characters per token."""
        shown = [(o.name, o.tokenizer) for o in self.overlay_runs if o.tokenizer]
        if self.live_tokenizer:
            shown.append((self.live_name, self.live_tokenizer))
        kinds = sorted({tok for _, tok in shown})
        if self.bpc:
            waiting = [o.name for o in self.overlay_runs if o.chars_per_token is None]
            lost = [o.name for o in self.overlay_runs
                    if o.chars_per_token is not None and _bpc_factor(o.chars_per_token) is None]
            if self.live_tokenizer and self.live_factor() is None:
                (waiting if self.live_chars_per_token is None else lost).append(self.live_name)
            parts = []
            if waiting:
                parts.append("Measuring characters per token on the validation text of: "
                             + ", ".join(map(html.escape, waiting)) + "…")
            if lost:
                parts.append("No bits per character for " + ", ".join(map(html.escape, lost))
                             + ": the text it was trained on is gone, so its characters per token are unknown.")
            self.units_note.show_text(" ".join(parts), ui.INFO)
        elif len(kinds) > 1:
            runs = "; ".join(f"{html.escape(name)}: {html.escape(tok)}" for name, tok in shown)
            self.units_note.show_text(
                f"These runs cut text into different tokens ({runs}), so their losses per token do "
                "not compare: a token of a word or BPE model holds several characters. "
                "<a href='bpc'>Show bits per character</a>, which compares any two runs.", ui.WARNING)
        else:
            self.units_note.clear_message()

    # -- overlays --------------------------------------------------------------------------
    def set_overlays(self, runs: Sequence[OverlayRun]) -> None:
        """Draw other runs' curves in their own colours; replaces the old ones."""
        self.overlay_runs = list(runs)
        self._draw_overlays()
        self._update_units_note()
        self.loss.enableAutoRange(axis="y")
        self._fit_x()

    def _draw_overlays(self) -> None:
        for items in self.overlays.values():
            for item in items.values():
                self.loss.removeItem(item)
                self.legend.removeItem(item)
        self.overlays = {}
        for k, run in enumerate(self.overlay_runs):
            name = run.name
            color = OVERLAY_COLORS[k % len(OVERLAY_COLORS)]
            steps, evals = split_metrics(run.rows)
            f = self._factor(run.chars_per_token)
            if f is None:  # drawn once its characters per token are known
                steps = evals = []
            f = f or 1.0
            sx = np.array([r["it"] for r in steps if _finite(r.get("loss"))], float)
            sy = np.array([r["loss"] * f for r in steps if _finite(r.get("loss"))], float)
            ex = np.array([r["it"] for r in evals if _finite(r.get("val_loss"))], float)
            ey = np.array([r["val_loss"] * f for r in evals if _finite(r.get("val_loss"))], float)
            train = self.loss.plot(sx, sy, name=f"{name}: training", pen=pg.mkPen(color, width=1))
            val = self.loss.plot(ex, ey, name=f"{name}: validation",
                                 pen=pg.mkPen(color, width=2, style=Qt.DashLine),
                                 symbol="t", symbolSize=7, symbolBrush=color, symbolPen=None)
            self.overlays[name] = {"train": train, "val": val}

    # -- view ------------------------------------------------------------------------------
    @Slot(bool)
    def set_log(self, on: bool) -> None:
        if self.log_box.isChecked() != on:
            self.log_box.setChecked(on)  # re-enters through toggled
            return
        self.loss.setLogMode(y=on)
        self._place_reference()
        self.h_line.hide()
        self.loss.enableAutoRange(axis="y")

    @property
    def log_y(self) -> bool:
        return self.log_box.isChecked()

    def _place_reference(self) -> None:
        f = self.live_factor()
        if not (self.vocab_size and self.vocab_size > 1) or f is None:
            self.reference.hide()
            return
        value = math.log(self.vocab_size) * f
        if self.bpc:
            self.reference.label.setFormat(f"uniform guessing: log2({self.vocab_size}) ÷ "
                                           f"{self.live_chars_per_token:.2f} characters = {value:.2f}")
        else:
            self.reference.label.setFormat(f"uniform guessing: ln({self.vocab_size}) = {value:.2f}")
        # In log mode the view's y coordinate is log10(loss); lines live in view coordinates.
        self.reference.setPos(math.log10(value) if self.log_y else value)
        self.reference.show()

    def readout_at(self, x: float) -> str | None:
        """The readout text for the step nearest to ``x`` (None when there is no data)."""
        xs = self.steps.xs
        if not len(xs):
            return None
        i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
        if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
            i -= 1
        it = int(xs[i])
        f, unit = self.live_factor(), " bits per character" if self.bpc else ""
        if f is None:
            return f"Step {it:,}"
        parts = [f"Step {it:,}", f"training loss {self.steps.ys[i] * f:.4f}{unit}"]
        ev = self.eval_val.xs
        if len(ev):
            j = int(np.searchsorted(ev, it, side="right")) - 1
            if j >= 0:
                parts.append(f"validation loss {self.eval_val.ys[j] * f:.4f}{unit} (at step {int(ev[j]):,})")
        lx = self.lrs.xs
        if len(lx):
            k = int(np.clip(np.searchsorted(lx, it), 0, len(lx) - 1))
            parts.append(f"learning rate {self.lrs.ys[k]:.2e}")
        sx = self.speeds.xs
        if len(sx):
            k = int(np.clip(np.searchsorted(sx, it), 0, len(sx) - 1))
            parts.append(f"{self.speeds.ys[k]:,.0f} tokens/s")
        return " · ".join(parts)

    def _mouse_moved(self, args) -> None:
        pos = args[0]
        vb = self.loss.getPlotItem().vb
        if not self.loss.sceneBoundingRect().contains(pos) or not self.steps.n:
            return
        point = vb.mapSceneToView(pos)
        text = self.readout_at(point.x())
        if text is None:
            return
        xs = self.steps.xs
        i = int(np.clip(np.searchsorted(xs, point.x()), 0, len(xs) - 1))
        y = self.steps.ys[i] * (self.live_factor() or 1.0)
        self.v_line.setPos(xs[i])
        self.h_line.setPos(math.log10(y) if self.log_y and y > 0 else y)
        self.v_line.show()
        self.h_line.show()
        self.readout.setText(text)

    # -- export ----------------------------------------------------------------------------
    def export_png(self, path: str | Path, width: int = 1200) -> Path:
        return _export_plot_png(self.loss.getPlotItem(), path, width)


def _export_plot_png(plot_item, path: str | Path, width: int) -> Path:
    from pyqtgraph.exporters import ImageExporter

    exporter = ImageExporter(plot_item)
    exporter.parameters()["width"] = width
    path = Path(path)
    if not exporter.export(str(path)) and not path.exists():  # export() returns None on success
        raise OSError(f"could not write {path}")
    return path


def export_curves_png(name: str, rows: Sequence[dict], path: str | Path, vocab_size: int | None = None,
                      width: int = 1200) -> Path:
    """A PNG of one run's loss curves (for sharing), drawn off-screen."""
    widget = pg.PlotWidget()
    widget.resize(width, int(width * 0.55))
    plot = widget.getPlotItem()
    plot.setTitle(f"{name}", size="11pt")
    _style_plot(plot, "loss (cross-entropy)")
    plot.addLegend(offset=(-10, 10))
    steps, evals = split_metrics(rows)
    plot.plot([r["it"] for r in steps if _finite(r.get("loss"))],
              [r["loss"] for r in steps if _finite(r.get("loss"))],
              name="training loss (each batch)", pen=pg.mkPen(TRAIN_COLOR, width=1))
    plot.plot([r["it"] for r in evals if _finite(r.get("val_loss"))],
              [r["val_loss"] for r in evals if _finite(r.get("val_loss"))],
              name="validation loss", pen=pg.mkPen(VAL_COLOR, width=2), symbol="o", symbolSize=6,
              symbolBrush=VAL_COLOR, symbolPen=None)
    if vocab_size and vocab_size > 1:
        plot.addItem(pg.InfiniteLine(pos=math.log(vocab_size), angle=0,
                                     pen=pg.mkPen(REFERENCE_COLOR, style=Qt.DashLine),
                                     label=f"uniform guessing: ln({vocab_size}) = {math.log(vocab_size):.2f}",
                                     labelOpts={"position": 0.15, "color": REFERENCE_COLOR}))
    try:
        return _export_plot_png(plot, path, width)
    finally:
        widget.deleteLater()


def export_curves_csv(rows: Sequence[dict], path: str | Path) -> Path:
    """The run's metrics as CSV: one row per step and per evaluation (same columns as metrics.csv)."""
    import io

    from playground.core import atomic
    from playground.core.checkpoint import METRIC_FIELDS

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in METRIC_FIELDS})
    path = Path(path)
    atomic.write_text(path, buf.getvalue())
    return path

