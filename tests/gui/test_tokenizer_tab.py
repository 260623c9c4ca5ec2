"""Tokenizer tab: what is shown is exactly what the core tokenizers produce."""

from __future__ import annotations

import pytest

from playground.core import tokenizers as tk
from playground.errors import TokenizerError

SAMPLE = "Anna sees the red ball. The cats chase a small mouse.\nBen runs.\n"


def choose(qtbot, window, kind, vocab=300):
    tab = window.tokenizer_tab
    if kind == "bpe":
        tab.bpe_spin.setValue(vocab)
        tab.train_bpe()
    else:
        tab.select_kind(kind)
    qtbot.waitUntil(lambda: not tab.busy and tab.tokenizer is not None
                    and window.state.tokenizer is tab.tokenizer, timeout=60_000)
    return tab, tab.tokenizer


def reference(kind, corpus_text, vocab=300):
    """The same tokenizer built by the core directly, independently of the tab."""
    if kind == "bpe":
        return tk.train_tokenizer("bpe", corpus_text, vocab_size=vocab)
    return tk.train_tokenizer(kind, corpus_text)


@pytest.mark.parametrize("kind", ["char", "word", "bpe", "cl100k"])
def test_token_boxes_equal_core_encode(window, qtbot, kind):
    tab, tok = choose(qtbot, window, kind)
    assert tok.kind == kind
    tab.set_sample_text(SAMPLE)
    expected = reference(kind, window.state.corpus.text).encode(SAMPLE)
    assert tab.token_view.ids == expected == tok.encode(SAMPLE)
    assert tab.token_view.labels == [tok.token_label(i) for i in expected]
    n = len(expected)
    assert tab.counts_label.text() == (
        f"<b>{len(SAMPLE):,}</b> characters → <b>{n:,}</b> tokens · "
        f"<b>{len(SAMPLE) / n:.2f}</b> characters per token")
    assert window.tokenizer_label.text() == f"Tokenizer: {tok.describe()}"


def test_default_sample_is_a_corpus_excerpt(window):
    tab = window.tokenizer_tab
    text = tab.sample_text()
    assert text and window.state.corpus.text.startswith(text)
    assert tab.token_view.ids == window.state.tokenizer.encode(text)


def test_merge_slider_shows_encode_with_first_n_merges(window, qtbot):
    tab, tok = choose(qtbot, window, "bpe", vocab=300)
    tab.set_sample_text(SAMPLE)
    assert tab.merges.slider.maximum() == len(tok.merges) == 300 - 256
    assert tab.merges.list.count() == len(tok.merges)
    for n in (0, 1, 7, 20, len(tok.merges)):
        tab.merges.slider.setValue(n)
        assert tab.merges.view.ids == tok.encode_with_merges(SAMPLE, n)
    tab.merges.slider.setValue(0)
    assert tab.merges.view.ids == list(SAMPLE.encode("utf-8"))  # bytes before any merge
    tab.merges.list.setCurrentRow(4)  # clicking merge 5 replays up to it
    assert tab.merges.slider.value() == 5
    assert tab.merges.view.ids == tok.encode_with_merges(SAMPLE, 5)
    tab.merges.slider.setValue(len(tok.merges))
    tab.merges.play_button.click()  # at the end, Play starts again from no merges
    assert tab.merges.slider.value() == 0 and tab.merges.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: tab.merges.play_button.text() == "Play", timeout=10_000)
    assert tab.merges.slider.value() == len(tok.merges)
    assert tab.merges.view.ids == tok.encode(SAMPLE)


@pytest.mark.parametrize("kind", ["char", "word", "bpe", "cl100k"])
def test_vocabulary_browser_has_vocab_size_rows(window, qtbot, kind):
    tab, tok = choose(qtbot, window, kind)
    model = tab.vocab.view.model()
    assert model.rowCount() == tok.vocab_size
    qtbot.waitUntil(lambda: tab.vocab.model.has_counts, timeout=60_000)
    counts = tk.token_counts(tok, window.state.corpus.text)
    some = [i for i in range(tok.vocab_size) if counts[i]][:5]
    for token_id in some:
        row = token_id  # unsorted, unfiltered: row == id
        assert model.data(model.index(row, 0)) == str(token_id)
        assert model.data(model.index(row, 1)) == tok.token_label(token_id)
        assert model.data(model.index(row, 2)) == f"{counts[token_id]:,}"


def test_vocabulary_search_and_sort(window, qtbot):
    tab, tok = choose(qtbot, window, "word")
    qtbot.waitUntil(lambda: tab.vocab.model.has_counts, timeout=60_000)
    model = tab.vocab.model
    model.set_filter("the")
    labels = [model.data(model.index(r, 1)) for r in range(model.rowCount())]
    assert labels and all("the" in lab.lower() for lab in labels)
    expected = sum("the" in tok.token_label(i).lower() for i in range(tok.vocab_size))
    assert model.rowCount() == expected
    model.set_filter("")
    model.sort(2, tab.vocab.view.horizontalHeader().sortIndicatorOrder().DescendingOrder)
    counts = tk.token_counts(tok, window.state.corpus.text)
    assert model.token_id(0) == max(range(tok.vocab_size), key=lambda i: counts[i])


