"""File → Export lab report: a pinned head, the Attention tab's text, every picture a real PNG,
the run's own numbers, and the same report as a PDF; words when there is nothing to report."""

from __future__ import annotations

import base64
import csv
import re
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from playground import paths
from playground.core import lab_report as lr
from playground.core.checkpoint import Run
from playground.core.config import TrainConfig, preset
from playground.core.corpus import load_builtin
from playground.core.tokenizers import train_tokenizer

WAIT_MS = 60_000
TEXT = "abcd|abcd|abcd\nxyz|xyz|"  # repeats: a copying head has something to do


@pytest.fixture
def run(builtin_trained, playground_home):
    """A copy of copy-lessons trained at the app's defaults (the pins go into this copy only)."""
    source = builtin_trained("copy-lessons").run.path
    target = paths.runs_dir() / source.name
    shutil.copytree(source, target)
    return Run(target)


def attention_tab(window):
    return next(t for t in window.tab_widgets if t.TITLE == "Attention")


def wait_shown(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.busy and tab.shown_key is not None
                    and tab.shown_key == tab.current_key(), timeout=WAIT_MS)


def test_no_run_or_an_untrained_run_is_said_in_words(make_window):
    window = make_window(load_initial=False)
    window.lab_report_action.trigger()
    assert window.notice_box is not None and window.notice_box.isVisible()
    assert "no run to report on" in window.notice_box.text()
    corpus = load_builtin("copy-lessons")
    tok = train_tokenizer("char", corpus.text)
    untrained = Run.create("fresh", preset("tiny", tok.vocab_size), TrainConfig(), corpus.record(), tok)
    window.state.set_run(untrained)
    window.lab_report_pdf_action.trigger()
    assert "'fresh' has not been trained yet" in window.notice_box.text()
    assert not window.lab_report().busy  # no file dialog, no work started


def test_a_slow_export_shows_progress_and_cancel_stops_it(make_window, qtbot, monkeypatch, tmp_path):
    cancelled = []

    def slow_gather(run, *, cancel, **_kw):
        cancelled.append(cancel.wait(WAIT_MS / 1000))  # sampling a big model: until Cancel is pressed
        raise lr.Cancelled

    monkeypatch.setattr(lr, "gather", slow_gather)
    corpus = load_builtin("copy-lessons")
    tok = train_tokenizer("char", corpus.text)
    run = Run.create("slow", preset("tiny", tok.vocab_size), TrainConfig(), corpus.record(), tok)
    run.latest_path.write_bytes(b"weights")  # counts as trained; nothing loads it here
    window = make_window(load_initial=False)
    window.state.set_run(run)
    exporter = window.lab_report()
    exporter.export(tmp_path / "report.html")
    qtbot.waitUntil(lambda: exporter.progress is not None and exporter.progress.isVisible(), timeout=WAIT_MS)
    qtbot.mouseClick(exporter.progress.findChild(QPushButton), Qt.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: not exporter.busy, timeout=WAIT_MS)
    assert cancelled == [True]  # the job was told, not timed out
    assert exporter.progress is None and not (tmp_path / "report.html").exists()
    assert window.statusBar().currentMessage() == "Lab report cancelled."


def test_export_has_the_pinned_head_real_pictures_and_the_runs_numbers(make_window, qtbot, run, tmp_path):
    window = make_window(load_initial=False)
    window.state.set_run(run)
    window.show()
    window.show_tab("Attention")
    tab = attention_tab(window)
    wait_shown(qtbot, tab)
    tab.set_text(TEXT)
    tab.select_head(1, 0)
    tab.views.setCurrentIndex(tab.view_names.index("Head"))
    wait_shown(qtbot, tab)
    qtbot.mouseClick(tab.head_view.pin_button, Qt.LeftButton)
    (pin,) = lr.pins(run.path)
    assert (pin.layer, pin.head, pin.step, pin.text) == (1, 0, tab.step, TEXT)
    assert pin.label and "Pinned layer 2, head 1" in tab.status_label.text()

    exporter = window.lab_report()
    out = tmp_path / "out"
    out.mkdir()
    html_path = out / "report.html"
    with qtbot.waitSignal(exporter.written, timeout=WAIT_MS) as written:
        exporter.export(html_path)
    assert written.args == [str(html_path)]
    page = html_path.read_text(encoding="utf-8")
    images = [dict(re.findall(r'(\w+)="([^"]*)"', tag)) for tag in re.findall(r"<img [^>]*>", page)]
    assert [img["alt"] for img in images] == [
        "Loss curves", f"Every attention head at step {tab.step:,}",  # the tab's checkpoint
        f"Pinned: Layer 2, head 1 (step {tab.step:,})"]
    assert repr(TEXT).replace("'", "&#x27;") in page  # the grid shows the tab's text
    sources = [img["src"] for img in images]
    cfg = run.model_config
    sizes = []
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        image = QImage.fromData(base64.b64decode(src.split(",", 1)[1]), "PNG")
        assert not image.isNull() and image.width() > 100 and image.height() > 100
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 8  # drawn, not a blank rectangle
        sizes.append((image.width(), image.height()))
    from playground.gui.lab_report import GRID_CELL

    assert sizes[1] == (200 + cfg.n_head * GRID_CELL, 40 + cfg.n_layer * (GRID_CELL + 20))

    with open(run.path / "metrics.csv", encoding="utf-8") as fh:
        val = [float(r["val_loss"]) for r in csv.DictReader(fh) if r["kind"] == "eval"]
    assert f'<td id="best-val-loss">{min(val):.4f}</td>' in page
    assert f'<td id="last-val-loss">{val[-1]:.4f}</td>' in page
    assert f'<td id="steps">{run.step:,}</td>' in page

    pdf_path = out / "report.pdf"
    with qtbot.waitSignal(exporter.written, timeout=WAIT_MS):
        exporter.export(pdf_path)
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert len(data) > 20_000  # the pictures are in it, not only the text
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.pdf"]  # no temp files left
