"""Measure (Model tab) times what training then runs: the same child entry, the same child
settings, the same batch size; and one batch size serves both tabs. Untimed: what is passed to
the child is compared, not how fast it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from playground.core import checkpoint, config, step_timer, tokenizers
from playground.core import corpus as corpus_mod
from playground.core.events import Finished
from playground.gui import child_process
from playground.gui import training_process as tp

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def lessons():
    corpus = corpus_mod.load("builtin:grammar-lessons")
    return corpus, tokenizers.train_tokenizer("char", corpus.text)


@pytest.fixture
def tabs(qtbot, lessons, monkeypatch):
    """A Model tab and a Train tab on one AppState, as the window has them (device known)."""
    from playground.gui import device_probe, workers
    from playground.gui.state import AppState
    from playground.gui.tabs.model_tab import ModelTab
    from playground.gui.tabs.train_tab import TrainTab

    monkeypatch.setattr(device_probe, "_cached", device_probe.DeviceInfo("cpu", "CPU · test", None))
    corpus, tok = lessons
    state = AppState()
    state.set_corpus(corpus)
    state.set_tokenizer(tok)
    model_tab, train_tab = ModelTab(state), TrainTab(state)
    for tab in (model_tab, train_tab):
        qtbot.addWidget(tab)
    assert state.model_config == config.preset("tiny", tok.vocab_size)
    yield model_tab, train_tab
    for tab in (model_tab, train_tab):
        tab.shutdown()
        workers.shutdown(tab)


def fake_result(batch: int, others_cpu: float = 0.0) -> dict:
    return {"ms_median": 10.0, "ms_steps": [10.0] * 5, "ms_eval_batch": 3.0, "ms_sample_token": 1.0,
            "ms_setup": 500.0, "tokens_per_s": batch * 64 / 0.01, "steps": 5, "batch_size": batch,
            "context_length": 64, "device": "cpu", "device_description": "CPU · test", "threads": 2,
            "others_cpu": others_cpu, "load_average": [0.0, 0.0, 0.0], "cpu_count": 2}


class RecordingChild:
    """Stands in for child_process.ChildProcess: records what a child would be started with and
    answers as a finished child would."""

    started: list[dict] = []

    def __init__(self, target, *args, name: str) -> None:
        settings, task = args[0], args[1]
        RecordingChild.started.append({"target": target, "settings": settings, "task": task, "name": name})
        self.task = task
        self.process = None
        self.pid = None
        self.exitcode = 0

    def messages(self, keep_going=lambda: True, poll_s: float = 0.05):
        if isinstance(self.task, tp.MeasureTask):
            yield [tp.Measured(fake_result(self.task.batch_size, others_cpu=self.others_cpu))]
        else:
            yield [Finished("done", 0, "Finished.")]

    def close(self, grace_s: float = 0.0) -> None:
        pass


@pytest.fixture
def recorded(monkeypatch):
    RecordingChild.started = []
    RecordingChild.others_cpu = 0.0
    monkeypatch.setattr(child_process, "ChildProcess", RecordingChild)
    monkeypatch.setattr(tp, "others_busy", lambda: False)  # the load probe: the same for both
    return RecordingChild


def test_measure_starts_the_training_child_with_the_trainings_settings_and_batch(tabs, recorded, qtbot):
    model_tab, train_tab = tabs
    model_tab.batch_spin.setValue(7)  # one batch size: set on the Model tab...
    assert train_tab.settings.batch_box.value() == 7  # ...it is the Train tab's
    model_tab.measure()
    qtbot.waitUntil(lambda: not model_tab.busy, timeout=WAIT_MS)
    train_tab.set_train_values(iters=5)
    run = train_tab.start_training()
    qtbot.waitUntil(lambda: train_tab.job is None, timeout=WAIT_MS)

    measure, training = recorded.started
    assert isinstance(measure["task"], tp.MeasureTask) and isinstance(training["task"], tp.TrainTask)
    assert measure["target"] is training["target"] is tp._child_main  # the same child entry
    run = checkpoint.Run(run.path)
    assert measure["task"].batch_size == run.train_config.batch_size == 7
    assert measure["task"].model_cfg == run.model_config
    # Threads and OpenMP settings: built by the one function, from the same model and batch.
    assert measure["settings"] == training["settings"] == tp.child_settings(run.model_config, 7)
    assert (model_tab.cfg, 7) in model_tab.timings and "at batch 7" in model_tab.measure_label.text()


def test_the_child_applies_its_settings_before_torch(monkeypatch):
    settings = tp.ChildSettings(env=(("OMP_WAIT_POLICY", "PASSIVE"), ("PLAYGROUND_TEST_KNOB", "3")))
    monkeypatch.delenv("PLAYGROUND_TEST_KNOB", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's own choice is kept
    settings.apply_env()
    import os

    assert os.environ["PLAYGROUND_TEST_KNOB"] == "3" and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_one_batch_size_for_the_memory_check_measure_and_training(tabs):
    model_tab, train_tab = tabs
    state = model_tab.state
    train_tab.settings.batch_box.setValue(5)  # set on the Train tab...
    assert state.batch_size == 5 and model_tab.batch_spin.value() == 5  # ...the Model tab uses it
    assert "at batch 5" in model_tab.memory_label.text()
    tok = state.tokenizer
    state.set_model_config(config.preset("gpt2-124m", tok.vocab_size))
    train_tab.apply_defaults()  # the size's defaults choose a batch of 4: the Model tab follows
    assert train_tab.settings.batch_box.value() == 4 == model_tab.batch_spin.value() == state.batch_size
    model_tab.batch_spin.setValue(3)
    assert train_tab.train_config().batch_size == 3


def test_a_busy_machine_is_said_next_to_the_figure(tabs, recorded, qtbot):
    model_tab, _train_tab = tabs
    recorded.others_cpu = 0.55  # other programs took over half the processor while measuring
    model_tab.measure()
    qtbot.waitUntil(lambda: not model_tab.busy, timeout=WAIT_MS)
    text = model_tab.measure_label.text()
    assert "10 ms per step" in text and "busy while measuring" in text and "55%" in text
    recorded.others_cpu = 0.02
    model_tab.timings.clear()
    model_tab.measure()
    qtbot.waitUntil(lambda: not model_tab.busy, timeout=WAIT_MS)
    assert "busy" not in model_tab.measure_label.text()


def test_the_prediction_counts_setup_steps_evaluations_and_samples():
    measured = fake_result(12)
    plan = config.TrainConfig(iters=2000, eval_interval=250, eval_iters=20, sample_tokens=200)
    assert step_timer.evaluations(plan) == 9  # step 0, every 250, and the last is one of them
    assert step_timer.evaluations(config.TrainConfig(iters=200, eval_interval=250)) == 2
    expected_ms = 500 + 2000 * 10 + 9 * 2 * 20 * 3 + 9 * 200 * 1
    assert step_timer.predict_seconds(measured, plan) == pytest.approx(expected_ms / 1000)
    quiet = config.TrainConfig(iters=100, eval_interval=1000, sample_tokens=0)
    assert step_timer.predict_seconds(measured, quiet) == pytest.approx((500 + 1000 + 2 * 40 * 3) / 1000)


def test_a_busy_machine_gets_sleeping_waits_an_idle_one_short_spins():
    """The thread count is the same either way (a run's numbers never depend on the load); only
    how OpenMP's threads wait changes."""
    idle = tp.child_settings(None, 12, busy=False)
    busy = tp.child_settings(None, 12, busy=True)
    assert dict(idle.env) == {"GOMP_SPINCOUNT": str(tp.SPIN_COUNT)}
    assert dict(busy.env) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert idle.threads == busy.threads is None


def test_the_load_probe_sees_another_program():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert step_timer.other_programs_cores(0.5) >= 0.5  # one busy loop is at least half a core
        assert tp.others_busy()
    finally:
        spinner.kill()
        spinner.wait()
