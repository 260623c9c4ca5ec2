"""The Train tab: training through its buttons, live curves, pause/resume/stop, runs list."""

from __future__ import annotations

import math
import os
import types

import numpy as np
import pytest
from PySide6.QtCore import Qt

from playground.core import checkpoint, tokenizers, train
from playground.core import corpus as corpus_mod
from playground.core.model import ModelConfig
from playground.gui import training_process as tp

WAIT_MS = 120_000  # the child imports torch: seconds on a busy 2-core machine


@pytest.fixture(scope="module")
def lessons():
    corpus = corpus_mod.load("builtin:grammar-lessons")
    return corpus, tokenizers.train_tokenizer("char", corpus.text)


def tiny_config(vocab_size: int) -> ModelConfig:
    return ModelConfig(vocab_size=vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)


@pytest.fixture
def tab(qtbot, lessons):
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    corpus, tok = lessons
    state = AppState()
    state.set_corpus(corpus)
    state.set_tokenizer(tok)
    state.set_model_config(tiny_config(tok.vocab_size))
    widget = TrainTab(state)
    qtbot.addWidget(widget)
    widget.resize(1100, 750)
    widget.show()
    yield widget
    widget.shutdown()


def make_run(lessons, name: str, iters: int = 12, seed: int = 1) -> checkpoint.Run:
    """A finished run trained in-process (fast: no child process)."""
    corpus, tok = lessons
    tcfg = train.TrainConfig(iters=iters, batch_size=4, warmup=2, eval_interval=4, eval_iters=2,
                             sample_tokens=0, seed=seed)
    run = checkpoint.Run.create(name, tiny_config(tok.vocab_size), tcfg, corpus.record(tcfg.split), tok)
    events = train.train_run(run, corpus)
    assert events[-1].reason == "done"
    return checkpoint.Run(run.path)


def wait_done(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: tab.job is None and tab.phase == "idle", timeout=WAIT_MS)


def test_train_30_steps_through_the_buttons(tab, qtbot):
    assert tab.start_button.isEnabled() and not tab.pause_button.isEnabled()
    tab.set_train_values(iters=30, batch_size=4, warmup=3, eval_interval=15, seed=3)
    qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert tab.phase == "starting" and tab.stop_button.isEnabled() and not tab.start_button.isEnabled()
    job = tab.job
    wait_done(qtbot, tab)
    assert tab.finished_event.reason == "done", tab.message_label.text()
    run = checkpoint.Run(tab.run.path)
    assert run.status == "finished" and run.step == 30
    assert tab.progress.value() == 30

    # The curves hold exactly the numbers written to metrics.csv.
    steps = run.metrics("step")
    evals = run.metrics("eval")
    x, y = tab.loss_plot.train_curve.getOriginalDataset()
    assert list(x) == [r["it"] for r in steps] == list(range(1, 31))
    assert np.array_equal(y, [r["loss"] for r in steps])
    vx, vy = tab.loss_plot.val_curve.getOriginalDataset()
    assert list(vx) == [0, 15, 30]
    assert np.array_equal(vy, [r["val_loss"] for r in evals])
    lx, ly = tab.loss_plot.lr_curve.getOriginalDataset()
    assert np.array_equal(ly, [r["lr"] for r in steps])
    # The uniform-guessing line sits at ln(vocab).
    assert tab.loss_plot.reference.value() == pytest.approx(math.log(tab.state.tokenizer.vocab_size))

    # A checkpoint exists and loads; the run became the app's current model.
    assert [s for s, _ in run.snapshots()] == [0, 15, 30]
    model = run.load_model()
    assert sum(p.numel() for p in model.parameters()) > 0
    assert tab.state.run == run
    assert tab.sample_text.toPlainText().strip()
    assert "step 30" in tab.sample_title.text()
    assert tab.runs_list.row_of(run) == 0
    assert "Training finished" in tab.message_label.text()
    assert job.pid and not tp.pid_alive(job.pid) and not job.running


