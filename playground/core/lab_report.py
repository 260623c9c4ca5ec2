"""The lab report: one self-contained HTML page about one run, to hand in or to keep.

It holds the run's settings (model, tokenizer, training, corpus), its numbers from metrics.csv
(best and last losses, steps, time, speed), text sampled at a few checkpoints, the pictures
(loss curves, the attention grid, the heads the student pinned) and the missions' answers and
checks. Every picture is embedded as a ``data:`` URI, so the one file opens anywhere, offline.

Qt-free: the GUI draws the pictures from its own widgets and hands them over as PNG bytes
(:class:`Figure`); this module gathers everything else and writes the page (atomically).

Pinned heads live in the run folder (``lab_report.json``), so they travel with an exported run.
"""

from __future__ import annotations

import base64
import html
import json
import os
import random
import statistics
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from playground.core import analysis, atomic
from playground.core.checkpoint import Run
from playground.core.config import ENCODER_DECODER, ModelConfig, param_count, preset_name_of
from playground.errors import PlaygroundError

PINS_FILE = "lab_report.json"
SAMPLE_CHECKPOINTS = 4  # samples at the first, the last and evenly between
REPORT_TEXT_TOKENS = 40  # the attention grid's text: every token label stays readable
MAX_PINS = 24  # a report of more heads than this is a dump, not a report
IMAGE_WIDTH = 680  # pixels on the page: fits an A4 page in the PDF and a laptop's browser
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NO_MISSIONS = "No missions started yet."


class Cancelled(Exception):
    """The student cancelled the export."""


# ----------------------------------------------------------------------------- pinned heads

@dataclass(frozen=True)
class Pin:
    """A head the student pinned in the Attention tab: which one, at which checkpoint, on what text."""

    layer: int  # 0-based
    head: int  # 0-based
    step: int | None  # the checkpoint (None: the run's newest weights)
    text: str  # the text it was looking at (exactly the tokens shown)
    label: str = ""  # the pattern the scorer gave it then, e.g. "induction 0.83"

    @property
    def title(self) -> str:
        at = "newest weights" if self.step is None else f"step {self.step:,}"
        return f"Layer {self.layer + 1}, head {self.head + 1} ({at})"


def _pins_path(run_path: str | os.PathLike) -> Path:
    return Path(run_path) / PINS_FILE


