"""The Model tab's "Why positions matter" dialog: the core's numbers, shown; Cancel/close end the child."""

from __future__ import annotations

import html

import psutil
import pytest
from test_model_tab import make_tab, state  # noqa: F401 - fixtures used by name

from playground.core import positions_experiment as pe
from playground.core import tokenizers as tk
from playground.core.corpus import Corpus, load_builtin
from playground.gui import child_process

ITERS = 20  # a few steps per model: the numbers, not the learning, are under test


def spawned_children() -> set[int]:
    """Live ``spawn`` children of this process (what child_process.ChildProcess starts)."""
    found = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if any("spawn_main" in part for part in proc.cmdline()) and child_process.pid_alive(proc.pid):
                found.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture
def lessons_state(qtbot):
    from playground.gui.state import AppState

    corpus = load_builtin("grammar-lessons")
    st = AppState()
    st.set_corpus(corpus)
    st.set_tokenizer(tk.CharTokenizer.train(corpus.text))
    return st


@pytest.fixture
def make_dialog(qtbot):
    from playground.gui import workers
    from playground.gui.positions_dialog import PositionsDialog

    dialogs = []

    def make(st, iters=ITERS):
        dialog = PositionsDialog(st, iters=iters)
        qtbot.addWidget(dialog)
        dialogs.append(dialog)
        return dialog

    yield make
    for dialog in dialogs:
        dialog.cancel()
        workers.shutdown(dialog)


def test_dialog_shows_the_cores_curves_and_shuffle_numbers(lessons_state, make_dialog, qtbot):
    import torch

    dialog = make_dialog(lessons_state)
    dialog.open_and_run()
    assert dialog.busy and dialog.cancel_button.isVisible() and not dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=180_000)
    assert dialog.result is not None, dialog.message.text()
    assert not dialog.message.isVisible()

    # The same experiment here, independently, on one thread as the child runs it.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        expected = pe.compare(lessons_state.corpus.text, lessons_state.tokenizer, ITERS)
    finally:
        torch.set_num_threads(before)

    assert set(dialog.curves) == set(expected.curves) == {"learned", "sinusoidal", "none"}
    for positional, points in expected.curves.items():
        xs, ys = dialog.curves[positional].getData()
        assert list(xs) == [s for s, _ in points]
        assert list(ys) == pytest.approx([v for _, v in points], rel=1e-5)
    legend = [label.text for _, label in dialog.legend.items]
    assert legend == ["learned positions", "sinusoidal positions", "no positions (order-blind)"]
    item = dialog.plot.getPlotItem()
    assert item.getAxis("bottom").labelText == "step"
    assert item.getAxis("left").labelText == "validation loss (nats per token)"
    assert f"{expected.curves['none'][-1][1]:.3f}" in dialog.losses_label.text()

    shown = dialog.shuffle_label.text()
    sentence = expected.shuffles[0]
    assert sentence.original in shown and sentence.shuffled in shown
    assert sentence.original != sentence.shuffled
    rows = {s.positional: s for s in expected.shuffles}
    for s in rows.values():
        assert f"{s.p_last:.4f}</td><td align='right'>{s.p_last_shuffled:.4f}" in shown
    # The exact claim: the order-blind model's number does not move; a positional one's does.
    assert rows["none"].p_last == pytest.approx(rows["none"].p_last_shuffled, rel=1e-5)
    assert rows["learned"].p_last != pytest.approx(rows["learned"].p_last_shuffled, rel=1e-3)
    none, learned = rows["none"], rows["learned"]
    assert ("no positions (order-blind)</td><td align='right'>"
            f"{none.p_last:.4f}</td><td align='right'>{none.p_last:.4f}</td><td>the same</td>") in shown
    change = 100 * (learned.p_last_shuffled - learned.p_last) / learned.p_last
    assert (f"learned positions</td><td align='right'>{learned.p_last:.4f}</td><td align='right'>"
            f"{learned.p_last_shuffled:.4f}</td><td>{change:+.2g}%</td>") in shown
    assert "as a bag" in shown
    last = lessons_state.tokenizer.decode(lessons_state.tokenizer.encode(sentence.original)[-1:])
    assert f"the last token <b>{html.escape(repr(last))}</b>" in shown


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_cancel_or_close_ends_the_child(lessons_state, make_dialog, qtbot, how):
    before = spawned_children()
    dialog = make_dialog(lessons_state, iters=5000)  # minutes: it can only end by being stopped
    dialog.open_and_run()
    qtbot.waitUntil(lambda: bool(spawned_children() - before) and dialog.progress.maximum() > 0,
                    timeout=120_000)
    (child,) = spawned_children() - before
    assert dialog.progress.value() < dialog.progress.maximum()
    if how == "cancel":
        dialog.cancel_button.click()
    else:
        dialog.close()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30_000)
    assert not child_process.pid_alive(child)
    assert not spawned_children() - before
    assert dialog.result is None
    assert dialog.message.text().startswith("Cancelled")
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isVisible()


def test_an_error_is_shown_in_words(make_dialog, qtbot):
    from playground.gui.state import AppState
    from playground.gui.ui import ERROR

    text = "A cat sat. " * 5  # far too short to train on
    st = AppState()
    st.set_corpus(Corpus(text=text, name="Pasted text", source="pasted"))
    st.set_tokenizer(tk.CharTokenizer.train(text))
    dialog = make_dialog(st)
    dialog.open_and_run()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=120_000)
    assert dialog.message.isVisible() and dialog.message.styleSheet() == ERROR
    assert "at least" in dialog.message.text() and "Traceback" not in dialog.message.text()
    assert dialog.result is None


def test_model_tab_button_opens_the_dialog(state, make_tab):  # noqa: F811
    tab = make_tab(state)
    assert tab.positions_button.text() == "Compare positions…"
    assert "order-blind" in tab.positions_button.toolTip()
    tab.positions_button.click()
    dialog = tab.positions_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    assert dialog.windowTitle() == "Why positions matter"
    # This state has a tokenizer but no corpus: nothing to train on, and it says so.
    assert not dialog.busy
    assert "Choose a corpus" in dialog.message.text()
    tab.positions_button.click()  # a second click brings back the same window
    assert tab.positions_dialog is dialog


def test_change_text_says_the_same_only_up_to_rounding():
    from playground.gui.positions_dialog import change_text

    assert change_text(0.22314898669719696, 0.22314897179603577) == "the same"  # measured: order-blind
    assert change_text(0.2025822550058365, 0.21325066685676575) == "+5.3%"  # measured: learned
    assert change_text(0.9014, 0.90137) == "-0.0033%"  # small but real: not "the same"
