"""The Generate tab: streaming, Stop, step mode, the bar chart, scoring, unknown characters.

One tiny model (1 layer, d_model 32, context 16) is trained once for the module on the
grammar-lessons corpus; each test copies the run into its own PLAYGROUND_HOME.
"""

from __future__ import annotations

import math
import os
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from playground import paths
from playground.core.checkpoint import Run
from playground.gui.state import AppState
from playground.gui.widgets.generated_text import NEUTRAL_FILL

WAIT = 60_000


@pytest.fixture(scope="module")
def trained_run_dir(tmp_path_factory):
    from playground.core import corpus as corpus_mod
    from playground.core import tokenizers, train
    from playground.core.model import ModelConfig

    home = tmp_path_factory.mktemp("generate-home")
    old = os.environ.get("PLAYGROUND_HOME")
    os.environ["PLAYGROUND_HOME"] = str(home)
    try:
        corpus = corpus_mod.load_builtin("grammar-lessons")
        tok = tokenizers.train_tokenizer("char", corpus.text)
        cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
        tcfg = train.TrainConfig(iters=30, batch_size=8, eval_interval=15, eval_iters=2, sample_tokens=0,
                                 warmup=5, device="cpu")
        run = Run.create("tiny", cfg, tcfg, corpus.record(tcfg.split), tok)
        events = train.train_run(run, corpus)
        assert events[-1].reason == "done"
        return run.path
    finally:
        if old is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old


@pytest.fixture
def run(trained_run_dir, playground_home):
    dest = paths.runs_dir() / trained_run_dir.name
    shutil.copytree(trained_run_dir, dest)
    return Run(dest)


@pytest.fixture
def no_dialogs(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError(f"a dialog was opened: {args[1:3]}")

    for name in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, name, fail)


def make_tab(qtbot):
    from playground.gui.tabs.generate_tab import GenerateTab

    tab = GenerateTab(AppState())
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    return tab


@pytest.fixture
def tab(qtbot, run, no_dialogs):
    tab = make_tab(qtbot)
    qtbot.waitUntil(lambda: tab.run == run and tab.cached_model(run) is not None and not tab.busy,
                    timeout=WAIT)
    yield tab
    tab.shutdown()


def core_steps(tab, prompt, **sampling):
    from playground.core.generate import SamplingConfig, stream_tokens

    model, tokenizer = tab.cached_model(tab.run)
    return list(stream_tokens(model, tokenizer, prompt, SamplingConfig(**sampling)))


def wait_idle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT)


# ----------------------------------------------------------------------------------- Write


def test_generate_streams_exactly_the_core_tokens(qtbot, tab):
    prompt = "Tom sees "
    tab.prompt.setPlainText(prompt)
    tab.seed.setValue(7)
    tab.max_tokens.setValue(40)
    shown = []
    tab.tokensShown.connect(shown.append)
    tab.generate_button.click()
    wait_idle(qtbot, tab)
    expected = core_steps(tab, prompt, seed=7, max_new_tokens=40)
    assert len(expected) == 40
    assert tab.generated_ids == [s.id for s in expected]
    n_prompt = len(tab.prompt_ids)
    assert tab.view.ids == tab.prompt_ids + [s.id for s in expected]
    assert tab.generated_text() == "".join(s.text for s in expected)
    # Streamed: the view grew in one or more batches, ending with every token.
    assert shown and shown[-1] == 40 and shown == sorted(shown)
    # Each written token is shaded by its probability; the prompt stays neutral. (The tab
    # captures attention, computed without the fused kernel: float rounding differs a little.)
    assert tab.view.values[n_prompt:] == pytest.approx([s.prob for s in expected], rel=1e-4)
    assert tab.view.values[:n_prompt] == [None] * n_prompt
    # 9 + 40 tokens in a 16-token window: the context was cut, and the note says so.
    assert any(s.window_reset for s in expected)
    assert not tab.window_note.isHidden() and "last 8 tokens" in tab.window_note.text()
    # The same seed gives the same text again (repeatable).
    tab.generate()
    wait_idle(qtbot, tab)
    assert tab.generated_ids == [s.id for s in expected]


def test_stop_stops_within_one_token(qtbot, tab):
    tab.max_tokens.setValue(5000)
    tab.generate()
    qtbot.waitUntil(lambda: len(tab.steps) > 0, timeout=WAIT)
    assert tab.stop_button.isEnabled()
    tab.stop_button.click()
    at_stop = len(tab.steps)
    wait_idle(qtbot, tab)
    assert at_stop <= len(tab.steps) <= at_stop + 1
    assert len(tab.steps) < 5000
    assert len(tab.view.ids) == len(tab.prompt_ids) + len(tab.steps)
    assert tab.generate_button.isEnabled() and not tab.stop_button.isEnabled()
    assert "Stopped after" in tab.status.text()


