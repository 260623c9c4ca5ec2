"""`playground bench attention`: how fast the Attention tab redraws and switches checkpoints.

Offscreen, in a scratch PLAYGROUND_HOME: a run of the Small preset (4 layers × 4 heads,
d_model 128, context 64) with a few snapshots of random weights (a different seed each, so
every checkpoint differs), a 64-token text, and the real AttentionTab.

- ``grid_redraw_ms``: put a capture into the 4 × 4 grid and render it (``grab()`` paints
  the whole widget), alternating between two checkpoints' weights.
- ``checkpoint_switch_ms``: from moving the slider to a checkpoint never seen before to the
  grid painted: load the snapshot, run the capture in the worker, score the heads, redraw.
  The slider's debounce (``SLIDER_DELAY_MS``) is left out and reported apart.
- ``cached_switch_ms``: the same for a checkpoint seen before (the result is cached).

Each is the median of ``repeats`` runs. The machine's load average is reported with them:
numbers measured on a busy machine are slower than the app on an idle one.
"""

from __future__ import annotations

import os
import statistics
import time

from playground.bench import load_average, scratch_home


def _spin(app, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the Attention tab did not finish in time")
        app.processEvents()
        time.sleep(0.0005)


def _make_run(n_snapshots: int, preset_name: str):
    import torch

    from playground.core.checkpoint import Run
    from playground.core.config import TrainConfig, preset
    from playground.core.corpus import load_builtin
    from playground.core.model import build_model
    from playground.core.tokenizers import train_tokenizer

    corpus = load_builtin("grammar-lessons")
    tok = train_tokenizer("char", corpus.text)
    cfg = preset(preset_name, tok.vocab_size)
    run = Run.create("bench-attention", cfg, TrainConfig(iters=n_snapshots), corpus.record(), tok)
    for step in range(n_snapshots):
        torch.manual_seed(step)
        run.save_snapshot(step, build_model(cfg), val_loss=None, keep=max(n_snapshots, 2))
    return run, corpus, tok, cfg


def measure(repeats: int = 7, tokens: int = 64, preset_name: str = "small") -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with scratch_home("playground-bench-attention-"):
        return _measure(repeats, tokens, preset_name)


def _measure(repeats: int, tokens: int, preset_name: str) -> dict:
    import torch
    from PySide6.QtWidgets import QApplication

    import playground.gui  # noqa: F401 - the PySide6 refcount guards
    from playground.core.model_cache import MODELS
    from playground.gui import workers
    from playground.gui.state import AppState
    from playground.gui.tabs import attention_tab as at

    app = QApplication.instance() or QApplication(["playground-bench"])
    n_snapshots = repeats + 3
    run, corpus, tok, cfg = _make_run(n_snapshots, preset_name)
    text = corpus.split(0.9)[1][:tokens * 4]
    text = tok.decode(tok.encode(text)[:min(tokens, cfg.context_length)])

    tab = at.AttentionTab(AppState())
    tab.resize(1280, 800)
    tab.show()
    _spin(app, lambda: tab._built and tab.run is not None and not tab.busy)
    tab.set_text(text)
    _spin(app, lambda: not tab.busy and tab.shown_key == tab.current_key())
    T = len(tab.ids)

    def shown() -> bool:
        return not tab.busy and tab.shown_key == tab.current_key()

    def switch_to(index: int) -> float:
        t0 = time.perf_counter()
        tab.slider.setValue(index)
        tab._slider_timer.stop()  # the debounce is reported apart
        tab._request()
        _spin(app, shown)
        tab.grid.viewport().repaint()
        return (time.perf_counter() - t0) * 1000

    # Checkpoints never seen: clear both caches so each switch loads and captures afresh.
    switches = []
    for i in range(repeats):
        MODELS.forget()
        tab.captures.clear()
        switches.append(switch_to(i + 1 if i + 1 != tab.slider.value() else i + 2))
    cached = [switch_to(idx) for idx in [1, 2] * ((repeats + 1) // 2)][:repeats]

    caps = [tab.captures[k] for k in list(tab.captures)[-2:]]
    redraws = []
    for i in range(repeats + 1):
        cap = caps[i % 2]
        t0 = time.perf_counter()
        tab.grid.set_data(cap.attention, tab.labels, cap.head_labels)
        tab.grid.grab()
        redraws.append((time.perf_counter() - t0) * 1000)
    redraws = redraws[1:]  # the first one lays out the fonts

    tab.shutdown()
    workers.shutdown()
    tab.close()
    return {
        "grid_redraw_ms": round(statistics.median(redraws), 1),
        "checkpoint_switch_ms": round(statistics.median(switches), 1),
        "cached_switch_ms": round(statistics.median(cached), 1),
        "slider_debounce_ms": at.SLIDER_DELAY_MS,
        "runs": {"grid_redraw_ms": [round(x, 1) for x in redraws],
                 "checkpoint_switch_ms": [round(x, 1) for x in switches]},
        "config": {"preset": preset_name, "n_layer": cfg.n_layer, "n_head": cfg.n_head,
                   "d_model": cfg.d_model, "tokens": T, "weights": "random (one seed per checkpoint)",
                   "repeats": repeats, "platform": os.environ.get("QT_QPA_PLATFORM"),
                   "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()},
        "load_average": load_average(),
    }
