"""The Train tab: training through its buttons, live curves, pause/resume/stop, runs list."""

from __future__ import annotations

import math
import os
import types

import numpy as np
import pytest
from PySide6.QtCore import Qt

from playground.core import checkpoint, config, events, tokenizers, train
from playground.core import corpus as corpus_mod
from playground.core.config import ModelConfig
from playground.gui import training_process as tp
from playground.gui import ui

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
    tcfg = config.TrainConfig(iters=iters, batch_size=4, warmup=2, eval_interval=4, eval_iters=2,
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
    saved = []
    tab.state.checkpointSaved.connect(lambda path, step: saved.append((path, step)))
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
    _, ly = tab.loss_plot.lr_curve.getOriginalDataset()
    assert np.array_equal(ly, [r["lr"] for r in steps])
    # The uniform-guessing line sits at ln(vocab).
    assert tab.loss_plot.reference.value() == pytest.approx(math.log(tab.state.tokenizer.vocab_size))

    # A checkpoint exists and loads; the run became the app's current model.
    assert [s for s, _ in run.snapshots()] == [0, 15, 30]
    assert saved == [(str(run.path), 0), (str(run.path), 15), (str(run.path), 30)]  # the Attention tab follows
    model = run.load_model()
    assert sum(p.numel() for p in model.parameters()) == config.param_count(tiny_config(run.model_config.vocab_size))
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
    assert not fresh.banner.isHidden() and run.name in fresh.banner.label.text()
    fresh.banner.dismiss_button.click()
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
    tab.settings.lr_box.setCurrentText("fast please")
    assert tab.start_training() is None
    assert tab.job is None and not tab.message_label.isHidden()
    assert "not a number" in tab.message_label.text() and "1e-3" in tab.message_label.text()
    assert checkpoint.list_runs() == []


def test_compile_box_sets_the_training_config(tab):
    compile_box = tab.settings.compile_box
    assert not compile_box.isChecked() and tab.train_config().compile is False  # off: starts at once
    compile_box.setChecked(True)
    assert tab.train_config().compile is True
    assert "torch.compile" in compile_box.toolTip()
    # While the first step compiles, the status line says so; the first step clears it.
    tab.run = types.SimpleNamespace(name="demo")
    tab.handle_events([events.Note(0, events.COMPILING_NOTE)])
    assert tab.status_label.text() == events.COMPILING_NOTE
    tab.handle_events([events.Step(1, 4.1, 1e-3, 900.0)])
    assert tab.status_label.text() == "Training run demo (compiled)."


DEFAULT_KEYS = ("iters", "batch_size", "lr", "warmup", "eval_interval")


@pytest.mark.parametrize("size", ["tiny", "gpt2-124m"])
def test_defaults_are_the_core_rule_the_cli_uses_too(tab, size):
    cfg = config.preset(size, tab.state.tokenizer.vocab_size)
    tab.state.set_model_config(cfg)
    tab.settings.set_values(iters=7, batch_size=3, lr=0.5, warmup=1, eval_interval=2)  # not a default
    tab.settings.defaults_button.click()
    values, why = config.training_defaults(cfg)
    gui = tab.train_config()
    assert {k: getattr(gui, k) for k in DEFAULT_KEYS} == values
    cli = config.train_config_for(cfg)  # what `playground train` builds when no setting is given
    keys = (*DEFAULT_KEYS, "min_lr")
    assert {k: getattr(gui, k) for k in keys} == {k: getattr(cli, k) for k in keys}
    assert tab.settings.defaults_note.text() == why and not tab.settings.defaults_note.isHidden()


def test_defaults_differ_between_tiny_and_large(tab):
    vocab = tab.state.tokenizer.vocab_size
    tiny, _ = config.training_defaults(config.preset("tiny", vocab))
    large, _ = config.training_defaults(config.preset("gpt2-124m", vocab))
    assert tiny["lr"] > large["lr"] == 3e-4 and tiny["batch_size"] > large["batch_size"] == 4
    tab.state.set_model_config(config.preset("gpt2-124m", vocab))
    tab.apply_defaults()
    assert float(tab.settings.lr_box.currentText()) == pytest.approx(3e-4) and tab.settings.batch_box.value() == 4
    assert "12 layers" in tab.model_label.text()


def test_default_model_is_tiny_until_the_model_tab_sets_one(tab):
    from playground.core.config import preset

    tab.state.set_model_config(None)
    assert tab.model_config() == preset("tiny", tab.state.tokenizer.vocab_size)
    assert "Tiny preset" in tab.model_label.text()


def test_nan_finish_shows_the_trainers_message_and_marks_the_learning_rate(tab, lessons):
    corpus, tok = lessons
    tcfg = config.TrainConfig(iters=30, batch_size=4, lr=1e10, min_lr=0, warmup=0, eval_interval=10,
                              eval_iters=2, sample_tokens=0)
    run = checkpoint.Run.create("diverges", tiny_config(tok.vocab_size), tcfg, corpus.record(tcfg.split), tok)
    finished = train.train_run(run, corpus)[-1]  # a learning rate of 1e10 diverges at once
    assert (finished.reason, finished.suggest) == ("nan", "lr")
    tab.show_finished(finished)
    assert tab.message_label.text() == (
        "<b>Training stopped: the loss became NaN (not a number).</b><br>" + finished.message)
    assert tab.message_label.styleSheet() == ui.ERROR and not tab.message_label.isHidden()
    assert tab.status_label.text() == "Training stopped: the loss became NaN (not a number)."
    assert tab.settings.marked == "lr" and "border" in tab.settings.lr_box.styleSheet()
    assert tab.settings.batch_box.styleSheet() == ""


def test_out_of_memory_finish_marks_the_batch_size(tab, lessons, monkeypatch):
    import torch

    from playground.core import model as model_mod

    real_build = model_mod.build_model

    def build(cfg):  # the third training forward runs out of memory, as a too-big batch would
        m = real_build(cfg)
        calls = []

        def hook(module, args, output):
            if module.training:
                calls.append(1)
                if len(calls) >= 3:
                    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return output

        m.register_forward_hook(hook)
        return m

    monkeypatch.setattr(model_mod, "build_model", build)
    corpus, tok = lessons
    tcfg = config.TrainConfig(iters=30, batch_size=4, warmup=2, eval_interval=100, eval_iters=2, sample_tokens=0)
    run = checkpoint.Run.create("oom", tiny_config(tok.vocab_size), tcfg, corpus.record(tcfg.split), tok)
    finished = train.train_run(run, corpus)[-1]
    assert (finished.reason, finished.it, finished.suggest) == ("oom", 2, "batch_size")
    tab.settings.mark("lr")  # an earlier failure's mark gives way
    tab.show_finished(finished)
    assert tab.message_label.text() == "<b>Training stopped: out of memory.</b><br>" + finished.message
    assert tab.settings.marked == "batch_size" and tab.settings.lr_box.styleSheet() == ""
    # A failure the core names no setting for (the disk filled up) marks none.
    tab.show_finished(events.Finished("error", 5, "The disk is full."))
    assert tab.settings.marked is None and tab.settings.batch_box.styleSheet() == ""
    assert tab.message_label.text() == "<b>Training stopped by an error.</b><br>The disk is full."


def test_checkpointed_event_tells_the_app_state(tab, qtbot, lessons):
    run = make_run(lessons, "ckpt")
    tab.run = run
    with qtbot.waitSignal(tab.state.checkpointSaved) as sig:
        tab.handle_events([events.Checkpointed(8, str(run.path / "checkpoints" / "step-8.pt"))])
    assert sig.args == [str(run.path), 8] and tab.last_checkpoint == 8


def test_a_model_too_big_is_refused_by_the_training_process(tab, qtbot, monkeypatch):
    """The fit check needs the device: it runs in the child, never in the GUI process (no CUDA there)."""
    from playground.core import devices

    gui_checks = []
    monkeypatch.setattr(devices, "check_fits", lambda *a, **k: gui_checks.append(a))
    vocab = tab.state.tokenizer.vocab_size
    huge = ModelConfig(vocab_size=vocab, context_length=1024, n_layer=256, n_head=64, d_model=16384)
    assert config.memory_estimate(huge, 4) > 10**13  # terabytes: no machine here has that
    tab.state.set_model_config(huge)
    tab.set_train_values(iters=20, batch_size=4, eval_interval=10)
    assert tab.start_training() is not None and tab.phase == "starting"
    wait_done(qtbot, tab)
    text = tab.message_label.text()
    assert "with batch size 4, but only" in text and "Make the model smaller" in text, text
    assert f"({config.param_count(huge):,} parameters)" in text
    assert gui_checks == [] and checkpoint.list_runs() == [] and tab.start_button.isEnabled()


def test_runs_list_disk_column_is_the_shared_byte_format(tab, lessons):
    run = make_run(lessons, "sized")
    tab.runs_list.refresh()
    row = tab.runs_list.row_of(run)
    disk = tab.runs_list.table.item(row, 7)
    assert disk.text() == ui.format_bytes(run.disk_size())
    assert disk.data(Qt.UserRole + 1) == run.disk_size() > 0


def test_overfitting_note_appears(tab):
    tab.ensure_plot()
    rising = [(0, 3.0, 3.0), (10, 2.0, 2.1), (20, 1.5, 2.2), (30, 1.0, 2.3), (40, 0.5, 2.4)]
    tab.handle_events([events.Eval(it, a, b) for it, a, b in rising[:2]])
    assert tab.overfit_label.isHidden()
    tab.handle_events([events.Eval(it, a, b) for it, a, b in rising[2:]])
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
        _, vy = overlays[run.name]["val"].getOriginalDataset()
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
    assert "cut off" in tab.banner.label.text() and not tab.banner.isHidden()


def test_a_text_too_short_says_so_and_leaves_no_empty_run(tab, qtbot, lessons):
    tab.state.set_corpus(corpus_mod.from_text(lessons[0].text[:60]))  # characters the tokenizer knows
    tab.set_train_values(iters=20, batch_size=4, eval_interval=10)
    tab.start_button.click()
    wait_done(qtbot, tab)
    text = tab.message_label.text()
    assert not tab.message_label.isHidden() and "too small to train on" in text.lower(), text
    assert "Use a longer text" in text
    assert checkpoint.list_runs() == [] and tab.start_button.isEnabled()


def test_a_run_cut_off_by_kill_9_is_offered_at_the_next_start(tab, lessons):
    """kill -9 of the app (and its child) leaves status "training" and a metrics file written a
    moment ago; no process holds the run's lock any more: the next start offers to resume."""
    from playground.core import run_lock

    run = make_run(lessons, "killed")
    run.update(status="training")  # what the kill leaves behind; metrics.csv is seconds old
    assert tab.check_interrupted() == run
    assert not tab.banner.isHidden() and "cut off" in tab.banner.label.text()
    assert tab.banner.resume_button.text() == "Resume it"
    # The same run while another process (the command line) trains it: no offer, no Resume.
    with run_lock.acquire(run.path, run.name):
        tab.banner.take()
        assert tab.check_interrupted() is None and tab.banner.isHidden()
        tab.runs_list.refresh()
        tab.runs_list.select(run)
        row = tab.runs_list.row_of(run)
        assert tab.runs_list.table.item(row, 6).text().endswith("training in another process")
        assert not tab.runs_list.resume_button.isEnabled() and not tab.runs_list.delete_button.isEnabled()


def test_a_number_past_its_range_says_the_range(tab, qtbot):
    box = tab.settings.iters_box
    note = tab.settings.range_note
    assert note.isHidden() and "(1 to 10,000,000)" in box.toolTip()
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "99999999")  # past 10,000,000: a plain spin box drops the last 9 silently
    assert not note.isHidden()
    assert note.text() == ("The number of iterations goes from 1 to 10,000,000: 99999999 is too high; "
                           "leaving the field sets 10,000,000.")
    assert tab.train_config().iters == 10_000_000  # Start takes the nearest end, and says so
    assert note.text().endswith("99999999 was set to 10,000,000.") and not note.isHidden()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "5")
    assert note.isHidden() and tab.train_config().iters == 5