def test_chart_values_equal_the_token_step_alternatives(qtbot, tab):
    tab.max_tokens.setValue(12)
    tab.temperature.setValue(0.7)
    tab.top_k.setValue(5)
    tab.generate()
    wait_idle(qtbot, tab)
    last = tab.steps[-1]
    assert tab.chart.bar_values() == [(i, lab, pr, ps) for i, lab, pr, ps in last.alternatives]
    # Top-k 5: the other ten are cut off, drawn with zero-width orange bars and grey labels.
    values = tab.chart.bar_values()
    assert sum(1 for v in values if v[3] > 0) == 5
    assert len(tab.chart.axis.grey) == len(values) - 5
    assert tab.chart.chosen == last.id
    # Clicking an earlier token shows that step's distribution.
    index = len(tab.prompt_ids) + 3
    qtbot.mouseClick(tab.view.viewport(), Qt.LeftButton, pos=tab.view._rects[index].center())
    assert tab.focus == 3
    assert tab.chart.bar_values() == [tuple(a) for a in tab.steps[3].alternatives]
    assert tab.view.focus_index == index


def click_bar(qtbot, chart, row):
    pos = chart.plot.mapFromScene(chart.scene_pos_of_row(row))
    qtbot.mouseClick(chart.plot.viewport(), Qt.LeftButton, pos=pos)


def test_step_mode_and_a_clicked_bar_puts_that_token_next(qtbot, tab):
    tab.prompt.setPlainText("Tom sees ")
    tab.next_button.click()
    wait_idle(qtbot, tab)
    assert len(tab.steps) == 1 and tab.proposal is not None
    # The chart shows the choices for the next token, with the model's pick marked.
    assert tab.chart.bar_values() == [tuple(a) for a in tab.proposal.alternatives]
    assert tab.chart.clickable
    # Next token takes the model's pick.
    pick = tab.proposal.id
    tab.next_button.click()
    wait_idle(qtbot, tab)
    assert len(tab.steps) == 2 and tab.steps[1].id == pick
    # Clicking a bar that is not the model's pick writes that token next.
    row = next(r for r, a in enumerate(tab.proposal.alternatives) if a[0] != tab.proposal.id and r > 2)
    wanted = tab.proposal.alternatives[row][0]
    click_bar(qtbot, tab.chart, row)
    wait_idle(qtbot, tab)
    assert len(tab.steps) == 3
    assert tab.steps[2].id == wanted and tab.steps[2].forced
    assert tab.view.ids[-1] == wanted
    assert tab.proposal is not None  # generation continues from there
    # Clicking a bar for an earlier token rewrites from that point.
    tab._token_clicked(len(tab.prompt_ids))  # select the first written token
    other = next(a[0] for a in tab.steps[0].alternatives if a[0] != tab.steps[0].id)
    tab._bar_clicked(other)
    wait_idle(qtbot, tab)
    assert len(tab.steps) == 1 and tab.steps[0].id == other


def test_attention_of_the_selected_token_highlights_earlier_tokens(qtbot, tab):
    tab.prompt.setPlainText("Anna likes ")
    tab.max_tokens.setValue(3)
    tab.generate()
    wait_idle(qtbot, tab)
    tab.colour_by.setCurrentIndex(1)
    tab.head_spin.setValue(2)
    last = tab.steps[-1]
    row = last.attention[0, 1].float().tolist()  # layer 1, head 2
    pos = len(tab.view.ids) - 1
    start = pos - len(row)
    values = tab.view.values
    assert values[start:pos] == pytest.approx([w / max(row) for w in row])
    assert all(v is None for v in values[pos:])
    assert tab.view.focus_index == pos
    assert "Attention" in tab.legend.title


def test_unknown_character_is_marked_in_place_not_a_dialog(qtbot, tab):
    tab.prompt.setPlainText("Tom sees € here")
    qtbot.waitUntil(lambda: bool(tab.prompt.extraSelections()), timeout=WAIT)
    (sel,) = tab.prompt.extraSelections()
    assert sel.cursor.selectedText() == "€"
    assert not tab.prompt_note.isHidden() and "€" in tab.prompt_note.text()
    tab.generate()
    wait_idle(qtbot, tab)
    assert not tab.error_label.isHidden() and "cannot read" in tab.error_label.text()
    assert tab.steps == []
    tab.remove_unknown_button.click()
    assert tab.prompt.toPlainText() == "Tom sees  here"
    assert tab.prompt.extraSelections() == [] and tab.prompt_note.isHidden()