def test_pause_holds_resume_continues_stop_ends_the_child(tab, qtbot):
    tab.set_train_values(iters=100_000, batch_size=4, warmup=3, eval_interval=100_000)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.current_step >= 3, timeout=WAIT_MS)
    job = tab.job
    pid = job.pid
    assert tp.pid_alive(pid)

    tab.pause_button.click()
    assert tab.phase == "pausing" and tab.resume_button.isEnabled()
    qtbot.waitUntil(lambda: tab.phase == "paused", timeout=WAIT_MS)
    held = tab.current_step
    points = tab.loss_plot.steps.n
    qtbot.wait(600)
    assert tab.current_step == held and tab.loss_plot.steps.n == points
    assert "Paused at step" in tab.status_label.text()

    tab.resume_button.click()
    qtbot.waitUntil(lambda: tab.current_step >= held + 3, timeout=WAIT_MS)
    assert tab.phase == "training"

    tab.stop_button.click()
    assert tab.phase == "stopping"
    wait_done(qtbot, tab)
    assert tab.finished_event.reason == "stopped"
    assert not job.running and job.process is not None and not job.process.is_alive()
    assert not tp.pid_alive(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    run = checkpoint.Run(tab.run.path)
    assert run.status == "stopped"
    assert run.load_latest()["step"] == tab.finished_event.it == run.step
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()
    # A stopped run can be resumed from the runs list: its curves come back and it goes on.
    stopped_at = run.step
    before = [r["loss"] for r in run.metrics("step")]
    tab.runs_list.select(run)
    assert tab.runs_list.resume_button.isEnabled()
    tab.runs_list.resume_button.click()
    assert tab.phase == "starting" and tab.loss_plot.steps.n == stopped_at
    qtbot.waitUntil(lambda: tab.current_step >= stopped_at + 3, timeout=WAIT_MS)
    tab.stop_button.click()
    wait_done(qtbot, tab)
    assert tab.finished_event.reason == "stopped" and tab.finished_event.it > stopped_at
    steps = checkpoint.Run(run.path).metrics("step")
    assert [r["it"] for r in steps] == list(range(1, tab.finished_event.it + 1))
    assert [r["loss"] for r in steps[:stopped_at]] == before
    _, y = tab.loss_plot.train_curve.getOriginalDataset()
    assert np.array_equal(y, [r["loss"] for r in steps])


def test_close_window_while_training_asks_stops_and_offers_resume(make_window, wait_idle, qtbot,
                                                                   monkeypatch, lessons):
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    window = make_window()
    window.show()
    wait_idle(window)
    tab = next(t for t in window.tab_widgets if isinstance(t, TrainTab))
    window.state.set_model_config(tiny_config(window.state.tokenizer.vocab_size))
    tab.set_train_values(iters=100_000, batch_size=4, eval_interval=100_000)
    tab.start_button.click()
    qtbot.waitUntil(lambda: tab.current_step >= 2, timeout=WAIT_MS)
    pid = tab.job.pid

    asked = []
    monkeypatch.setattr(tab, "_ask_stop_and_close", lambda: asked.append(1) or False)
    window.close()
    assert asked and window.isVisible() and tab.busy  # "Keep training"

    monkeypatch.setattr(tab, "_ask_stop_and_close", lambda: True)
    run_path = tab.run.path
    window.close()
    assert not window.isVisible() and not tab.busy
    assert not tp.pid_alive(pid)
    run = checkpoint.Run(run_path)
    assert run.status == "stopped" and run.info.get("interrupted") is True
    assert run.load_latest()["step"] == run.step >= 2

    # The next start offers to resume it.
    state = AppState()
    state.set_corpus(lessons[0])
    state.set_tokenizer(lessons[1])
    fresh = TrainTab(state)
    qtbot.addWidget(fresh)
    assert fresh.check_interrupted() == run
    assert not fresh.banner.isHidden() and run.name in fresh.banner_label.text()
    fresh._dismiss_banner()
    assert fresh.banner.isHidden() and checkpoint.Run(run_path).info["interrupted"] is False
    fresh.shutdown()


def test_needs_corpus_and_tokenizer_first(qtbot):
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    tab = TrainTab(AppState())
    qtbot.addWidget(tab)
    assert not tab.start_button.isEnabled()
    assert not tab.prereq.isHidden() and "Corpus" in tab.prereq_label.text()
    with qtbot.waitSignal(tab.requestTab) as sig:
        tab.go_corpus.click()
    assert sig.args == ["Corpus"]
    assert tab.start_training() is None and tab.job is None


def test_bad_learning_rate_is_an_inline_message(tab):
    tab.lr_box.setCurrentText("fast please")
    assert tab.start_training() is None
    assert tab.job is None and not tab.message_label.isHidden()
    assert "not a number" in tab.message_label.text() and "1e-3" in tab.message_label.text()
    assert checkpoint.list_runs() == []


def test_compile_box_sets_the_training_config(tab):
    assert not tab.compile_box.isChecked() and tab.train_config().compile is False  # off: starts at once
    tab.compile_box.setChecked(True)
    assert tab.train_config().compile is True
    assert "torch.compile" in tab.compile_box.toolTip()
    # While the first step compiles, the status line says so; the first step clears it.
    tab.run = types.SimpleNamespace(name="demo")
    tab.handle_events([train.Note(0, train.COMPILING_NOTE)])
    assert tab.status_label.text() == train.COMPILING_NOTE
    tab.handle_events([train.Step(1, 4.1, 1e-3, 900.0)])
    assert tab.status_label.text() == "Training run demo (compiled)."


def test_sensible_defaults_follow_the_model_size(tab):
    from playground.core.model import preset

    tab.apply_defaults()
    assert tab.lr_box.currentText() == "0.001" and tab.warmup_box.value() == 100
    tab.state.set_model_config(preset("medium", tab.state.tokenizer.vocab_size))
    tab.apply_defaults()
    assert float(tab.lr_box.currentText()) == pytest.approx(6e-4)
    assert "M parameters" in tab.defaults_note.text()
    assert "6 layers" in tab.model_label.text()


def test_default_model_is_tiny_until_the_model_tab_sets_one(tab):
    from playground.core.model import preset

    tab.state.set_model_config(None)
    assert tab.model_config() == preset("tiny", tab.state.tokenizer.vocab_size)
    assert "Tiny preset" in tab.model_label.text()


def test_nan_finish_shows_what_happened_and_what_to_change(tab):
    msg = ("The loss became NaN or infinite at step 12: training diverged. The last good checkpoint "
           "(step 0) is kept. Lower the learning rate (e.g. to 3.3e+05), keep gradient clipping on, "
           "or use a longer warmup, then start a new run.")
    tab.show_finished(train.Finished("nan", 12, msg))
    text = tab.message_label.text()
    assert not tab.message_label.isHidden()
    assert "NaN" in text and "Lower the learning rate" in text and "checkpoint" in text
    tab.show_finished(train.Finished("oom", 3, "Out of memory at step 3 on CPU."))
    assert "smaller batch size" in tab.message_label.text()


def test_overfitting_note_appears(tab):
    tab.ensure_plot()
    rising = [(0, 3.0, 3.0), (10, 2.0, 2.1), (20, 1.5, 2.2), (30, 1.0, 2.3), (40, 0.5, 2.4)]
    tab.handle_events([train.Eval(it, a, b) for it, a, b in rising[:2]])
    assert tab.overfit_label.isHidden()
    tab.handle_events([train.Eval(it, a, b) for it, a, b in rising[2:]])
    assert not tab.overfit_label.isHidden() and "dropout" in tab.overfit_label.text()


def test_overlay_two_runs_draws_each_runs_own_data(tab, lessons):
    a = make_run(lessons, "run-a", iters=12, seed=1)
    b = make_run(lessons, "run-b", iters=8, seed=2)
    tab.runs_list.refresh()
    assert {r.name for r in tab.runs_list.runs()} == {"run-a", "run-b"}
    tab.runs_list.set_checked("run-a")
    tab.runs_list.set_checked("run-b")
    overlays = tab.loss_plot.overlays
    assert set(overlays) == {"run-a", "run-b"}
    for run in (a, b):
        x, y = overlays[run.name]["train"].getOriginalDataset()
        assert list(x) == [r["it"] for r in run.metrics("step")]
        assert np.array_equal(y, [r["loss"] for r in run.metrics("step")])
        vx, vy = overlays[run.name]["val"].getOriginalDataset()
        assert np.array_equal(vy, [r["val_loss"] for r in run.metrics("eval")])
    assert len(overlays["run-a"]["train"].getOriginalDataset()[0]) == 12
    assert len(overlays["run-b"]["train"].getOriginalDataset()[0]) == 8
    tab.runs_list.set_checked("run-a", False)
    assert set(tab.loss_plot.overlays) == {"run-b"}


def test_open_rename_delete_and_undo(tab, lessons):
    run = make_run(lessons, "to-delete")
    rows = run.metrics()
    tab.runs_list.refresh()
    tab.runs_list.open_run(run)
    assert tab.state.run == run
    assert tab.loss_plot.steps.n == 12  # its curves are shown

    renamed = tab.runs_list.rename_run(run, "my first model")
    assert renamed.name == "my-first-model" and tab.state.run == renamed
    assert tab.runs_list.row_of("my-first-model") >= 0

    trash = tab.runs_list.delete_run(renamed)
    assert trash and not renamed.path.exists()
    assert tab.runs_list.row_of("my-first-model") == -1 and tab.state.run is None
    assert not tab.runs_list.undo_bar.isHidden()
    tab.runs_list.undo_button.click()
    restored = checkpoint.Run.open("my-first-model")
    assert restored.metrics() == rows
    assert tab.runs_list.row_of("my-first-model") >= 0 and tab.runs_list.undo_bar.isHidden()


def test_export_import_zip_gives_an_identical_run(tab, lessons, qtbot, tmp_path):
    import torch

    run = make_run(lessons, "shared")
    zip_path = tmp_path / "shared.zip"
    tab.runs_list.export_zip(run, zip_path)
    qtbot.waitUntil(lambda: not tab.runs_list.busy, timeout=WAIT_MS)
    assert zip_path.exists()
    tab.runs_list.import_zip(zip_path)
    qtbot.waitUntil(lambda: not tab.runs_list.busy, timeout=WAIT_MS)
    names = {r.name for r in tab.runs_list.runs()}
    assert names == {"shared", "shared-2"}
    copy = checkpoint.Run.open("shared-2")
    assert copy.metrics() == run.metrics()
    assert copy.info["model"] == run.info["model"] and copy.info["train"] == run.info["train"]
    a, b = run.load_model().state_dict(), copy.load_model().state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_export_curves_png_and_csv(tab, lessons, tmp_path):
    run = make_run(lessons, "curves")
    png = tab.runs_list.export_png(run, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    csv_path = tab.runs_list.export_csv(run, tmp_path / "curves.csv")
    import csv

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["loss"]) for r in rows if r["kind"] == "step"] == [r["loss"] for r in run.metrics("step")]
    live = tab.ensure_plot().export_png(tmp_path / "live.png")
    assert live.exists()


