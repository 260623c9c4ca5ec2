"""The lab report's page: the run's own numbers, samples at its checkpoints, pictures inline, pins."""

from __future__ import annotations

import base64
import csv
import json
import statistics
import struct
import threading
import zlib
from html.parser import HTMLParser

import pytest

from playground.core import lab_report as lr

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_png(width: int, height: int) -> bytes:
    """A valid grey PNG made without Qt (the core tests stay Qt-free)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (lr.PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Page(HTMLParser):
    """The parts of the report a test reads: cells by id / data-key, images, samples."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.by_key: dict[str, str] = {}
        self.images: list[dict] = []
        self.samples: dict[int, str] = {}
        self._open: tuple[str, str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "td" and "id" in a:
            self._open = ("id", a["id"])
        elif tag == "td" and "data-key" in a:
            self._open = ("key", a["data-key"])
        elif tag == "pre" and "data-step" in a:
            self._open = ("sample", a["data-step"])

    def handle_data(self, data):
        if self._open is not None:
            kind, name = self._open
            if kind == "id":
                self.by_id[name] = self.by_id.get(name, "") + data
            elif kind == "key":
                self.by_key[name] = self.by_key.get(name, "") + data
            else:
                self.samples[int(name)] = self.samples.get(int(name), "") + data

    def handle_endtag(self, tag):
        if tag in ("td", "pre"):
            self._open = None


@pytest.fixture(scope="module")
def run(builtin_trained):
    """copy-lessons trained at the app's defaults (shared with the other tests of the session)."""
    return builtin_trained("copy-lessons").run


def test_report_numbers_samples_and_pictures_are_the_runs(run, tmp_path):
    figures = [lr.Figure("Loss curves", tiny_png(1000, 550)), lr.Figure("Grid", tiny_png(300, 200), "a <b> c")]
    report = lr.gather(run, missions=lambda: [])
    report.figures = figures
    path = lr.write_html(report, tmp_path / "report.html")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # written atomically: no temp file left
    page = Page(path.read_text(encoding="utf-8"))

    # The numbers, read straight from metrics.csv and run.json (not through the code under test).
    with open(run.path / "metrics.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    evals = [r for r in rows if r["kind"] == "eval"]
    steps = [r for r in rows if r["kind"] == "step"]
    info = json.loads((run.path / "run.json").read_text(encoding="utf-8"))
    val = [float(r["val_loss"]) for r in evals]
    train = [float(r["train_loss"]) for r in evals]
    assert page.by_id["best-val-loss"] == f"{min(val):.4f}"
    assert float(page.by_id["best-val-loss"]) == pytest.approx(info["best_val_loss"], abs=5e-5)
    assert page.by_id["last-val-loss"] == f"{val[-1]:.4f}"
    assert float(page.by_id["last-val-loss"]) == pytest.approx(info["last_val_loss"], abs=5e-5)
    assert page.by_id["best-train-loss"] == f"{min(train):.4f}"
    assert page.by_id["last-train-loss"] == f"{train[-1]:.4f}"
    assert page.by_id["steps"] == f"{info['step']:,}" == f"{int(rows[-1]['it']):,}"
    assert page.by_id["evaluations"] == str(len(evals))
    seconds = max(float(r["time"]) for r in rows)
    minutes, rest = divmod(round(seconds), 60)
    assert page.by_id["time"] == (f"{seconds:.1f} s" if seconds < 60 else f"{minutes} min {rest:02d} s")
    speed = statistics.median(float(r["tokens_per_s"]) for r in steps)
    assert page.by_id["tokens-per-s"] == f"{speed:,.0f} tokens/s"
    for key in ("n_layer", "n_head", "d_model", "context_length", "vocab_size"):
        assert page.by_key[f"model.{key}"] == str(info["model"][key])
    for key in ("iters", "batch_size", "seed"):
        assert page.by_key[f"training.{key}"] == str(info["train"][key])
    for key in ("lr", "min_lr"):
        assert float(page.by_key[f"training.{key}"]) == pytest.approx(info["train"][key], rel=1e-5)
    assert page.by_key["tokenizer.kind"] == "char" and page.by_key["corpus.name"] == info["corpus"]["name"]

    # Samples at the first, the last and two checkpoints between, with the training's settings.
    saved = [s for s, _ in run.snapshots()]
    assert sorted(page.samples) == lr.sample_steps(saved) and len(page.samples) == 4
    assert min(page.samples) == saved[0] and max(page.samples) == saved[-1]
    tok, length = run.tokenizer, run.train_config.sample_tokens
    for text in page.samples.values():
        assert text.startswith("\n") and len(tok.encode(text)) == 1 + length  # the trainer's prompt
    assert page.samples[saved[0]] != page.samples[saved[-1]]  # it learned something meanwhile

    # Every picture is inline, the PNG handed in, at a width that fits the page.
    assert len(page.images) == 2
    for img, fig in zip(page.images, figures, strict=True):
        assert img["alt"] == fig.title and img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1]) == fig.png
    assert (page.images[0]["width"], page.images[0]["height"]) == (str(lr.IMAGE_WIDTH), str(round(550 * 0.68)))
    assert (page.images[1]["width"], page.images[1]["height"]) == ("300", "200")
    assert "a &lt;b&gt; c" in path.read_text(encoding="utf-8")
    assert lr.NO_MISSIONS in path.read_text(encoding="utf-8")


