"""Help → Lessons in a real window: every mission's one-click setup, end to end with a few steps of
training, the steps turning green from the student's own runs and actions."""

from __future__ import annotations

from playground import settings
from playground.core import activity as act
from playground.core import missions as ms
from playground.gui.lesson_hooks import find_target, tab_of

SETUP_MS = 90_000
TRAIN_MS = 120_000
SHORT = {"iters": 2, "eval_interval": 2, "batch_size": 4, "warmup": 0}  # a few steps: the setup is under test



def wait_checked(qtbot, dock) -> ms.Result:
    qtbot.waitUntil(lambda: not dock.busy, timeout=SETUP_MS)
    dock.check_now()
    qtbot.waitUntil(lambda: not dock.busy, timeout=SETUP_MS)
    return dock.result


def apply(qtbot, window, dock, setup: ms.Setup, step: ms.Step) -> None:
    """The setup button, then what it must have set: corpus, tokenizer, model, training settings."""
    with qtbot.waitSignal(dock.setupDone, timeout=SETUP_MS):
        dock.apply_setup(setup, step)
    state = window.state
    corpus = state.corpus.source
    assert corpus == setup.corpus if setup.corpus_chars is None else corpus.endswith(setup.small_text_name())
    assert state.tokenizer.kind == setup.tokenizer
    if setup.vocab_size:
        assert state.tokenizer.vocab_size == setup.vocab_size
    if setup.preset is None:
        return
    vocab = state.tokenizer.vocab_size
    assert state.model_config == setup.model_config(vocab)
    train = tab_of(window, "Train")
    shown = train.settings.shown_values()
    wanted = setup.train_values(vocab)
    assert {k: shown[k] for k in wanted if k != "lr"} == {k: v for k, v in wanted.items() if k != "lr"}
    assert float(shown["lr"]) == wanted["lr"] and train.settings.run_name == setup.run_name
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Train"  # the ring is on Start
    assert window.findChild(type(train.start_button), "train.start") is train.start_button


def train_short(qtbot, window) -> None:
    train = tab_of(window, "Train")
    train.set_train_values(**SHORT)
    run = train.start_training()
    assert run is not None, train.message_label.text()
    qtbot.waitUntil(lambda: train.job is None and train.phase == "idle", timeout=TRAIN_MS)
    assert run.reload()["step"] == SHORT["iters"], run.info.get("message")


def test_every_mission_sets_up_and_trains_in_the_window(window, qtbot):
    dock = window.show_lessons()
    assert dock.isVisible() and dock.stack.currentIndex() == 0 and dock.list.count() == len(ms.MISSIONS)
    for mission in ms.MISSIONS:
        dock.open_mission(mission.id)
        assert settings.get("mission_progress")[mission.id]["started"] > 0
        for step in mission.steps:
            for setup in step.setups:
                if setup.find(ms.gather(activity=[])) is None:
                    apply(qtbot, window, dock, setup, step)
                    if setup.preset is not None:  # every setup's run, trained a few steps
                        train_short(qtbot, window)
        result = wait_checked(qtbot, dock)
        # Every step that asks for a trained run is green now; the setups' runs are found.
        for row, step, done in zip(dock.rows, mission.steps, result.steps):
            trained = [s.preset is not None for s in step.setups]
            if step.setups:
                assert done, (mission.id, result.missing)
                assert row.mark.text() == ("✓" if done else "○")
            for use, was_trained in zip(row.use_buttons, trained):
                assert use.isHidden() != was_trained  # "Use your run" offered for each run trained
        if mission.id == "tokens":  # the whole mission, through the window's own hooks
            assert result.steps == [True, None, False]
            dock.show_target("tokenizer.merges")
            result = wait_checked(qtbot, dock)
            assert result.passed and act.of_kind(settings.get("activity"), act.MERGES_PLAYER)
            assert "Mission complete" in dock.verdict.text()
            assert settings.get("mission_progress")["tokens"]["passed"] is True
        if mission.id == "beat-bigram":  # ticking both runs is recorded as an overlay
            runs = tab_of(window, "Train").runs_list
            for name in ("bigram-grammar", "tiny-grammar"):
                runs.set_checked(name, True)
            overlays = act.of_kind(settings.get("activity"), act.RUNS_OVERLAID)
            assert any({"bigram-grammar", "tiny-grammar"} <= set(e["runs"]) for e in overlays)
        if mission.id == "copy-heads":
            switch_off(qtbot, window, dock)
        if mission.id == "temperature":
            step_mode(qtbot, window, dock)
            assert wait_checked(qtbot, dock).passed, dock.result.missing
        if mission.id == "one-prediction":
            lens_and_loss(qtbot, window, dock)
            assert wait_checked(qtbot, dock).passed, dock.result.missing
    dock.show_list()
    assert [dock.list.item(i).text()[0] for i in range(dock.list.count())] == list("✓○○○○✓○✓○")