def test_hover_readout_names_step_losses_and_lr(tab, lessons):
    run = make_run(lessons, "hover")
    tab.runs_list.refresh()
    tab.runs_list.open_run(run)
    step5 = run.metrics("step")[4]
    text = tab.loss_plot.readout_at(5.2)
    assert text.startswith("Step 5 ·") and f"{step5['loss']:.4f}" in text
    val4 = run.metrics("eval")[1]  # the evaluation at step 4
    assert f"validation loss {val4['val_loss']:.4f} (at step 4)" in text
    assert "learning rate" in text
    tab.loss_plot.set_log(True)
    assert tab.loss_plot.reference.value() == pytest.approx(math.log10(math.log(tab.state.tokenizer.vocab_size)))


def test_crashed_run_is_offered_for_resume(tab, lessons):
    run = make_run(lessons, "crashed")
    run.update(status="training")  # what a kill -9 leaves behind
    old = run.metrics_path.stat().st_mtime - 600
    os.utime(run.metrics_path, (old, old))
    assert tab.check_interrupted() == run
    assert "cut off" in tab.banner_label.text() and not tab.banner.isHidden()


def test_a_text_too_short_says_so_and_leaves_no_empty_run(tab, qtbot, lessons):
    tab.state.set_corpus(corpus_mod.from_text(lessons[0].text[:60]))  # characters the tokenizer knows
    tab.set_train_values(iters=20, batch_size=4, eval_interval=10)
    tab.start_button.click()
    wait_done(qtbot, tab)
    text = tab.message_label.text()
    assert not tab.message_label.isHidden() and "too small to train on" in text.lower(), text
    assert "Use a longer text" in text
    assert checkpoint.list_runs() == [] and tab.start_button.isEnabled()