def test_grid_text_and_cancel(run):
    from playground.core.corpus import load_builtin

    text = lr.report_text(run)
    assert text == lr.report_text(run)  # the same excerpt each time: reports of one run compare
    assert text in load_builtin("copy-lessons").split(run.train_config.split)[1]
    assert 0 < len(run.tokenizer.encode(text)) <= lr.REPORT_TEXT_TOKENS
    stop = threading.Event()
    stop.set()
    with pytest.raises(lr.Cancelled):
        lr.samples(run, cancel=stop)


def test_missions_show_answers_and_checks_escaped():
    rows = [{"id": "tokens", "number": 1, "title": "Tokens", "goal": "See BPE.", "question": "What do you notice?",
             "answer": "<script>x</script> fewer tokens", "passed": True, "missing": [], "evidence": ["BPE run 'a'"]},
            {"id": "bigram", "number": 2, "title": "Beat the bigram", "goal": "g", "question": "q", "answer": "",
             "passed": False, "missing": ["train a Tiny GPT"], "evidence": []}]
    text = lr._missions(rows)
    assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt; fewer tokens" in text
    assert "Check passed" in text and "BPE run &#x27;a&#x27;" in text
    assert "Not yet: train a Tiny GPT" in text and "(no answer written)" in text
    assert lr._missions([]) == f"<p>{lr.NO_MISSIONS}</p>"


def test_pins_are_kept_in_the_run_folder(tmp_path):
    assert lr.pins(tmp_path) == []
    a = lr.Pin(1, 0, 400, "abc|abc", "induction 0.81")
    b = lr.Pin(0, 1, None, "xyz")
    lr.add_pin(tmp_path, a)
    assert lr.add_pin(tmp_path, b) == [a, b]
    assert lr.add_pin(tmp_path, a) == [b, a]  # pinned again: moved to the end, not doubled
    assert lr.pins(tmp_path) == [b, a]
    for i in range(lr.MAX_PINS + 3):
        lr.add_pin(tmp_path, lr.Pin(0, 0, i, "t"))
    kept = lr.pins(tmp_path)
    assert len(kept) == lr.MAX_PINS and kept[-1].step == lr.MAX_PINS + 2  # the oldest went
    (tmp_path / lr.PINS_FILE).write_text('{"pins": [{"layer": "x"}, {"layer": 0, "head": 1, "step": 3, '
                                         '"text": "ok"}, 7]}', encoding="utf-8")
    assert lr.pins(tmp_path) == [lr.Pin(0, 1, 3, "ok")]  # damaged entries are skipped
    (tmp_path / lr.PINS_FILE).write_text("{not json", encoding="utf-8")
    assert lr.pins(tmp_path) == []


def test_sample_steps_and_figure_sizes():
    assert lr.sample_steps([0, 200, 400]) == [0, 200, 400]
    assert lr.sample_steps(list(range(0, 2001, 200))) == [0, 600, 1400, 2000]
    assert lr.Figure("x", tiny_png(7, 3)).size() == (7, 3)
    with pytest.raises(ValueError, match="not a PNG"):
        lr.Figure("x", b"GIF89a" + b"\0" * 30).size()
