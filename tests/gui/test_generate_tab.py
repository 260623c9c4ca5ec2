"""The Generate tab: streaming, Stop, step mode, the bar chart, scoring, unknown characters.

The tab's pages are ``tab.write_page``, ``tab.score_page`` and ``tab.compare_page``; the Write
page's text is its ``session`` (``core.generation_session``, tested on its own in tests/core).

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


def train_tiny_run(tmp_path_factory, corpus_name: str, iters: int = 30):
    """A 1-layer char model (context 16) trained for ``iters`` steps on a built-in corpus."""
    from playground.core import config, tokenizers, train
    from playground.core import corpus as corpus_mod
    from playground.core.config import ModelConfig

    home = tmp_path_factory.mktemp("generate-home")
    old = os.environ.get("PLAYGROUND_HOME")
    os.environ["PLAYGROUND_HOME"] = str(home)
    try:
        corpus = corpus_mod.load_builtin(corpus_name)
        tok = tokenizers.train_tokenizer("char", corpus.text)
        cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
        tcfg = config.TrainConfig(iters=iters, batch_size=8, eval_interval=15, eval_iters=2, sample_tokens=0,
                                 warmup=min(5, iters), device="cpu")
        run = Run.create("tiny", cfg, tcfg, corpus.record(tcfg.split), tok)
        events = train.train_run(run, corpus)
        assert events[-1].reason == "done"
        return run.path
    finally:
        if old is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old


@pytest.fixture(scope="module")
def trained_run_dir(tmp_path_factory):
    return train_tiny_run(tmp_path_factory, "grammar-lessons")


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
    from playground.gui.tabs.generate import GenerateTab

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
    from playground.core.config import SamplingConfig
    from playground.core.generate import stream_tokens

    loaded = tab.cached_model(tab.run)
    return list(stream_tokens(loaded.model, loaded.tokenizer, prompt, SamplingConfig(**sampling)))


def wait_idle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT)


# ----------------------------------------------------------------------------------- Write


def test_generate_streams_exactly_the_core_tokens(qtbot, tab):
    w, s = tab.write_page, tab.write_page.session
    prompt = "Tom sees "
    w.prompt.setPlainText(prompt)
    tab.form.seed.setValue(7)
    tab.form.max_tokens.setValue(40)
    shown = []
    tab.tokensShown.connect(shown.append)
    w.generate_button.click()
    wait_idle(qtbot, tab)
    expected = core_steps(tab, prompt, seed=7, max_new_tokens=40)
    assert len(expected) == 40
    assert s.generated_ids == [t.id for t in expected]
    n_prompt = len(s.prompt_ids)
    assert w.view.ids == s.prompt_ids + [t.id for t in expected]
    assert s.generated_text() == "".join(t.text for t in expected)
    # Streamed: the view grew in one or more batches, ending with every token.
    assert shown and shown[-1] == 40 and shown == sorted(shown)
    # Each written token is shaded by its probability; the prompt stays neutral. (The tab
    # captures attention, computed without the fused kernel: float rounding differs a little.)
    assert w.view.values[n_prompt:] == pytest.approx([t.prob for t in expected], rel=1e-4)
    assert w.view.values[:n_prompt] == [None] * n_prompt
    # 9 + 40 tokens in a 16-token window: the context was cut, and the note says so.
    assert any(t.window_reset for t in expected)
    assert not w.window_note.isHidden() and "last 8 tokens" in w.window_note.text()
    # The window the model ends with is the core's: where the one long run's window starts.
    assert s.window_start == expected[-1].window_start
    # The same seed gives the same text again (repeatable).
    w.generate()
    wait_idle(qtbot, tab)
    assert s.generated_ids == [t.id for t in expected]


def test_stop_stops_within_one_token(qtbot, tab):
    w, s = tab.write_page, tab.write_page.session
    tab.form.max_tokens.setValue(5000)
    w.generate()
    qtbot.waitUntil(lambda: len(s.steps) > 0, timeout=WAIT)
    assert w.stop_button.isEnabled()
    w.stop_button.click()
    at_stop = len(s.steps)
    wait_idle(qtbot, tab)
    assert at_stop <= len(s.steps) <= at_stop + 1
    assert len(s.steps) < 5000
    assert len(w.view.ids) == len(s.prompt_ids) + len(s.steps)
    assert w.generate_button.isEnabled() and not w.stop_button.isEnabled()
    assert "Stopped after" in w.status.text()


def test_chart_values_equal_the_token_step_alternatives(qtbot, tab):
    w, s = tab.write_page, tab.write_page.session
    tab.form.max_tokens.setValue(12)
    tab.form.temperature.setValue(0.7)
    tab.form.top_k.setValue(5)
    w.generate()
    wait_idle(qtbot, tab)
    last = s.steps[-1]
    assert w.chart.bar_values() == [(i, lab, pr, ps) for i, lab, pr, ps in last.alternatives]
    # Top-k 5: the other ten are cut off, drawn with zero-width orange bars and grey labels.
    values = w.chart.bar_values()
    assert sum(1 for v in values if v[3] > 0) == 5
    assert len(w.chart.axis.grey) == len(values) - 5
    assert w.chart.chosen == last.id
    # Clicking an earlier token shows that step's distribution.
    index = len(s.prompt_ids) + 3
    qtbot.mouseClick(w.view.viewport(), Qt.LeftButton, pos=w.view._rects[index].center())
    assert s.focus == 3
    assert w.chart.bar_values() == [tuple(a) for a in s.steps[3].alternatives]
    assert w.view.focus_index == index


def click_bar(qtbot, chart, row):
    pos = chart.plot.mapFromScene(chart.scene_pos_of_row(row))
    qtbot.mouseClick(chart.plot.viewport(), Qt.LeftButton, pos=pos)


def test_step_mode_and_a_clicked_bar_puts_that_token_next(qtbot, tab):
    w, s = tab.write_page, tab.write_page.session
    w.prompt.setPlainText("Tom sees ")
    w.next_button.click()
    wait_idle(qtbot, tab)
    assert len(s.steps) == 1 and s.proposal is not None
    # The chart shows the choices for the next token, with the model's pick marked.
    assert w.chart.bar_values() == [tuple(a) for a in s.proposal.alternatives]
    assert w.chart.clickable
    # Next token takes the model's pick.
    pick = s.proposal.id
    w.next_button.click()
    wait_idle(qtbot, tab)
    assert len(s.steps) == 2 and s.steps[1].id == pick
    # Clicking a bar that is not the model's pick writes that token next.
    row = next(r for r, a in enumerate(s.proposal.alternatives) if a[0] != s.proposal.id and r > 2)
    wanted = s.proposal.alternatives[row][0]
    click_bar(qtbot, w.chart, row)
    wait_idle(qtbot, tab)
    assert len(s.steps) == 3
    assert s.steps[2].id == wanted and s.steps[2].forced
    assert w.view.ids[-1] == wanted
    assert s.proposal is not None  # generation continues from there
    # Clicking a bar for an earlier token rewrites from that point.
    w._token_clicked(len(s.prompt_ids))  # select the first written token
    other = next(a[0] for a in s.steps[0].alternatives if a[0] != s.steps[0].id)
    w._bar_clicked(other)
    wait_idle(qtbot, tab)
    assert len(s.steps) == 1 and s.steps[0].id == other


def test_step_mode_past_the_window_continues_like_one_run(qtbot, tab):
    """Token by token past the 16-token window: the cuts are where one run of the core makes
    them, and each step reads the window the core would (greedy: another window, other tokens)."""
    w, s = tab.write_page, tab.write_page.session
    w.prompt.setPlainText("Anna likes the ")  # 15 tokens: the first cut comes at once
    tab.form.greedy.setChecked(True)
    for _ in range(14):  # the first press writes one token and proposes the next, then one each
        w.next_token()
        wait_idle(qtbot, tab)
    expected = core_steps(tab, "Anna likes the ", greedy=True, max_new_tokens=15)
    assert len(s.steps) == 14 and sum(t.window_reset for t in s.steps) == 2
    assert s.generated_ids + [s.proposal.id] == [t.id for t in expected]
    assert [t.window_reset for t in s.steps] == [t.window_reset for t in expected[:-1]]
    assert s.window_start == expected[-2].window_start
    assert "last 8 tokens" in w.window_note.text()


def test_attention_of_the_selected_token_highlights_earlier_tokens(qtbot, tab):
    w, s = tab.write_page, tab.write_page.session
    w.prompt.setPlainText("Anna likes ")
    tab.form.max_tokens.setValue(3)
    w.generate()
    wait_idle(qtbot, tab)
    w.colour_by.setCurrentIndex(1)
    w.head_spin.setValue(2)
    last = s.steps[-1]
    row = last.attention[0, 1].float().tolist()  # layer 1, head 2
    pos = len(w.view.ids) - 1
    start = pos - len(row)
    values = w.view.values
    assert values[start:pos] == pytest.approx([v / max(row) for v in row])
    assert all(v is None for v in values[pos:])
    assert w.view.focus_index == pos
    assert "Attention" in w.legend.title


def test_unknown_character_is_marked_in_place_not_a_dialog(qtbot, tab):
    w = tab.write_page
    w.prompt.setPlainText("Tom sees € here")
    qtbot.waitUntil(lambda: bool(w.prompt.extraSelections()), timeout=WAIT)
    (sel,) = w.prompt.extraSelections()
    assert sel.cursor.selectedText() == "€"
    assert not w.prompt_note.isHidden() and "€" in w.prompt_note.text()
    w.generate()
    wait_idle(qtbot, tab)
    assert not w.error_label.isHidden() and "cannot read" in w.error_label.text()
    assert w.session.steps == []
    w.remove_unknown_button.click()
    assert w.prompt.toPlainText() == "Tom sees  here"
    assert w.prompt.extraSelections() == [] and w.prompt_note.isHidden()
    assert w.error_label.isHidden()  # the red "cannot read" error went with the characters
    assert w.remove_unknown_button.isHidden()
    # Deleting them by hand takes the error back as well.
    w.prompt.setPlainText("Anna € ")
    w.generate()
    wait_idle(qtbot, tab)
    assert not w.error_label.isHidden()
    w.prompt.setPlainText("Anna ")
    qtbot.waitUntil(lambda: w.error_label.isHidden(), timeout=WAIT)


def test_copy_and_export_the_session(qtbot, tab, tmp_path):
    w = tab.write_page
    w.prompt.setPlainText("Max likes ")
    tab.form.max_tokens.setValue(10)
    w.generate()
    wait_idle(qtbot, tab)
    w.copy_button.click()
    written = w.session.generated_text()
    assert QApplication.clipboard().text() == "Max likes " + written
    out = tmp_path / "session.md"
    w.export_markdown(str(out))
    text = out.read_text(encoding="utf-8")
    assert "Max likes " in text and written in text and "seed 1234" in text


# ----------------------------------------------------------------------------------- the first prompt


@pytest.fixture(scope="module")
def copy_run_dir(tmp_path_factory):
    return train_tiny_run(tmp_path_factory, "copy-lessons", iters=2)


def test_the_first_prompt_is_text_the_run_can_read(qtbot, copy_run_dir, no_dialogs):
    """Copy lessons has no "T": its character model cannot read "The ". The tab offers the start
    of a validation line instead, on the Write and the Compare page, and in the empty-prompt hint."""
    from playground.core.corpus import verify_record

    run = Run(shutil.copytree(copy_run_dir, paths.runs_dir() / copy_run_dir.name))
    corpus = verify_record(run.corpus_record)
    assert "T" not in corpus.text
    tab = make_tab(qtbot)
    try:
        qtbot.waitUntil(lambda: tab.run == run and tab.cached_model(run) is not None and not tab.busy,
                        timeout=WAIT)
        w, cp = tab.write_page, tab.compare_page
        tok = tab.cached_model(run).tokenizer
        prompt = w.prompt.toPlainText()
        assert prompt and tok.unknown_spans(prompt) == [] and tok.encode(prompt)
        assert cp.compare_prompt.toPlainText() == prompt
        _, validation = corpus.split(run.corpus_record["split"])
        assert "\n" + prompt in validation  # the start of a validation line
        qtbot.waitUntil(lambda: w.prompt_note.isHidden() and w.prompt.extraSelections() == [], timeout=WAIT)
        tab.form.max_tokens.setValue(5)
        w.generate()
        wait_idle(qtbot, tab)
        assert len(w.session.steps) == 5 and w.error_label.isHidden()
        # The empty-prompt message's example is that prompt too.
        w.prompt.setPlainText("")
        w.generate()
        wait_idle(qtbot, tab)
        assert f"for example ‘{prompt}’" in w.error_label.text()
        # What the student typed is never replaced by a suggestion.
        w.prompt.setPlainText("abc|")
        w.offer_prompt("xyz")
        assert w.prompt.toPlainText() == "abc|"
    finally:
        tab.shutdown()


# ----------------------------------------------------------------------------------- rough edges


def test_clicking_a_bar_does_not_widen_the_window(qtbot, tab):
    w, s = tab.write_page, tab.write_page.session
    w.prompt.setPlainText("Tom sees ")
    w.next_button.click()
    wait_idle(qtbot, tab)
    QApplication.processEvents()  # the layouts take the new texts in
    narrowest = tab.minimumSizeHint().width()
    tab.resize(narrowest, tab.height())
    row = next(r for r, a in enumerate(s.proposal.alternatives) if a[0] != s.proposal.id and r > 2)
    click_bar(qtbot, w.chart, row)
    wait_idle(qtbot, tab)
    QApplication.processEvents()
    assert "chosen by you" in w.status.text()
    # The longer status line wraps: nothing asks for more width (a real window grew 1,200 → 1,215 px).
    assert tab.minimumSizeHint().width() <= narrowest
    assert tab.width() == narrowest


def bars_area(chart):
    """The plot's data area, in the chart widget's coordinates."""
    from PySide6.QtCore import QPoint

    vb = chart.plot.getPlotItem().vb
    rect = chart.plot.mapFromScene(vb.sceneBoundingRect()).boundingRect()
    return rect.translated(chart.plot.viewport().mapTo(chart, QPoint(0, 0)))


@pytest.mark.parametrize("width", [340, 460, 900])
def test_the_100_percent_number_fits_and_the_legend_covers_no_bar(qtbot, width):
    from playground.gui.widgets.plots import pyqtgraph
    from playground.gui.widgets.prob_bars import ProbBars

    chart = ProbBars()
    qtbot.addWidget(chart)
    chart.resize(width, 480)
    chart.show()
    alts = [(0, "a", 0.97, 1.0)] + [(i, chr(97 + i), 0.002, 0.0) for i in range(1, 15)]  # greedy: 100%
    chart.show_step(alts, 0, "greedy")
    QApplication.processEvents()
    vb = chart.plot.getPlotItem().vb
    number = chart._texts[0]
    assert number.toPlainText() == "100%"
    assert vb.sceneBoundingRect().contains(number.sceneBoundingRect())  # not clipped at the right
    # No legend over the bars: it is a line of its own under the plot.
    legends = [i for i in chart.plot.scene().items() if isinstance(i, pyqtgraph().LegendItem)]
    assert all(not i.sceneBoundingRect().intersects(vb.sceneBoundingRect()) for i in legends)
    assert chart.legend.isVisible() and "cut off" in chart.legend.text()
    assert not chart.legend.geometry().intersects(bars_area(chart))
    assert chart.legend.minimumSizeHint().width() < 200  # it wraps rather than widening the chart


def type_into(qtbot, spin, text: str, enter: bool = True) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, text)
    if enter:
        qtbot.keyClick(spin, Qt.Key_Return)


def test_a_number_past_a_fields_range_says_the_range(qtbot, no_dialogs):
    from playground.gui.tabs.generate.sampling_form import MAX_NEW_TOKENS, SamplingForm

    form = SamplingForm()
    qtbot.addWidget(form)
    form.show()
    note = form.range_note
    assert note.isHidden()
    # Temperature 9: said while typing, then the nearest end of the range (it was reverted to 1.00).
    type_into(qtbot, form.temperature, "9", enter=False)
    assert not note.isHidden()
    assert note.text() == "Temperature goes from 0.00 to 5.00: 9 is too high; leaving the field sets 5.00."
    qtbot.keyClick(form.temperature, Qt.Key_Return)
    assert form.temperature.value() == 5.0
    assert note.text() == "Temperature goes from 0.00 to 5.00: 9 was set to 5.00."
    # Max new tokens 999999999 becomes the most there is, not 999 (typing used to stop there).
    type_into(qtbot, form.max_tokens, "999999999")
    assert form.max_tokens.value() == MAX_NEW_TOKENS == 5000
    assert note.text() == f"Max new tokens goes from 1 to {MAX_NEW_TOKENS}: 999999999 was set to {MAX_NEW_TOKENS}."
    type_into(qtbot, form.max_tokens, "300")
    assert form.max_tokens.value() == 300 and note.isHidden()  # a number in range: nothing to say
    type_into(qtbot, form.top_p, "0")
    assert form.top_p.value() == pytest.approx(0.01) and "Top-p goes from 0.01 to 1.00" in note.text()
    # Each field's tooltip gives its range; top-k's follows the vocabulary.
    form.set_vocab_size(65)
    assert form.max_tokens.toolTip().endswith(f"Max new tokens goes from 1 to {MAX_NEW_TOKENS}.")
    assert form.top_k.toolTip().endswith("Top-k goes from off to 65.")
    type_into(qtbot, form.top_k, "100")
    assert form.top_k.value() == 65
    # A number still being typed counts when generating (Ctrl+Enter in the field).
    type_into(qtbot, form.temperature, "7", enter=False)
    assert form.config().temperature == 5.0


# ----------------------------------------------------------------------------------- long prompts


@pytest.fixture
def no_bug_dialog(monkeypatch):
    from playground.gui import error_dialog

    bugs = []
    monkeypatch.setattr(error_dialog, "excepthook", lambda *args: bugs.append(args[1]))
    yield bugs
    assert not bugs, f"the bug dialog would have opened: {bugs!r}"


def test_a_prompt_of_30000_tokens_keeps_the_window_and_says_so(qtbot, tab, no_bug_dialog):
    """More tokens than the view's 20,000 boxes: it showed the bug dialog ("one value per token
    is needed"). Now the model reads its last window, as on the command line, and the tab says so."""
    w, s = tab.write_page, tab.write_page.session
    prompt = ("Tom sees the red fox. Anna likes the cake.\n" * 700)[:30_000]  # a character = a token
    w.prompt.setPlainText(prompt)
    tab.form.max_tokens.setValue(10)
    w.generate()
    wait_idle(qtbot, tab)
    assert w.error_label.isHidden()
    expected = core_steps(tab, prompt, seed=1234, max_new_tokens=10)  # what `playground generate` writes
    assert s.generated_ids == [t.id for t in expected] and "Wrote 10 tokens" in w.status.text()
    prompt_ids = tab.cached_model(tab.run).tokenizer.encode(prompt)
    assert w.view.ids == prompt_ids[-16:] + [t.id for t in expected]
    note = w.window_note.text()
    assert not w.window_note.isHidden()
    assert "30,000 tokens long" in note and "its last 16 tokens" in note and "29,984 before them" in note
    assert "last half (8 tokens)" in note
    # Step mode continues it, coloured by attention.
    w.colour_by.setCurrentIndex(1)
    w.next_token()
    wait_idle(qtbot, tab)
    assert len(s.steps) == 11 and s.proposal is not None
    assert any(v is not None for v in w.view.values)
    # The Compare page keeps the same window and says so.
    cp = tab.compare_page
    cp.compare_prompt.setPlainText(prompt)
    cp.compare_ckpts["b"].setCurrentIndex(0)
    tab.form.max_tokens.setValue(4)
    cp.compare()
    wait_idle(qtbot, tab)
    assert [t.id for t in cp.compare_steps["a"]] == [t.id for t in expected[:4]]
    assert cp.compare_views["a"].ids == prompt_ids[-16:] + [t.id for t in expected[:4]]
    assert "Model A: The prompt is 30,000 tokens long" in cp.compare_error.text()


