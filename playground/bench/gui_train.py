"""`playground bench gui-train`: training speed inside the GUI vs headless, and GUI lateness.

The Train tab trains the Small preset (by default) on a built-in corpus with character
tokens, live plots drawing, while a 10 ms QTimer measures how late each of its ticks fires (the
event loop's responsiveness). Then, in the same process and with the same config, the core
Trainer runs headless on the main thread. Both speeds are computed the same way from the run's
metrics.csv: the median over steps (after 10 warm-up steps, skipping the step that follows an
evaluation) of batch × context ÷ step time.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from playground.bench import load_average, scratch_home

WARM_STEPS = 10
TICK_MS = 10
IDLE_S = 3  # seconds of timer ticks before training: the machine's own lateness


def median_tokens_per_s(rows: list[dict], tokens_per_step: int) -> float:
    """Median of tokens_per_step / Δtime between consecutive step rows (no eval in between)."""
    rates = []
    prev = None
    for row in rows:
        if row["kind"] != "step":
            prev = None  # the next step's Δtime includes the evaluation
            continue
        if prev is not None and row["it"] > WARM_STEPS and row["time"] is not None and prev["time"] is not None:
            dt = row["time"] - prev["time"]
            if dt > 0:
                rates.append(tokens_per_step / dt)
        prev = row
    return statistics.median(rates) if rates else float("nan")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


class LatenessTimer:
    """A precise QTimer every TICK_MS that records how late each tick fires (ms): the event
    loop's responsiveness. Ticks count only while ``counting()`` is true."""

    def __init__(self, counting=lambda: True) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.late: list[float] = []
        self._counting = counting
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last and self._counting():
            self.late.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def wait_until(condition, timeout_s: float | None = None) -> None:
    """Run the event loop until ``condition()`` holds (checked every 50 ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from playground.errors import PlaygroundError

    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(50)
    check.timeout.connect(lambda: loop.quit() if condition() or (deadline and time.monotonic() > deadline)
                          else None)
    check.start()
    loop.exec()
    check.stop()
    if not condition():
        raise PlaygroundError(f"The benchmark gave up waiting after {timeout_s:.0f} s.")


def wait_until_idle(tab) -> None:
    """Run the event loop until the Train tab's training (started by the caller) has ended."""
    wait_until(lambda: tab.job is None and tab.phase == "idle")


def close_tabs(app, *tabs) -> None:
    for tab in tabs:
        tab.shutdown()
        tab.close()
        tab.deleteLater()
    app.processEvents()


def require_done(tab, finished) -> None:
    """Raise (with the tab's own message) unless the training ended with "done"."""
    from playground.errors import PlaygroundError

    if finished is None or finished.reason != "done":
        raise PlaygroundError(f"Training in the Train tab did not finish: {tab.message_label.text()}")


def measure(iters: int = 300, preset: str = "small", corpus_spec: str = "builtin:python-docs",
            batch_size: int = 12, eval_interval: int = 100) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # The training child sleeps instead of spinning in OpenMP waits (see training_process.py);
    # the headless run must do the same to be the same config. Only effective before torch loads.
    torch_loaded = "torch" in sys.modules
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with scratch_home("playground-bench-gui-train-"):  # bench runs never show up in the student's list
        result = _measure(iters, preset, corpus_spec, batch_size, eval_interval)
    result["config"]["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    result["config"]["torch_loaded_before_policy"] = torch_loaded
    return result


def _measure(iters: int, preset: str, corpus_spec: str, batch_size: int, eval_interval: int) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    import playground.gui  # noqa: F401 - the PySide6 workarounds
    from playground.core import checkpoint, config, tokenizers, train
    from playground.core import corpus as corpus_mod
    from playground.errors import PlaygroundError
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    app = QApplication.instance() or QApplication(["playground-bench"])
    corpus = corpus_mod.load(corpus_spec)
    tok = tokenizers.train_tokenizer("char", corpus.text)
    cfg = config.preset(preset, tok.vocab_size)

    state = AppState()
    state.set_corpus(corpus)
    state.set_tokenizer(tok)
    state.set_model_config(cfg)
    tab = TrainTab(state)
    tab.resize(1280, 800)
    tab.show()
    tab.set_train_values(iters=iters, batch_size=batch_size, warmup=min(100, iters // 10),
                         eval_interval=eval_interval, seed=1337)

    lateness = LatenessTimer(lambda: tab.phase == "training" and tab.current_step > 0)
    lateness.start()

    # Baseline: the same timer with nothing training (what the machine's load alone causes).
    idle = LatenessTimer()
    idle.start()
    pause = QEventLoop()
    QTimer.singleShot(IDLE_S * 1000, pause.quit)
    pause.exec()
    idle.stop()

    t0 = time.perf_counter()
    run = tab.start_training()
    if run is None:
        raise PlaygroundError(f"The benchmark could not start training: {tab.message_label.text()}")
    redraws0 = tab.loss_plot.redraws
    cpu0, wall0 = time.thread_time(), time.perf_counter()  # the GUI thread's own CPU use
    wait_until_idle(tab)
    gui_cpu_share = (time.thread_time() - cpu0) / max(1e-9, time.perf_counter() - wall0)
    wall_gui = time.perf_counter() - t0
    lateness.stop()
    finished = tab.finished_event
    redraws = tab.loss_plot.redraws - redraws0
    close_tabs(app, tab)
    require_done(tab, finished)
    gui_rows = checkpoint.Run(run.path).metrics()
    tokens_per_step = batch_size * cfg.context_length
    gui_tps = median_tokens_per_s(gui_rows, tokens_per_step)
    train_s = max(1e-9, gui_rows[-1]["time"] if gui_rows else wall_gui)

    # Headless: the same config through the core Trainer, on this (main) thread.
    head = checkpoint.Run.create("bench-headless", cfg, checkpoint.Run(run.path).train_config,
                                 corpus.record(state.split), tok)
    t1 = time.perf_counter()
    events = train.train_run(head, corpus)
    wall_head = time.perf_counter() - t1
    if events[-1].reason != "done":
        raise PlaygroundError(f"Headless training did not finish: {events[-1].message}")
    head_tps = median_tokens_per_s(head.metrics(), tokens_per_step)

    return {
        "tokens_per_s_gui": round(gui_tps, 1),
        "tokens_per_s_headless": round(head_tps, 1),
        "gui_over_headless": round(gui_tps / head_tps, 3) if head_tps else None,
        "lateness_p99_ms": round(_percentile(lateness.late, 99), 2),
        "lateness_p50_ms": round(_percentile(lateness.late, 50), 2),
        "lateness_max_ms": round(max(lateness.late), 2) if lateness.late else None,
        "timer_ticks": len(lateness.late),
        "idle_lateness_p99_ms": round(_percentile(idle.late, 99), 2),
        "gui_thread_cpu_share": round(gui_cpu_share, 3),
        "plot_redraws_per_s": round(redraws / train_s, 1),
        "seconds_gui": round(wall_gui, 2),
        "seconds_headless": round(wall_head, 2),
        "config": {"preset": preset, "iters": iters, "batch_size": batch_size, "eval_interval": eval_interval,
                   "context_length": cfg.context_length, "n_layer": cfg.n_layer, "d_model": cfg.d_model,
                   "vocab_size": cfg.vocab_size, "corpus": corpus_spec, "tokenizer": "char",
                   "tick_ms": TICK_MS, "platform": os.environ.get("QT_QPA_PLATFORM")},
        "load_average": load_average(),
        "cpu_count": os.cpu_count(),
    }