def test_resuming_a_run_another_process_trains_is_refused_in_words(tab, qtbot, lessons):
    from playground.core import run_lock

    run = make_run(lessons, "busy-elsewhere")
    run.update(status="stopped", interrupted=True)
    info, rows = checkpoint.Run(run.path).info, run.metrics()
    with run_lock.acquire(run.path, run.name):  # this test process stands for the command line
        tab.resume_run(run)  # e.g. from the banner, just before the other process started
        wait_done(qtbot, tab)
        text = tab.message_label.text()
        assert "already training in another process" in text and f"pid {os.getpid()}" in text, text
        assert "mix" in text  # the hint: why two trainings of one run are refused
        assert tab.finished_event is None and tab.start_button.isEnabled()
        # The first training is untouched: its run.json, its log, its lock.
        after = checkpoint.Run(run.path)
        assert after.info == info and after.metrics() == rows
        assert run_lock.owner_of(run.path)["pid"] == os.getpid()


def test_a_disk_error_in_the_training_process_is_said_and_the_run_is_stopped(tab, qtbot, monkeypatch):
    """A write the machine refuses in the training process (here the snapshot of step 3: its file
    name is taken by a folder) ends the training with the trainer's words; the run is marked
    stopped with its last good checkpoint, and resumes once the disk is fixed."""
    real_create = checkpoint.Run.create.__func__

    def create(cls, *args, **kwargs):
        run = real_create(cls, *args, **kwargs)
        checkpoint.snapshot_file(run.path, 3).mkdir()
        return run

    monkeypatch.setattr(checkpoint.Run, "create", classmethod(create))
    tab.set_train_values(iters=6, batch_size=4, warmup=1, eval_interval=3)
    run = tab.start_training()
    wait_done(qtbot, tab)
    assert (tab.finished_event.reason, tab.finished_event.it) == ("error", 3)
    text = tab.message_label.text()
    assert text.startswith("<b>Training stopped by an error.</b><br>Could not save the checkpoint "
                           "step_000003.pt"), text
    assert tab.message_label.styleSheet() == ui.ERROR and "Training stopped by an error" in tab.status_label.text()
    run = checkpoint.Run(run.path)
    assert run.status == "stopped" and checkpoint.list_runs() == [run]
    assert run.load_latest()["step"] == 3 and [s for s, _ in run.snapshots() if s != 3] == [0]

    checkpoint.snapshot_file(run.path, 3).rmdir()  # the student freed the disk
    tab.runs_list.refresh()
    tab.runs_list.select(run)
    assert tab.runs_list.resume_button.text() == "Resume" and tab.runs_list.resume_button.isEnabled()
    tab.runs_list.resume_button.click()
    wait_done(qtbot, tab)
    assert tab.finished_event.reason == "done", tab.message_label.text()
    assert checkpoint.Run(run.path).status == "finished"