def switch_off(qtbot, window, dock) -> None:
    """Ticking a head in 'Switch off' is recorded with the run and the head."""
    from playground.core.ablation import Ablation

    attention = tab_of(window, "Attention")
    view = dock.show_target("attention.switch_off")
    assert view is attention.ablation_view and attention.current_view() == "Switch off"
    qtbot.waitUntil(lambda: view.run_path is not None and not view.busy, timeout=SETUP_MS)
    with qtbot.waitSignal(view.computed, timeout=SETUP_MS):
        view.set_ablation(Ablation(heads=frozenset({(1, 0)})))
    done = act.of_kind(settings.get("activity"), act.ABLATION, run="tiny-copy")
    assert done and done[-1]["heads"] == ["layer 2 head 1"]


def step_mode(qtbot, window, dock) -> None:
    """Mission 6 through the Generate tab: step mode at two temperatures, top-k, a bar clicked."""
    dock.rows[0].use_buttons[0].click()  # "Use your run 'tiny-grammar'"
    generate = tab_of(window, "Generate")
    window.show_tab("Generate")
    qtbot.waitUntil(lambda: generate.write_page.run is not None and generate.write_page.run.name == "tiny-grammar")
    page, form = generate.write_page, generate.form
    page.prompt.setPlainText("The cat ")
    for temperature, top_k in ((0.5, 0), (1.5, 5)):
        form.temperature.setValue(temperature)
        form.top_k.setValue(top_k)
        with qtbot.waitSignal(generate.tokensShown, timeout=SETUP_MS):
            find_target(window, "generate.next").click()
        qtbot.waitUntil(lambda: not page.running)
    proposed = page.session.proposal.id
    other = next(i for i, _label, *_rest in page.chart._alts if i != proposed)
    with qtbot.waitSignal(generate.tokensShown, timeout=SETUP_MS):
        page.chart.tokenClicked.emit(other)  # a bar of the chart clicked
    qtbot.waitUntil(lambda: not page.running)
    assert any(s.forced for s in page.session.steps)


def lens_and_loss(qtbot, window, dock) -> None:
    """Mission 8 through the Attention tab: the logit lens, then The math scrolled to step 17."""
    dock.rows[0].use_buttons[0].click()
    attention = tab_of(window, "Attention")
    assert dock.show_target("attention.lens") is attention.lens_view
    qtbot.waitUntil(lambda: attention.lens_view.lens is not None, timeout=SETUP_MS)
    qtbot.waitUntil(lambda: bool(act.of_kind(settings.get("activity"), act.LOGIT_LENS)), timeout=SETUP_MS)
    assert dock.show_target("attention.math") is attention.math_view
    qtbot.waitUntil(lambda: attention.math_view.forward.data is not None, timeout=SETUP_MS)
    assert not act.of_kind(settings.get("activity"), act.LOSS_STEP)  # step 17 is far below: not yet seen
    attention.math_view.ensureWidgetVisible(attention.math_view.forward.step_loss)
    qtbot.waitUntil(lambda: bool(act.of_kind(settings.get("activity"), act.LOSS_STEP)), timeout=SETUP_MS)