def test_comparison_table_counts_every_tokenizer(window, qtbot):
    tab, _ = choose(qtbot, window, "bpe", vocab=300)
    qtbot.waitUntil(lambda: "cl100k" in tab.tokenizers, timeout=60_000)
    tab.set_sample_text(SAMPLE)
    counts = tab.compare_counts()
    for kind in ("char", "word", "bpe", "cl100k"):
        assert counts[kind] == len(tab.tokenizers[kind].encode(SAMPLE))
    assert counts["char"] == len(SAMPLE)
    assert counts["bpe"] < counts["char"]


def test_unknown_characters_are_marked_not_fatal(window, qtbot):
    tab = window.tokenizer_tab
    tab.select_kind("char")
    tok = tab.tokenizer
    text = "Anna sees €5 🙂"
    tab.set_sample_text(text)
    assert tab.error_label.isVisibleTo(tab)
    ids = tab.token_view.ids
    assert len(ids) == len(text)
    unknown = {i for start, end in tok.unknown_spans(text) for i in range(start, end)}
    assert {text.index("€"), text.index("🙂")} <= unknown
    assert {ids[i] for i in unknown} == {-1}
    known = "".join(ch for i, ch in enumerate(text) if i not in unknown)
    assert [ids[i] for i in range(len(text)) if i not in unknown] == tok.encode(known)
    with pytest.raises(TokenizerError) as refused:
        tok.encode(text)
    assert tab.error_label.text() == f"{refused.value.message} {refused.value.hint}"
    assert len(tab.sample_edit.extraSelections()) == len(tok.unknown_spans(text))


def test_gpt2_disabled_with_explanation_when_unavailable(window, qtbot):
    tab = window.tokenizer_tab
    qtbot.waitUntil(lambda: tab.gpt2_status is not None, timeout=30_000)
    available, message = tab.gpt2_status
    assert tab.radios["gpt2"].isEnabled() == available
    assert message in tab.gpt2_label.text()


def test_tokenizer_choice_restored_at_next_start(make_window, qtbot, wait_idle):
    first = make_window()
    wait_idle(first)
    choose(qtbot, first, "word")
    first.close()
    second = make_window()
    wait_idle(second)
    qtbot.waitUntil(lambda: second.state.tokenizer.kind == "word", timeout=30_000)


def test_big_corpus_trains_in_a_child_process(window, qtbot, monkeypatch, wait_idle):
    """Above BIG_TEXT the training runs in a child process (the GIL would freeze the window);
    the tokenizers are the same as the core's."""
    from playground.gui import child_jobs

    monkeypatch.setattr(child_jobs, "BIG_TEXT", 0)
    calls = []
    real = child_jobs.run_in_child

    def spy(fn, *args, **kwargs):
        calls.append(fn.__name__)
        return real(fn, *args, **kwargs)

    monkeypatch.setattr(child_jobs, "run_in_child", spy)
    text = "the cat sat on the mat. the dog sat on the log.\n" * 200
    with qtbot.waitSignal(window.corpus_tab.loadFinished, timeout=30_000):
        window.corpus_tab.load_text(text)
    wait_idle(window)
    assert "train_corpus_tokenizers" in calls
    tab = window.tokenizer_tab
    assert tab.tokenizers["char"].to_json() == tk.CharTokenizer.train(text).to_json()
    assert tab.tokenizers["word"].to_json() == tk.WordTokenizer.train(text, tab.word_spin.value()).to_json()
    tab2, tok = choose(qtbot, window, "bpe", vocab=280)
    assert "train_bpe" in calls
    assert tok.merges == tk.BPETokenizer.train(text, 280).merges


def test_play_and_pause_are_the_styles_icons_not_font_glyphs(qtbot):
    """'⏸' drew as an empty box with fonts that lack it: the button shows the style's media icon
    and plain words."""
    from PySide6.QtWidgets import QStyle

    from playground.gui.widgets.merges_player import MergesPlayer

    player = MergesPlayer()
    qtbot.addWidget(player)
    player.set_tokenizer(tk.BPETokenizer.train(SAMPLE * 5, 270))
    button = player.play_button

    def shows(pixmap: QStyle.StandardPixmap, text: str) -> bool:
        expected = player.style().standardIcon(pixmap).pixmap(16).toImage()
        return button.text() == text and button.icon().pixmap(16).toImage() == expected

    assert shows(QStyle.SP_MediaPlay, "Play")
    button.click()
    assert shows(QStyle.SP_MediaPause, "Pause")
    button.click()
    assert shows(QStyle.SP_MediaPlay, "Play")
    for text in ("Play", "Pause"):
        text.encode("latin-1")  # no character a font may lack


def test_vocabulary_fields_say_their_range(window, qtbot):
    """A number past a field's range is refused or clamped by Qt: the range is said, both in the
    tooltip and when such a number is typed."""
    from PySide6.QtCore import Qt

    tab = window.tokenizer_tab
    assert "From 50 to 100,000." in tab.word_spin.toolTip()
    assert f"From 257 to {tk.MAX_BPE_VOCAB:,}." in tab.bpe_spin.toolTip()
    said = []
    tab.bpe_spin.on_range = said.append
    tab.bpe_spin.lineEdit().selectAll()
    qtbot.keyClicks(tab.bpe_spin.lineEdit(), "999999")
    assert said, "typing past the range said nothing"
    assert f"from {tab.bpe_spin.textFromValue(257)} to {tab.bpe_spin.textFromValue(tk.MAX_BPE_VOCAB)}" \
        in said[-1]
    qtbot.keyClick(tab.bpe_spin.lineEdit(), Qt.Key_Return)
    assert tab.bpe_spin.value() == tk.MAX_BPE_VOCAB