def test_a_new_run_that_fails_before_saving_anything_is_not_kept(tab, qtbot, monkeypatch):
    real_create = checkpoint.Run.create.__func__

    def create(cls, *args, **kwargs):
        run = real_create(cls, *args, **kwargs)
        # Step 0's evaluation cannot be logged (its file points nowhere): nothing gets saved.
        run.metrics_path.symlink_to(run.path / "gone" / "metrics.csv")
        return run

    monkeypatch.setattr(checkpoint.Run, "create", classmethod(create))
    tab.set_train_values(iters=6, batch_size=4, warmup=1, eval_interval=3)
    assert tab.start_training() is not None
    wait_done(qtbot, tab)
    assert tab.finished_event.reason == "error"
    text = tab.message_label.text()
    assert "Could not" in text and text.endswith("Nothing was saved, so the run was not kept."), text
    assert checkpoint.list_runs() == [] and tab.start_button.isEnabled()


def test_a_run_killed_before_its_first_checkpoint_starts_again_from_the_banner(tab, qtbot, lessons):
    corpus, tok = lessons
    tcfg = config.TrainConfig(iters=6, batch_size=4, warmup=1, eval_interval=3, eval_iters=2, sample_tokens=0)
    run = checkpoint.Run.create("killed-early", tiny_config(tok.vocab_size), tcfg, corpus.record(tcfg.split), tok)
    run.update(status="training")  # killed after step 0's evaluation was logged, before its checkpoint
    run.append_metrics({"kind": "eval", "it": 0, "train_loss": 4.0, "val_loss": 4.0, "time": 0.1})
    run.close_metrics()
    assert tab.check_interrupted() == run
    assert tab.banner.resume_button.text() == "Start again" and "nothing to resume" in tab.banner.label.text()
    tab.banner.resume_button.click()
    assert tab.banner.isHidden() and tab.phase == "starting"
    wait_done(qtbot, tab)
    assert tab.finished_event.reason == "done", tab.message_label.text()
    run = checkpoint.Run(run.path)
    evals = [r["it"] for r in run.metrics("eval")]
    assert evals == [0, 3, 6] and run.status == "finished"  # one log, from the new start
