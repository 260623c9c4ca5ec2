"""Corpus tab on a text too big to hold or count whole: a worker streams it, the statistics come
from a sample (and say so), and the GUI thread stays responsive meanwhile.

The limits are lowered so a ~18 MB file takes the path a 1 GB file takes (CI texts stay ≤ 20 MB);
``benchmarks`` has no 1 GB figure to gate on: it was measured by hand (README, Bigger machines).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from playground.core import corpus as corpus_mod
from playground.gui.state import AppState
from playground.gui.tabs.corpus_tab import PREVIEW_CHARS, CorpusTab

TICK_MS = 10


def big_text(lines: int) -> str:
    words = np.array("the a river king walks over small bright quiet green storm letter".split())
    rng = np.random.default_rng(0)
    picks = words[rng.integers(0, len(words), size=(lines, 8))]  # (lines, 8)
    return "\n".join(" ".join(row) for row in picks.tolist()) + "\n"


def test_a_big_file_is_streamed_sampled_and_the_gui_stays_responsive(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "IN_MEMORY_BYTES", 1 << 20)
    monkeypatch.setattr(corpus_mod, "STATS_FULL_CHARS", 4_000_000)
    monkeypatch.setattr(corpus_mod, "STATS_SAMPLE_CHARS", 8_000_000)  # one 1 MB piece in 2: ~1 s of work
    text = big_text(400_000)  # ~18 MB
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    tab = CorpusTab(AppState())
    qtbot.addWidget(tab)
    tab.show()
    small = tmp_path / "small.txt"
    small.write_text("A first small text, so the chart (pyqtgraph) is imported before the measurement.\n")
    with qtbot.waitSignal(tab.loadFinished, timeout=60_000):
        tab.load_path(small)

    late: list[float] = []
    last: list[float] = []

    def tick() -> None:
        now = time.perf_counter()
        # From the second tick on, while the worker computes (not once the result is being shown):
        # how much later than asked it came.
        if last and tab.busy:
            late.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[:] = [now]

    timer = QTimer(interval=TICK_MS, timeout=tick)
    timer.start()
    with qtbot.waitSignal(tab.loadFinished, timeout=60_000) as blocker:
        tab.load_path(path)
        tab.grab()  # paint the busy state (and the small text's new chart) now, not at the first tick
        last.clear()  # measured from here: while the worker computes
    timer.stop()
    assert blocker.args == [True]

    corpus = tab.corpus
    assert not corpus.in_memory and corpus._text is None  # nothing held the whole text
    stats = corpus.stats()
    assert stats.sampled and stats.chars == len(text) and stats.lines == text.count("\n")
    assert tab.stat_boxes["chars"].value.text() == f"{len(text):,}"
    assert tab.stat_boxes["words"].value.text().startswith("≈ ")
    assert stats.words == pytest.approx(8 * 400_000, rel=0.02)
    assert tab.sample_label.isVisible() and "estimated from a sample" in tab.sample_label.text()
    assert tab.preview.toPlainText() == text[:PREVIEW_CHARS]
    assert tab.split_sizes() == (int(len(text) * 0.9), len(text) - int(len(text) * 0.9))
    assert len(late) >= 5  # it took a while: there was something to stay responsive during
    # The first tick also waits for the worker thread to start (a one-off, not the computing).
    p99 = float(np.percentile(late[1:], 99))
    assert p99 < 50, f"GUI timer lateness p99 {p99:.0f} ms while the big file loaded: {late}"