# ----------------------------------------------------------------------------------- Score


def test_score_shades_every_token_and_reports_the_core_perplexity(qtbot, tab):
    from playground.core.generate import score_text

    sp = tab.score_page
    text = "Tom sees the red fox. Anna likes the cake."
    tab.pages.setCurrentIndex(1)
    sp.score_edit.setPlainText(text)
    sp.score_button.click()
    wait_idle(qtbot, tab)
    loaded = tab.cached_model(tab.run)
    expected = score_text(loaded.model, loaded.tokenizer, text)
    view = sp.score_views[0]
    assert view.ids == expected.ids
    fills = [view.fill_for(i).name() for i in range(len(view.ids))]
    assert fills[0] == NEUTRAL_FILL  # the first token has no prediction
    assert all(f != NEUTRAL_FILL for f in fills[1:])
    _, got = sp.last_scores[0]
    losses = [v for v in expected.losses if not math.isnan(v)]
    assert got.perplexity == pytest.approx(math.exp(sum(losses) / len(losses)))
    assert f"{expected.perplexity:.2f}" in sp.score_summaries[0].text()
    assert f"{expected.mean_loss:.3f}" in sp.score_summaries[0].text()
    assert sp.score_verdict.text() == ""  # one text: nothing to compare


def test_train_vs_validation_side_by_side_and_a_vanished_corpus(qtbot, tab, run):
    from playground.core.analysis import train_val_verdict
    from playground.core.corpus import verify_record
    from playground.core.generate import score_text

    sp = tab.score_page
    tab.pages.setCurrentIndex(1)
    sp.trainval_button.click()
    wait_idle(qtbot, tab)
    assert sp.score_error.isHidden()
    assert len(sp.last_scores) == 2
    assert all(not c.isHidden() for c in sp.score_columns)
    assert "Training" in sp.score_heads[0].text() and "Validation" in sp.score_heads[1].text()
    # The excerpts come from the two splits, and the verdict is the core's for their losses.
    (train_text, train_score), (val_text, val_score) = sp.last_scores
    train_split, val_split = verify_record(run.corpus_record).split(run.corpus_record["split"])
    assert train_text in train_split and val_text in val_split
    loaded = tab.cached_model(run)
    train_loss = score_text(loaded.model, loaded.tokenizer, train_text).mean_loss
    val_loss = score_text(loaded.model, loaded.tokenizer, val_text).mean_loss
    assert (train_score.mean_loss, val_score.mean_loss) == pytest.approx((train_loss, val_loss))
    assert sp.score_verdict.text() == train_val_verdict(train_loss, val_loss)
    run.update(corpus={**run.corpus_record, "source": str(paths.data_dir() / "gone.txt")})
    sp.trainval_button.click()
    wait_idle(qtbot, tab)
    assert not sp.score_error.isHidden() and "gone" in sp.score_error.text()


