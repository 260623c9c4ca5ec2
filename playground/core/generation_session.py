"""The Generate tab's text without the widgets: what was written, and what the model still sees.

A :class:`GenerationSession` is the Write page's text: the prompt's tokens, one
``TokenStep`` per token written after them, the proposal of step mode (the choices for the
next token, not written yet), which written token is selected, and where the model's context
window starts. The window start is the core's own (``TokenStep.window_start``, the last-half
rule of ``generate.kept_after_cut``), never recomputed here; the session only shifts it by
where the job that wrote the token started reading::

    session.start("The ", ids, labels, context_length=64)
    feed = session.window_ids()        # the tokens a job hands to stream_tokens
    for step in stream_tokens(model, tokenizer, feed, cfg):
        session.add(step)              # counted from where ``feed`` started
    session.truncate(3)                # keep three written tokens (a token chosen at #4)

A :class:`Transcript` keeps the prompts and outputs of the tab (exported as Markdown).

Torch-free: the Generate tab imports it when the window starts, before torch is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EXCERPT_CHARS = 800  # train-vs-validation excerpts on the Score page


class GenerationSession:
    """The prompt and the written tokens of one text, and the bookkeeping around them."""

    def __init__(self) -> None:
        self.source: Any = None  # what wrote the text (the run's folder): step mode continues only with it
        self.context_length = 0
        self.prompt_text = ""
        self.prompt_ids: list[int] = []
        self.prompt_labels: list[str] = []
        self.steps: list = []  # TokenStep per written token
        self.proposal = None  # step mode: the TokenStep proposed next (not written)
        self.focus: int | None = None  # index into steps of the selected token; None: the newest
        self._first_window = 0  # where the window starts before any token is written
        self._starts: list[int] = []  # window start (in the whole text) after each written token
        self._proposal_start = 0
        self._fed_from = 0  # where the window handed to the running job starts

    # ---- starting, adding, cutting

    def start(self, text: str, ids: Sequence[int], labels: Sequence[str], context_length: int,
              source: Any = None) -> None:
        """A new text from ``text`` (tokens ``ids``): nothing written yet."""
        self.source = source
        self.context_length = int(context_length)
        self.prompt_text = text
        self.prompt_ids = list(ids)
        self.prompt_labels = list(labels)
        self.steps = []
        self._starts = []
        self.proposal = None
        self.focus = None
        # A prompt longer than the window: the model reads its last context_length tokens
        # (stream_tokens' own first window).
        self._first_window = max(0, len(self.prompt_ids) - self.context_length)
        self._fed_from = self._first_window

    def clear(self) -> None:
        """Forget the text (the prompt box keeps its text; the next step starts afresh)."""
        self.prompt_text = ""
        self.prompt_ids, self.prompt_labels = [], []
        self.steps, self._starts = [], []
        self.proposal = None
        self.focus = None
        self._first_window = self._fed_from = 0

    def window_ids(self) -> list[int]:
        """The tokens the model reads to continue the text: from the window start to the end.

        Tokens added afterwards (``add``, ``propose``) count their ``window_start`` from here.
        """
        self._fed_from = self.window_start
        return self.all_ids()[self._fed_from:]

    def add(self, step) -> None:
        """Append a written token from the job fed with ``window_ids()``."""
        self.steps.append(step)
        self._starts.append(self._fed_from + step.window_start)

    def propose(self, step) -> None:
        """Step mode: ``step`` is the model's choice for the next token, shown but not written."""
        self.proposal = step
        self._proposal_start = self._fed_from + step.window_start
        self.focus = None

    def accept_proposal(self) -> bool:
        """Write the proposed token; False when there is none."""
        if self.proposal is None:
            return False
        self.steps.append(self.proposal)
        self._starts.append(self._proposal_start)
        self.proposal = None
        return True

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` written tokens (the window start goes back with them)."""
        n = max(0, n)
        self.steps = self.steps[:n]
        self._starts = self._starts[:n]
        self.proposal = None

    # ---- reading

    @property
    def window_start(self) -> int:
        """Position (in prompt + written tokens) of the first token the model still sees."""
        return self._starts[-1] if self._starts else self._first_window

    @property
    def n_prompt(self) -> int:
        return len(self.prompt_ids)

    def all_ids(self) -> list[int]:
        return self.prompt_ids + [s.id for s in self.steps]

    def all_labels(self) -> list[str]:
        return self.prompt_labels + [s.label for s in self.steps]

    @property
    def generated_ids(self) -> list[int]:
        return [s.id for s in self.steps]

    def generated_text(self) -> str:
        return "".join(s.text for s in self.steps)

    def continues(self, source: Any, text: str) -> bool:
        """True when step mode may go on: same model, same prompt, a text already started."""
        return bool(self.prompt_ids) and self.source == source and self.prompt_text == text

    def cut_positions(self) -> set[int]:
        """Positions of the tokens after which the window was cut (drawn as dashed lines)."""
        return {self.n_prompt + k for k, s in enumerate(self.steps) if s.window_reset}

    def forced_positions(self) -> set[int]:
        """Positions of the tokens the student chose instead of the model."""
        return {self.n_prompt + k for k, s in enumerate(self.steps) if s.forced}

    @property
    def was_cut(self) -> bool:
        return any(s.window_reset for s in self.steps)

    @property
    def kept_after_cut(self) -> int:
        """Tokens the window keeps at a cut (the core's rule)."""
        # Imported here: generate.py imports torch, and this module loads with the window.
        # Only called once tokens were written, when torch is loaded anyway.
        from playground.core.generate import kept_after_cut

        return kept_after_cut(self.context_length)

    # ---- the selected token

    def focused(self, running: bool = False) -> tuple[Any, int]:
        """(TokenStep the chart shows, its position in the text), or (None, -1).

        The selected token; else the proposal (not while a job runs); else the newest token.
        """
        if self.focus is not None and 0 <= self.focus < len(self.steps):
            return self.steps[self.focus], self.n_prompt + self.focus
        if self.proposal is not None and not running:
            return self.proposal, self.n_prompt + len(self.steps)
        if self.steps:
            return self.steps[-1], self.n_prompt + len(self.steps) - 1
        return None, -1

    def select(self, position: int) -> None:
        """The student clicked the token at ``position``: select it, or go back to the newest
        (a prompt token, the selected token again, or the newest token when nothing is proposed)."""
        k = position - self.n_prompt
        if 0 <= k < len(self.steps) and k != self.focus:
            self.focus = None if (k == len(self.steps) - 1 and self.proposal is None) else k
        else:
            self.focus = None

    def edit_position(self) -> int:
        """Index of the written token a chosen token replaces: the selected one, else the next."""
        return len(self.steps) if self.focus is None else self.focus


# ---------------------------------------------------------------------------------- export


def sampling_summary(cfg: Any) -> str:
    """A SamplingConfig in words, as the exported session shows it."""
    if cfg.greedy or cfg.temperature == 0:
        return f"greedy (always the most likely token) · seed {cfg.seed}"
    parts = [f"temperature {cfg.temperature:g}",
             f"top-k {cfg.top_k}" if cfg.top_k else "top-k off",
             f"top-p {cfg.top_p:g}" if cfg.top_p is not None and cfg.top_p < 1 else "top-p off",
             f"seed {cfg.seed}"]
    return " · ".join(parts)


@dataclass
class Entry:
    kind: str  # "Write", "Compare, model A" ...
    run: str
    checkpoint: str
    settings: str
    prompt: str
    output: str = ""


class Transcript:
    """The prompts and outputs of the tab, in order (Write and Compare alike)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, kind: str, run: str, checkpoint: str, cfg: Any, prompt: str) -> Entry:
        entry = Entry(kind, run, checkpoint, sampling_summary(cfg), prompt)
        self.entries.append(entry)
        return entry

    def markdown(self, when: datetime | None = None) -> str:
        when = when or datetime.now()
        lines = ["# LLM Playground — generation session", "",
                 f"Exported {when.strftime('%Y-%m-%d %H:%M')}.", ""]
        for n, e in enumerate(self.entries, 1):
            lines += [f"## {n}. {e.kind}: {e.run} ({e.checkpoint})", "",
                      f"Settings: {e.settings}", "", "**Prompt**", "", "```text",
                      e.prompt, "```", "", "**Output**", "", "```text", e.output, "```", ""]
        if not self.entries:
            lines.append("(Nothing generated yet.)")
        return "\n".join(lines)


def excerpt_at(text: str, start: int, n: int = EXCERPT_CHARS) -> str:
    """About ``n`` characters of ``text`` from the line start at or after ``start``."""
    if start > 0:
        nl = text.find("\n", start)
        start = nl + 1 if 0 <= nl < start + n else start
    piece = text[start:start + n]
    cut = piece.rfind("\n", n // 2)
    return piece[: cut + 1] if cut > 0 else piece