def test_copy_and_export_the_session(qtbot, tab, tmp_path):
    tab.prompt.setPlainText("Max likes ")
    tab.max_tokens.setValue(10)
    tab.generate()
    wait_idle(qtbot, tab)
    tab.copy_button.click()
    assert QApplication.clipboard().text() == "Max likes " + tab.generated_text()
    out = tmp_path / "session.md"
    tab.export_markdown(str(out))
    text = out.read_text(encoding="utf-8")
    assert "Max likes " in text and tab.generated_text() in text and "seed 1234" in text


# ----------------------------------------------------------------------------------- Score


def test_score_shades_every_token_and_reports_the_core_perplexity(qtbot, tab):
    from playground.core.generate import score_text

    text = "Tom sees the red fox. Anna likes the cake."
    tab.pages.setCurrentIndex(1)
    tab.score_edit.setPlainText(text)
    tab.score_button.click()
    wait_idle(qtbot, tab)
    model, tokenizer = tab.cached_model(tab.run)
    expected = score_text(model, tokenizer, text)
    view = tab.score_views[0]
    assert view.ids == expected.ids
    fills = [view.fill_for(i).name() for i in range(len(view.ids))]
    assert fills[0] == NEUTRAL_FILL  # the first token has no prediction
    assert all(f != NEUTRAL_FILL for f in fills[1:])
    _, got = tab.last_scores[0]
    losses = [v for v in expected.losses if not math.isnan(v)]
    assert got.perplexity == pytest.approx(math.exp(sum(losses) / len(losses)))
    assert f"{expected.perplexity:.2f}" in tab.score_summaries[0].text()
    assert f"{expected.mean_loss:.3f}" in tab.score_summaries[0].text()


def test_train_vs_validation_side_by_side_and_a_vanished_corpus(qtbot, tab, run):
    tab.pages.setCurrentIndex(1)
    tab.trainval_button.click()
    wait_idle(qtbot, tab)
    assert tab.score_error.isHidden()
    assert len(tab.last_scores) == 2
    assert all(not c.isHidden() for c in tab.score_columns)
    assert "Training" in tab.score_heads[0].text() and "Validation" in tab.score_heads[1].text()
    assert tab.score_verdict.text()
    run.update(corpus={**run.corpus_record, "source": str(paths.data_dir() / "gone.txt")})
    tab.trainval_button.click()
    wait_idle(qtbot, tab)
    assert not tab.score_error.isHidden() and "gone" in tab.score_error.text()


# ----------------------------------------------------------------------------------- Compare


def test_compare_same_prompt_and_seed_on_two_checkpoints(qtbot, tab):
    tab.pages.setCurrentIndex(2)
    tab.max_tokens.setValue(8)
    tab.compare_prompt.setPlainText("Ben sees ")
    ckpt_b = tab.compare_ckpts["b"]
    assert ckpt_b.currentData() == tab.run.snapshots()[0][0]  # B defaults to the earliest checkpoint
    tab.compare_button.click()
    wait_idle(qtbot, tab)
    a, b = tab.compare_steps["a"], tab.compare_steps["b"]
    assert len(a) == len(b) == 8
    expected = core_steps(tab, "Ben sees ", seed=1234, max_new_tokens=8)
    assert [s.id for s in a] == [s.id for s in expected]
    # The same weights on both sides give the same text: same prompt, same seed.
    ckpt_b.setCurrentIndex(0)
    tab.compare_button.click()
    wait_idle(qtbot, tab)
    assert [s.id for s in tab.compare_steps["b"]] == [s.id for s in expected]


# ----------------------------------------------------------------------------------- no runs


def test_no_runs_asks_to_train_a_model_first(qtbot, playground_home):
    tab = make_tab(qtbot)
    assert tab.stack.currentIndex() == 0
    with qtbot.waitSignal(tab.requestTab, timeout=2000) as blocker:
        tab.train_first_button.click()
    assert blocker.args == ["Train"]
    tab.shutdown()


# ----------------------------------------------------------------------------------- benchmark


def test_bench_gui_generate_reports_first_token_and_speed(qtbot, playground_home):
    from playground.gui import bench_gui_generate

    result = bench_gui_generate.measure(runs=1, tokens=20, preset="tiny")
    assert result["first_token_ms"] > 0 and result["tokens_per_s"] > 0
    assert result["config"]["vocab_size"] == 65 and result["config"]["tokens"] == 20
    assert result["tokens_per_update"] >= 1
    assert os.environ["PLAYGROUND_HOME"] == str(playground_home)  # restored
    assert not (paths.runs_dir()).exists() or not any(paths.runs_dir().iterdir())  # no runs left behind
