"""`playground bench measure`: does the Model tab's "Measure" predict the training that follows?

In one offscreen app state (as the window has it): the Model tab measures the preset at the
batch size, exactly as its button does, and predicts the time of the Train tab's training; then
the Train tab trains that many steps (200 by default) through its Start button, live plots
drawing. Printed: ``predicted_ms_per_step`` (Measure's prediction of the whole training, per
step), ``actual_ms_per_step`` (the Train tab's own "Elapsed" clock at the end, per step) and
``ratio`` = predicted / actual. The issue's bound on an idle machine: 0.75 ≤ ratio ≤ 1.25.

    from playground.bench import measure
    measure.measure("tiny", "builtin:python-docs", batch=12, steps=200)   # a JSON-able dict

``add_arguments(parser)`` declares the command line's options (the CLI wires the subcommand).
"""

from __future__ import annotations

import argparse
import os

from playground.bench import load_average, scratch_home

DEFAULT_PRESET = "tiny"
DEFAULT_CORPUS = "builtin:python-docs"
DEFAULT_STEPS = 200
WAIT_S = 600  # the longest a Measure may take before the benchmark gives up


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from playground.core import config

    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(config.PRESETS),
                        help=f"model size (default {DEFAULT_PRESET})")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help=f"text to train on (default {DEFAULT_CORPUS})")
    parser.add_argument("--batch", type=int, default=config.TrainConfig.batch_size,
                        help=f"batch size (default {config.TrainConfig.batch_size})")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"training steps after Measure (default {DEFAULT_STEPS})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def measure(preset: str = DEFAULT_PRESET, corpus: str = DEFAULT_CORPUS, batch: int | None = None,
            steps: int = DEFAULT_STEPS) -> dict:
    """Measure, then train ``steps`` steps in the Train tab; returns the figures (JSON-able)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from playground.core import config

    batch = config.TrainConfig.batch_size if batch is None else batch
    with scratch_home("playground-bench-measure-"):  # bench runs never show up in the student's list
        return _measure(preset, corpus, batch, steps)


def _measure(preset: str, corpus_spec: str, batch: int, steps: int) -> dict:
    import time

    from PySide6.QtWidgets import QApplication

    import playground.gui  # noqa: F401 - the PySide6 workarounds
    from playground.bench.gui_train import close_tabs, require_done, wait_until, wait_until_idle
    from playground.core import checkpoint, step_timer, tokenizers
    from playground.core import corpus as corpus_mod
    from playground.errors import PlaygroundError
    from playground.gui.state import AppState
    from playground.gui.tabs.model_tab import ModelTab
    from playground.gui.tabs.train_tab import TrainTab

    app = QApplication.instance() or QApplication(["playground-bench"])
    corpus = corpus_mod.load(corpus_spec)
    tok = tokenizers.train_tokenizer("char", corpus.text)
    state = AppState()
    state.set_corpus(corpus)
    state.set_tokenizer(tok)
    state.set_batch_size(batch)
    model_tab = ModelTab(state)
    train_tab = TrainTab(state)
    for tab in (model_tab, train_tab):
        tab.resize(1280, 800)
    model_tab.show()
    model_tab.select_preset(preset)
    train_tab.set_train_values(iters=steps)
    wait_until(lambda: model_tab.ready and not model_tab.busy, WAIT_S)
    cfg = model_tab.cfg
    if cfg is None or state.model_config != cfg:
        raise PlaygroundError(f"The Model tab did not take the preset: {model_tab.status_label.text()}")
    model_tab.measure()
    wait_until(lambda: not model_tab.busy, WAIT_S)
    measured = model_tab.timings.get((cfg, batch))
    if measured is None:
        raise PlaygroundError(f"Measure gave no figure: {model_tab.measure_label.text()}")
    plan = train_tab.train_config()  # the training that follows, as the Train tab will run it
    predicted_s = step_timer.predict_seconds(measured, plan)
    model_tab.hide()

    train_tab.show()
    before = _cpu_seconds()
    run = train_tab.start_training()
    if run is None:
        raise PlaygroundError(f"The benchmark could not start training: {train_tab.message_label.text()}")
    gui0 = time.thread_time()
    wait_until_idle(train_tab)
    gui_cpu = time.thread_time() - gui0  # the window's own thread: plots, events
    after = _cpu_seconds()
    wall = after["wall"] - before["wall"]
    cpus = os.cpu_count() or 1
    others = (after["machine"] - before["machine"]) - (after["ours"] - before["ours"])
    finished = train_tab.finished_event
    actual_s = train_tab.clock.seconds  # the "Elapsed" the student reads
    close_tabs(app, model_tab, train_tab)
    require_done(train_tab, finished)
    rows = checkpoint.Run(run.path).metrics()
    trainer_s = rows[-1]["time"] if rows and rows[-1]["time"] is not None else None

    predicted = predicted_s * 1000 / plan.iters
    actual = actual_s * 1000 / plan.iters
    return {
        "predicted_ms_per_step": round(predicted, 2),
        "actual_ms_per_step": round(actual, 2),
        "ratio": round(predicted / actual, 3) if actual else None,
        "measured_ms_per_step": round(measured["ms_median"], 2),  # the steps alone, no evaluations
        "trainer_ms_per_step": round(trainer_s * 1000 / plan.iters, 2) if trainer_s else None,
        "predicted_s": round(predicted_s, 2),
        "actual_s": round(actual_s, 2),
        "others_cpu_while_measuring": round(measured["others_cpu"], 3),
        # The same share (0..1 of the machine) while the Train tab trained: compare like with like.
        "others_cpu_while_training": round(max(0.0, others) / max(1e-9, wall * cpus), 3),
        "gui_thread_cpu_share": round(gui_cpu / max(1e-9, wall), 3),
        "threads": measured["threads"],
        "config": {"preset": preset, "corpus": corpus_spec, "tokenizer": "char", "batch_size": batch,
                   "steps": plan.iters, "eval_interval": plan.eval_interval, "eval_iters": plan.eval_iters,
                   "sample_tokens": plan.sample_tokens, "context_length": cfg.context_length,
                   "device": measured["device_description"]},
        "load_average": load_average(),
        "cpu_count": os.cpu_count(),
    }


def _cpu_seconds() -> dict:
    """CPU seconds so far: the whole machine busy, and this process plus its ended children (the
    training child, once reaped): the difference is what other programs took."""
    import time

    import psutil

    t = psutil.cpu_times()
    own = os.times()
    return {"wall": time.perf_counter(), "machine": sum(t) - t.idle - getattr(t, "iowait", 0.0),
            "ours": own.user + own.system + own.children_user + own.children_system}


def main(argv: list[str] | None = None) -> int:
    """``python -m playground.bench.measure`` (the same as ``playground bench measure``)."""
    import json

    parser = argparse.ArgumentParser(prog="playground bench measure", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.preset, args.corpus, args.batch, args.steps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