@pytest.mark.parametrize("train, val, verdict", [
    (1.0, 1.5, "Validation loss is 0.500 higher: the model predicts text it trained on better than new text."),
    (1.0, 1.05, "Training and validation loss are close: the model does as well on text it never saw"),
    (0.02, 0.01, "Training and validation loss are close"),  # lower on validation: no memorising
])
def test_train_vs_validation_verdict_for_known_losses(qtbot, no_dialogs, train, val, verdict):
    from playground.core.generate import TextScore

    tab = make_tab(qtbot)
    try:
        scores = [(text, TextScore([1, 2], ["a", "b"], [math.nan, loss], loss, math.exp(loss)))
                  for text, loss in (("train", train), ("val", val))]
        tab.score_page._scored(scores, True, 65)
        assert tab.score_page.score_verdict.text().startswith(verdict)
        tab.score_page._scored(scores[:1], False, 65)
        assert tab.score_page.score_verdict.text() == ""
    finally:
        tab.shutdown()


# ----------------------------------------------------------------------------------- Compare


def test_compare_same_prompt_and_seed_on_two_checkpoints(qtbot, tab):
    cp = tab.compare_page
    tab.pages.setCurrentIndex(2)
    tab.form.max_tokens.setValue(8)
    cp.compare_prompt.setPlainText("Ben sees ")
    ckpt_b = cp.compare_ckpts["b"]
    assert ckpt_b.currentData() == tab.run.snapshots()[0][0]  # B defaults to the earliest checkpoint
    cp.compare_button.click()
    wait_idle(qtbot, tab)
    a, b = cp.compare_steps["a"], cp.compare_steps["b"]
    assert len(a) == len(b) == 8
    expected = core_steps(tab, "Ben sees ", seed=1234, max_new_tokens=8)
    assert [s.id for s in a] == [s.id for s in expected]
    # The same weights on both sides give the same text: same prompt, same seed.
    ckpt_b.setCurrentIndex(0)
    cp.compare_button.click()
    wait_idle(qtbot, tab)
    assert [s.id for s in cp.compare_steps["b"]] == [s.id for s in expected]
    # Both sides are in the exported session, with their outputs.
    entries = tab.transcript.entries[-2:]
    assert [e.kind for e in entries] == ["Compare, model A", "Compare, model B"]
    assert entries[1].output == "".join(s.text for s in expected)


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
    from playground.bench import gui_generate as bench_gui_generate

    result = bench_gui_generate.measure(runs=1, tokens=20, preset="tiny")
    assert result["first_token_ms"] > 0 and result["tokens_per_s"] > 0
    assert result["config"]["vocab_size"] == 65 and result["config"]["tokens"] == 20
    assert result["tokens_per_update"] >= 1
    assert os.environ["PLAYGROUND_HOME"] == str(playground_home)  # restored
    assert not (paths.runs_dir()).exists() or not any(paths.runs_dir().iterdir())  # no runs left behind
