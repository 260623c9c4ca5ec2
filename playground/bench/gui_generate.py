"""`playground bench gui-generate`: how fast generated text reaches the Generate tab.

A Small model (random weights, or briefly trained with ``--train-iters``) with a 65-token
character vocabulary is saved as a run in a scratch PLAYGROUND_HOME and loaded (cached) by a
Generate tab in an offscreen window. Each repetition presses Generate and measures, in the GUI
thread:

* ``first_token_ms``: from the press to the first token painted in the view (the tab's
  ``tokensShown`` signal, then a synchronous repaint of the view);
* ``tokens_per_s``: tokens shown / (last token shown - press);
* ``updates_per_s``: how many times the view was updated a second (tokens arrive in batches,
  at most ~30 a second, when the model is faster than that).

Medians over ``--runs`` repetitions (the first one is reported separately: it warms up torch).
"""

from __future__ import annotations

import os
import statistics
import string
import time

from playground.bench import load_average, scratch_home

FIRST = string.ascii_letters + string.digits + " .\n"  # 65 characters: the vocabulary


def _make_run(preset: str, train_iters: int):
    from playground.core import checkpoint, config, tokenizers, train
    from playground.core import corpus as corpus_mod
    from playground.core import model as model_mod

    text = (FIRST * 40 + "\n") * 20
    if train_iters > 0:
        corpus = corpus_mod.load_builtin("python-docs")
        tok = tokenizers.train_tokenizer("char", corpus.text)
    else:
        corpus = corpus_mod.from_text(text, "65 characters")
        tok = tokenizers.CharTokenizer.train(text)
    cfg = config.preset(preset, tok.vocab_size)
    tcfg = config.TrainConfig(iters=max(1, train_iters), eval_interval=max(1, train_iters), eval_iters=2,
                             sample_tokens=0, device="cpu", warmup=min(100, max(0, train_iters // 10)))
    run = checkpoint.Run.create(f"bench-{preset}", cfg, tcfg, corpus.record(tcfg.split), tok)
    if train_iters > 0:
        train.train_run(run, corpus)
    else:  # random initial weights are as fast as trained ones
        import torch

        torch.manual_seed(0)
        run.save_snapshot(0, model_mod.build_model(cfg), None)
    return run, cfg


def measure(runs: int = 5, tokens: int = 200, preset: str = "small", train_iters: int = 0) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with scratch_home("playground-bench-gui-"):
        return _measure(runs, tokens, preset, train_iters)


def _wait(condition, timeout: float = 120.0) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the Generate tab did not finish in time")
        loop = QEventLoop()
        QTimer.singleShot(5, loop.quit)
        loop.exec()


def _measure(runs: int, tokens: int, preset: str, train_iters: int) -> dict:
    from PySide6.QtWidgets import QApplication

    import playground.gui  # noqa: F401 - applies the PySide6 workaround
    from playground.gui.state import AppState
    from playground.gui.tabs.generate import GenerateTab

    app = QApplication.instance() or QApplication(["playground-bench"])
    run, cfg = _make_run(preset, train_iters)
    state = AppState()
    tab = GenerateTab(state)
    tab.resize(1200, 800)
    tab.show()
    state.set_run(run)
    _wait(lambda: tab.cached_model(run) is not None and not tab.busy)
    tab.prompt.setPlainText("The ")
    tab.max_tokens.setValue(tokens)

    marks: list[tuple[float, int]] = []

    def shown(n: int) -> None:
        tab.view.viewport().repaint()  # painted, not just scheduled
        marks.append((time.perf_counter(), n))

    tab.tokensShown.connect(shown)
    results = []
    for _ in range(max(1, runs) + 1):
        marks.clear()
        pressed = time.perf_counter()
        tab.generate()
        _wait(lambda: not tab.busy)
        if not marks or marks[-1][1] != tokens:
            raise RuntimeError(f"expected {tokens} tokens, saw {marks[-1][1] if marks else 0}: "
                               f"{tab.error_label.text()}")
        last = marks[-1][0]
        results.append({
            "first_token_ms": (marks[0][0] - pressed) * 1000,
            "tokens_per_s": tokens / (last - pressed),
            "updates_per_s": len(marks) / max(last - marks[0][0], 1e-9),
            "tokens_per_update": tokens / len(marks),
        })
        app.processEvents()
    tab.shutdown()
    tab.close()
    warm, rest = results[0], results[1:]

    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in rest), 2)

    return {
        "first_token_ms": med("first_token_ms"),
        "tokens_per_s": med("tokens_per_s"),
        "updates_per_s": med("updates_per_s"),
        "tokens_per_update": med("tokens_per_update"),
        "first_token_ms_min": round(min(r["first_token_ms"] for r in rest), 2),
        "first_run_first_token_ms": round(warm["first_token_ms"], 2),
        "first_token_ms_runs": [round(r["first_token_ms"], 2) for r in rest],
        "config": {"preset": preset, "vocab_size": cfg.vocab_size, "n_layer": cfg.n_layer,
                   "n_head": cfg.n_head, "d_model": cfg.d_model, "context_length": cfg.context_length,
                   "tokens": tokens, "runs": len(rest), "train_iters": train_iters,
                   "weights": "trained" if train_iters > 0 else "random init",
                   "platform": os.environ.get("QT_QPA_PLATFORM", "")},
        "load_average": load_average(),
        "cpu_count": os.cpu_count(),
    }
