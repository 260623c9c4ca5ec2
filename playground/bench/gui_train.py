"""`playground bench gui-train`: training speed inside the app vs the command line, and GUI lateness.

The Train tab trains the Small preset (by default) on a built-in corpus with character tokens, as
a student's Start does (the training child, with its own thread and OpenMP settings), live plots
drawing, while a 10 ms QTimer measures how late each of its ticks fires (the event loop's
responsiveness). Then `playground bench train` runs the same model, batch and steps in a fresh
process with OpenMP's defaults (no ``OMP_*``/``GOMP_*``/``KMP_*`` variable): the speed a user
gets from the command line. The two alternate, A B A B, so a drift of the machine's speed hits
both alike. The app's figure is the median over 10-step windows (after 10 warm-up steps, no
evaluation inside a window) of batch × context ÷ step time from the run's metrics.csv; the
command line's is its own ``tokens_per_s``, from its median step time.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from playground.bench import load_average, scratch_home

WARM_STEPS = 10
WINDOW = 10  # steps per measured window (see median_tokens_per_s)
OPENMP_PREFIXES = ("OMP_", "GOMP_", "KMP_")  # variables only the app's training child may set
TICK_MS = 10
IDLE_S = 3  # seconds of timer ticks before training: the machine's own lateness


def median_tokens_per_s(rows: list[dict], tokens_per_step: int, window: int = WINDOW) -> float:
    """Median over windows of ``window`` consecutive steps (no evaluation inside one) of
    tokens_per_step × steps / Δtime. metrics.csv keeps times to the millisecond: a single ~20 ms
    step would be read in 5% quanta, a 10-step window in 0.5%."""
    rates = []
    start = None  # the step row a window is measured from
    for row in rows:
        if row["kind"] != "step" or row["time"] is None:
            start = None  # an evaluation's time must not count as training
            continue
        if row["it"] <= WARM_STEPS:
            continue
        if start is None:
            start = row
        elif row["it"] - start["it"] >= window:
            dt = row["time"] - start["time"]
            if dt > 0:
                rates.append(tokens_per_step * (row["it"] - start["it"]) / dt)
            start = row
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


def cli_env() -> dict[str, str]:
    """This process's environment without OpenMP's knobs: `playground bench train` as a user runs it."""
    return {k: v for k, v in os.environ.items() if not k.startswith(OPENMP_PREFIXES)}


def cli_round(iters: int, preset: str, corpus_spec: str, batch_size: int) -> dict:
    """One `playground bench train … --json` in a fresh process with OpenMP's defaults: the
    command line's default speed the app is compared with (its own home: no runs left behind)."""
    import json
    import subprocess
    import tempfile

    from playground.errors import PlaygroundError

    cmd = [sys.executable, "-m", "playground", "bench", "train", "--corpus", corpus_spec, "--tokenizer", "char",
           "--preset", preset, "--batch", str(batch_size), "--iters", str(iters), "--json"]
    with tempfile.TemporaryDirectory(prefix="playground-bench-cli-") as home:
        done = subprocess.run(cmd, env={**cli_env(), "PLAYGROUND_HOME": home}, capture_output=True, text=True)
    if done.returncode != 0:
        raise PlaygroundError(f"`{' '.join(cmd[1:])}` failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


def measure(iters: int = 300, preset: str = "small", corpus_spec: str = "builtin:python-docs",
            batch_size: int = 12, eval_interval: int = 100, rounds: int = 2, cli: bool = True) -> dict:
    """``rounds`` × (in the app, then on the command line), alternating A B A B in one run so a
    drift of the machine's speed hits both sides alike; the medians are reported."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with scratch_home("playground-bench-gui-train-"):  # bench runs never show up in the student's list
        app_side = _TrainTabBench(preset, corpus_spec, batch_size)
        gui, clis = [], []
        for _ in range(rounds):
            gui.append(app_side.round(iters, eval_interval))
            if cli:
                clis.append(cli_round(iters, preset, corpus_spec, batch_size))
        app_side.close()
    gui_tps = statistics.median(r["tokens_per_s"] for r in gui)
    cli_tps = statistics.median(r["tokens_per_s"] for r in clis) if clis else None
    ratio = round(gui_tps / cli_tps, 3) if cli_tps else None
    late = [x for r in gui for x in r["late"]]
    cfg = app_side.cfg
    return {
        "tokens_per_s_gui": round(gui_tps, 1),
        "tokens_per_s_cli": round(cli_tps, 1) if cli_tps else None,
        "ratio": ratio,
        # Kept for earlier readers of this JSON: the headless side IS the command line now.
        "tokens_per_s_headless": round(cli_tps, 1) if cli_tps else None,
        "gui_over_headless": ratio,
        "rounds_gui": [round(r["tokens_per_s"], 1) for r in gui],
        # Measured as this benchmark did before 10-step windows (single steps, 1 ms quanta): the
        # figure to hold against older commits' tokens_per_s_gui.
        "tokens_per_s_gui_single_steps": round(statistics.median(r["tokens_per_s_single_steps"] for r in gui), 1),
        "rounds_cli": [r["tokens_per_s"] for r in clis],
        "lateness_p99_ms": round(_percentile(late, 99), 2),
        "lateness_p50_ms": round(_percentile(late, 50), 2),
        "lateness_max_ms": round(max(late), 2) if late else None,
        "timer_ticks": len(late),
        "idle_lateness_p99_ms": round(_percentile(app_side.idle_late, 99), 2),
        "gui_thread_cpu_share": round(statistics.median(r["gui_cpu_share"] for r in gui), 3),
        "plot_redraws_per_s": round(statistics.median(r["redraws_per_s"] for r in gui), 1),
        "seconds_gui": round(statistics.median(r["seconds"] for r in gui), 2),
        "child_settings": [dict(r["settings"].env) for r in gui],  # per round: the machine's load chooses
        "config": {"preset": preset, "iters": iters, "batch_size": batch_size, "eval_interval": eval_interval,
                   "rounds": rounds, "context_length": cfg.context_length, "n_layer": cfg.n_layer,
                   "d_model": cfg.d_model, "vocab_size": cfg.vocab_size, "corpus": corpus_spec,
                   "tokenizer": "char", "tick_ms": TICK_MS, "platform": os.environ.get("QT_QPA_PLATFORM")},
        "load_average": load_average(),
        "cpu_count": os.cpu_count(),
    }


class _TrainTabBench:
    """A Train tab, shown, on a corpus and model; each :meth:`round` trains one run in it as a
    student's Start does (the training child), live plots drawing, lateness timed."""

    def __init__(self, preset: str, corpus_spec: str, batch_size: int) -> None:
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        import playground.gui  # noqa: F401 - the PySide6 workarounds
        from playground.core import config, tokenizers
        from playground.core import corpus as corpus_mod
        from playground.gui.state import AppState
        from playground.gui.tabs.train_tab import TrainTab

        self.app = QApplication.instance() or QApplication(["playground-bench"])
        corpus = corpus_mod.load(corpus_spec)
        tok = tokenizers.train_tokenizer("char", corpus.text)
        self.cfg = config.preset(preset, tok.vocab_size)
        self.batch_size = batch_size
        state = AppState()
        state.set_corpus(corpus)
        state.set_tokenizer(tok)
        state.set_model_config(self.cfg)
        self.tab = TrainTab(state)
        self.tab.resize(1280, 800)
        self.tab.show()
        # The machine's own lateness: the same timer with nothing training.
        idle = LatenessTimer()
        idle.start()
        pause = QEventLoop()
        QTimer.singleShot(IDLE_S * 1000, pause.quit)
        pause.exec()
        idle.stop()
        self.idle_late = idle.late

    def round(self, iters: int, eval_interval: int) -> dict:
        from playground.core import checkpoint
        from playground.errors import PlaygroundError

        tab = self.tab
        tab.set_train_values(iters=iters, batch_size=self.batch_size, warmup=min(100, iters // 10),
                             eval_interval=eval_interval, seed=1337)
        lateness = LatenessTimer(lambda: tab.phase == "training" and tab.current_step > 0)
        lateness.start()
        t0 = time.perf_counter()
        run = tab.start_training()
        if run is None:
            raise PlaygroundError(f"The benchmark could not start training: {tab.message_label.text()}")
        job = tab.job
        redraws0 = tab.loss_plot.redraws
        cpu0, wall0 = time.thread_time(), time.perf_counter()  # the GUI thread's own CPU use
        wait_until_idle(tab)
        gui_cpu_share = (time.thread_time() - cpu0) / max(1e-9, time.perf_counter() - wall0)
        seconds = time.perf_counter() - t0
        lateness.stop()
        require_done(tab, tab.finished_event)
        rows = checkpoint.Run(run.path).metrics()
        train_s = max(1e-9, rows[-1]["time"] if rows else seconds)
        tokens = self.batch_size * self.cfg.context_length
        return {"tokens_per_s": median_tokens_per_s(rows, tokens),
                "tokens_per_s_single_steps": median_tokens_per_s(rows, tokens, window=1),
                "late": lateness.late, "gui_cpu_share": gui_cpu_share, "seconds": seconds,
                "redraws_per_s": (tab.loss_plot.redraws - redraws0) / train_s, "settings": job.settings}

    def close(self) -> None:
        close_tabs(self.app, self.tab)