def pins(run_path: str | os.PathLike) -> list[Pin]:
    """The run's pinned heads, oldest first. A missing or damaged file is no pins (the report
    must never fail over a side file a student may have edited)."""
    try:
        data = json.loads(_pins_path(run_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for item in data.get("pins", []) if isinstance(data, dict) else []:
        try:
            step = item.get("step")
            pin = Pin(int(item["layer"]), int(item["head"]), None if step is None else int(step),
                      str(item["text"]), str(item.get("label", "")))
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        if pin.layer >= 0 and pin.head >= 0 and pin.text:
            out.append(pin)
    return out[:MAX_PINS]


def add_pin(run_path: str | os.PathLike, pin: Pin) -> list[Pin]:
    """Pin a head (again: moved to the end, not doubled); returns the pins now. The oldest go
    beyond ``MAX_PINS``. Raises OSError when the run folder cannot be written."""
    same = (pin.layer, pin.head, pin.step, pin.text)
    kept = [p for p in pins(run_path) if (p.layer, p.head, p.step, p.text) != same]
    now = [*kept, pin][-MAX_PINS:]
    atomic.write_json(_pins_path(run_path), {"pins": [asdict(p) for p in now]})
    return now


# ----------------------------------------------------------------------------- numbers

@dataclass(frozen=True)
class Numbers:
    """What metrics.csv says about the run (None: not recorded)."""

    steps: int  # the last step trained
    planned: int | None  # the steps the training settings asked for
    evaluations: int
    best_val: tuple[int, float] | None  # (step, loss)
    best_train: tuple[int, float] | None  # (step, loss) at an evaluation
    last_val: tuple[int, float] | None
    last_train: tuple[int, float] | None
    seconds: float | None  # training time (pauses not counted)
    tokens_per_s: float | None  # median over the steps (evaluations and checkpoints dip it)


def numbers(run: Run) -> Numbers:
    rows = run.metrics()
    steps = [r for r in rows if r["kind"] == "step"]
    evals = [r for r in rows if r["kind"] == "eval" and r["val_loss"] is not None and r["train_loss"] is not None]
    its = [r["it"] for r in rows if r["it"] is not None]
    times = [r["time"] for r in rows if r["time"] is not None]
    speeds = [r["tokens_per_s"] for r in steps if r["tokens_per_s"] is not None]
    planned = run.info.get("train", {}).get("iters")

    def best(key: str) -> tuple[int, float] | None:
        row = min(evals, key=lambda r: r[key], default=None)
        return None if row is None else (row["it"], row[key])

    return Numbers(
        steps=max(its, default=0),
        planned=int(planned) if isinstance(planned, int) else None,
        evaluations=len(evals),
        best_val=best("val_loss"),
        best_train=best("train_loss"),
        last_val=(evals[-1]["it"], evals[-1]["val_loss"]) if evals else None,
        last_train=(evals[-1]["it"], evals[-1]["train_loss"]) if evals else None,
        seconds=max(times, default=None),
        tokens_per_s=statistics.median(speeds) if speeds else None,
    )


# ----------------------------------------------------------------------------- samples

@dataclass(frozen=True)
class SampleAt:
    step: int
    val_loss: float | None
    text: str


def sample_steps(steps: Sequence[int], n: int = SAMPLE_CHECKPOINTS) -> list[int]:
    """``n`` of the saved steps: the first, the last and evenly spaced between them."""
    steps = sorted(steps)
    if len(steps) <= n:
        return steps
    picks = {steps[round(i * (len(steps) - 1) / (n - 1))] for i in range(n)}
    return sorted(picks)


def _sample_prompt(tokenizer, run: Run) -> list[int]:
    """The trainer's sample prompt: a newline when it is one token, else the validation text's
    first token (what ``Trainer._sample`` starts from, so the texts match the Train tab's)."""
    try:
        newline = tokenizer.encode("\n")
    except PlaygroundError:
        newline = []
    if len(newline) == 1:
        return newline
    try:
        first = tokenizer.encode(_validation_text(run)[:64])[:1]
    except PlaygroundError:
        first = []
    return first or [0]


def _validation_text(run: Run) -> str:
    from playground.core.attention_views import validation_text

    return validation_text(run.path)


def samples(run: Run, n: int = SAMPLE_CHECKPOINTS, cancel: threading.Event | None = None) -> list[SampleAt]:
    """Text generated at ``n`` saved checkpoints with the training's own sample settings (its
    seed and length), so a report shows how the writing grew. Loads weights: run it in a worker."""
    import torch

    from playground.core.config import SamplingConfig
    from playground.core.generate import stream_tokens

    if run.info.get("model", {}).get("arch") == ENCODER_DECODER:
        return []  # it translates a source sentence rather than continuing a text (Generate tab)
    tcfg = run.train_config
    length = tcfg.sample_tokens or 200  # a run trained without samples still gets them here
    val = {it: va for it, _tr, va in run.evals()}
    tokenizer = run.tokenizer
    prompt = _sample_prompt(tokenizer, run)
    out = []
    for step in sample_steps([s for s, _ in run.snapshots()], n):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        sampling = SamplingConfig(seed=tcfg.seed, max_new_tokens=length)
        try:
            model = run.load_model(step)
            with torch.no_grad():
                ids = [s.id for s in stream_tokens(model, tokenizer, list(prompt), sampling)]
            text = tokenizer.decode(list(prompt) + ids)
        except PlaygroundError as exc:  # one unreadable checkpoint must not cost the whole report
            text = f"(no sample: {exc.message})"
        out.append(SampleAt(step, val.get(step), text))
    return out


def report_text(run: Run, fallback: str = "") -> str:
    """A short text for the attention grid when the student chose none: a validation excerpt
    (the same one each time for the same run), else the start of ``fallback`` (e.g. a sample:
    text the model wrote, so its tokenizer reads it), else "" (no grid)."""
    from playground.core.attention_views import pick_excerpt

    tokenizer = run.tokenizer
    context = int(run.info.get("model", {}).get("context_length") or REPORT_TEXT_TOKENS)
    n = min(context, REPORT_TEXT_TOKENS)
    try:
        return pick_excerpt(_validation_text(run), tokenizer, n, random.Random(run.train_config.seed))
    except PlaygroundError:  # the corpus moved or is gone
        try:
            return tokenizer.decode(tokenizer.encode(fallback)[:n])
        except PlaygroundError:
            return ""


# ----------------------------------------------------------------------------- the report

@dataclass(frozen=True)
class Figure:
    """A picture for the report: PNG bytes, drawn by the GUI."""

    title: str
    png: bytes
    caption: str = ""

    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, read from the PNG header; ValueError when it is no PNG."""
        if len(self.png) < 24 or not self.png.startswith(PNG_SIGNATURE) or self.png[12:16] != b"IHDR":
            raise ValueError(f"the picture '{self.title}' is not a PNG image")
        return struct.unpack(">II", self.png[16:24])


@dataclass
class Report:
    run_name: str
    info: dict  # run.json
    numbers: Numbers
    samples: list[SampleAt] = field(default_factory=list)
    missions: list[dict] = field(default_factory=list)  # core.missions.mission_report()
    figures: list[Figure] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    created: str = ""


def mission_rows() -> list[dict]:
    """The missions the student started, with answers and checks evaluated now."""
    from playground.core.missions import mission_report

    return mission_report()


def gather(run: Run, *, missions: Callable[[], list[dict]] = mission_rows,
           cancel: threading.Event | None = None) -> Report:
    """Everything but the pictures. Sampling loads checkpoints: run it in a worker."""
    run.reload()
    report = Report(run.name, dict(run.info), numbers(run), pins=pins(run.path),
                    created=datetime.now().isoformat(sep=" ", timespec="minutes"))
    report.samples = samples(run, cancel=cancel)
    report.missions = missions()
    return report


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(value: Any) -> str:
    text = format(value, ".6g") if isinstance(value, float) else str(value)  # 3e-4, not 0.00030000000000000003
    return html.escape(text, quote=True)


def _loss(v: tuple[int, float] | None) -> tuple[str, str]:
    """(loss, "at step N") cells; the loss with 4 decimals, as the Train tab shows it."""
    if v is None:
        return "—", ""
    return f"{v[1]:.4f}", f"at step {v[0]:,}"


def _seconds(s: float | None) -> str:
    if s is None:
        return "—"
    minutes, sec = divmod(int(round(s)), 60)
    return f"{s:.1f} s" if s < 60 else f"{minutes} min {sec:02d} s"


def _settings_tables(info: dict) -> str:
    model = info.get("model", {})
    tok = info.get("tokenizer", {})
    corpus = info.get("corpus", {})
    parts = []
    try:
        cfg = ModelConfig.from_dict(model)
        size = preset_name_of(cfg)
        extra = [("parameters", f"{param_count(cfg):,}"), ("preset", size.title() if size else "custom")]
    except (PlaygroundError, TypeError, ValueError, KeyError):
        extra = []
    for title, rows in (
            ("Model", [*extra, *model.items()]),
            ("Tokenizer", list(tok.items())),
            ("Training", list(info.get("train", {}).items())),
            ("Corpus", [(k, v) for k, v in corpus.items() if k != "sha256"]),
            ("Run", [("name", info.get("name")), ("created", info.get("created")), ("status", info.get("status")),
                     ("device", info.get("device") or "—")])):
        body = "".join(f'<tr><th>{_e(k)}</th><td data-key="{_e(title.lower())}.{_e(k)}">{_e(v)}</td></tr>'
                       for k, v in rows)
        parts.append(f"<div class='settings'><h3>{_e(title)}</h3><table>{body}</table></div>")
    return "".join(parts)


def _numbers_table(n: Numbers) -> str:
    rows = [
        ("best-val-loss", "best validation loss", *_loss(n.best_val)),
        ("last-val-loss", "last validation loss", *_loss(n.last_val)),
        ("best-train-loss", "best training loss (at an evaluation)", *_loss(n.best_train)),
        ("last-train-loss", "last training loss (at an evaluation)", *_loss(n.last_train)),
        ("steps", "steps trained", f"{n.steps:,}", f"of {n.planned:,} planned" if n.planned else ""),
        ("evaluations", "evaluations", f"{n.evaluations}", ""),
        ("time", "training time", _seconds(n.seconds), ""),
        ("tokens-per-s", "speed", "—" if n.tokens_per_s is None else f"{n.tokens_per_s:,.0f} tokens/s",
         "median over the steps"),
    ]
    body = "".join(f'<tr><th>{_e(label)}</th><td id="{key}">{_e(value)}</td><td class="note">{_e(note)}</td></tr>'
                   for key, label, value, note in rows)
    verdict = ""
    if n.last_val is not None and n.last_train is not None:
        verdict = f"<p>{_e(analysis.train_val_verdict(n.last_train[1], n.last_val[1]))}</p>"
    return f"<table class='numbers'>{body}</table>{verdict}"


def _figure(fig: Figure, number: int) -> str:
    width, height = fig.size()
    if width > IMAGE_WIDTH:  # both given: browsers and Qt's printer scale alike
        width, height = IMAGE_WIDTH, max(1, round(height * IMAGE_WIDTH / width))
    # The title goes under the picture: a page break in the PDF then never parts the two.
    return (f'<figure id="figure-{number}">'
            f'<img src="{data_uri(fig.png)}" width="{width}" height="{height}" alt="{_e(fig.title)}">'
            f"<figcaption><b>Figure {number}. {_e(fig.title)}.</b> {_e(fig.caption)}</figcaption></figure>")


def _samples(samples: Sequence[SampleAt], arch: str | None) -> str:
    if not samples:
        if arch == ENCODER_DECODER:
            return "<p>An encoder–decoder translates: try it on the Generate tab.</p>"
        return "<p>No saved checkpoints to sample from.</p>"
    out = []
    for s in samples:
        loss = "" if s.val_loss is None else f" · validation loss {s.val_loss:.4f}"
        out.append(f'<h3>Step {s.step:,}{_e(loss)}</h3><pre class="sample" data-step="{s.step}">{_e(s.text)}</pre>')
    return "".join(out)


def _missions(rows: Sequence[dict]) -> str:
    if not rows:
        return f"<p>{NO_MISSIONS}</p>"
    out = []
    for m in rows:
        passed = bool(m.get("passed"))
        check = ("<p class='ok'>✔ Check passed.</p>" if passed else
                 "<p class='missing'>✘ Not yet: " + _e("; ".join(m.get("missing") or ["not checked"])) + "</p>")
        evidence = "".join(f"<li>{_e(x)}</li>" for x in m.get("evidence") or [])
        answer = m.get("answer") or ""
        out.append(
            f"<div class='mission'><h3>{_e(m.get('number', ''))}. {_e(m.get('title', ''))}</h3>"
            f"<p><i>Goal:</i> {_e(m.get('goal', ''))}</p>"
            f"<p><i>{_e(m.get('question', 'What do you notice?'))}</i></p>"
            f"<blockquote>{_e(answer) if answer else '(no answer written)'}</blockquote>"
            f"{check}{f'<ul>{evidence}</ul>' if evidence else ''}</div>")
    return "".join(out)


STYLE = """
body { font-family: sans-serif; max-width: 760px; margin: 2em auto; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #555; margin-top: 0.2em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; } th, td { padding: 2px 10px 2px 0; text-align: left; }
th { font-weight: normal; color: #555; } .numbers td { font-weight: bold; }
.numbers td.note { font-weight: normal; color: #777; }
pre.sample { white-space: pre-wrap; background: #f6f6f6; padding: 6px; font-size: 90%; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; } figcaption { color: #555; font-size: 90%; }
.ok { color: #1a7f37; } .missing { color: #b35900; } blockquote { border-left: 3px solid #ccc; padding-left: 8px; }
"""


def to_html(report: Report) -> str:
    """The whole report as one HTML page (pictures inline as data: URIs)."""
    info = report.info
    figures = "".join(_figure(f, i + 1) for i, f in enumerate(report.figures))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Lab report: {_e(report.run_name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Lab report: {_e(report.run_name)}</h1>"
        f"<p class='sub'>LLM Playground · written {_e(report.created)} · run created {_e(info.get('created', '?'))}</p>"
        f"<h2>Results</h2>{_numbers_table(report.numbers)}"
        f"<h2>Pictures</h2>{figures or '<p>No pictures.</p>'}"
        f"<h2>Samples at a few checkpoints</h2>{_samples(report.samples, info.get('model', {}).get('arch'))}"
        f"<h2>Missions</h2>{_missions(report.missions)}"
        f"<h2>Settings</h2>{_settings_tables(info)}"
        "</body></html>\n")


def write_html(report: Report, path: str | os.PathLike) -> Path:
    """Write the page atomically (a crash never leaves half a report)."""
    path = Path(path)
    atomic.write_text(path, to_html(report))
    return path
