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

A prompt longer than the window keeps only its last ``context_length`` tokens, the ones the
model reads (``prompt_dropped`` counts the others; ``long_prompt_note`` says so in words).
``suggest_prompt`` picks a first prompt the run's tokenizer can read. A :class:`Transcript`
keeps the prompts and outputs of the tab (exported as Markdown).

Torch-free: the Generate tab imports it when the window starts, before torch is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EXCERPT_CHARS = 800  # train-vs-validation excerpts on the Score page
SUGGESTION_MAX_CHARS = 40  # a suggested prompt is the start of a line, at most this long
SUGGESTION_MIN_LINE = 12  # shorter lines ("Changed in 3.7.", headings) make poor prompts
SUGGESTION_LINES = 200  # lines of the corpus looked at for a suggestion


class GenerationSession:
    """The prompt and the written tokens of one text, and the bookkeeping around them."""

    def __init__(self) -> None:
        self.source: Any = None  # what wrote the text (the run's folder): step mode continues only with it
        self.context_length = 0
        self.prompt_text = ""
        self.prompt_ids: list[int] = []
        self.prompt_labels: list[str] = []
        self.prompt_dropped = 0  # prompt tokens before the window: never read, not kept
        self.steps: list = []  # TokenStep per written token
        self.proposal = None  # step mode: the TokenStep proposed next (not written)
        self.focus: int | None = None  # index into steps of the selected token; None: the newest
        self._starts: list[int] = []  # window start (in the whole text) after each written token
        self._proposal_start = 0
        self._fed_from = 0  # where the window handed to the running job starts

    # ---- starting, adding, cutting

    def start(self, text: str, ids: Sequence[int], labels: Sequence[str], context_length: int,
              source: Any = None) -> None:
        """A new text from ``text`` (tokens ``ids``): nothing written yet.

        A prompt longer than the window keeps its last ``context_length`` tokens, the ones the
        model reads (``stream_tokens`` reads the same); the tokens before them are dropped, so
        what is shown is what the model read, and a 100 KB prompt is not 25,000 token boxes.
        """
        self.source = source
        self.context_length = int(context_length)
        self.prompt_text = text
        self.prompt_dropped = max(0, len(ids) - self.context_length)
        self.prompt_ids = list(ids[self.prompt_dropped:])
        self.prompt_labels = list(labels[self.prompt_dropped:])
        self.steps = []
        self._starts = []
        self.proposal = None
        self.focus = None
        self._fed_from = 0

    def clear(self) -> None:
        """Forget the text (the prompt box keeps its text; the next step starts afresh)."""
        self.prompt_text = ""
        self.prompt_ids, self.prompt_labels = [], []
        self.prompt_dropped = 0
        self.steps, self._starts = [], []
        self.proposal = None
        self.focus = None
        self._fed_from = 0

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
        """Position (in the kept prompt + written tokens) of the first token the model still sees."""
        return self._starts[-1] if self._starts else 0

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


# ---------------------------------------------------------------------------------- prompts


def long_prompt_note(n_tokens: int, context_length: int) -> str:
    """What happens to a prompt of ``n_tokens`` in a window of ``context_length``, in words
    ("" when it fits). The rule is the core's, the same in the app and on the command line."""
    from playground.core.generate import kept_after_cut  # imports torch: only once a model is loaded

    if n_tokens <= context_length:
        return ""
    return (f"The prompt is {n_tokens:,} tokens long, more than this model's context window of "
            f"{context_length:,} tokens. The model reads only its last {context_length:,} tokens; the "
            f"{n_tokens - context_length:,} before them are left out. Once it writes, the "
            f"window keeps its last half ({kept_after_cut(context_length):,} tokens), as whenever a "
            "text outgrows it.")


def _line_start(line: str) -> str:
    """About the first half of ``line``, cut after a word when it has spaces (the model writes the rest)."""
    n = min(max(len(line) // 2, 1), SUGGESTION_MAX_CHARS)
    space = line.rfind(" ", 0, n + 1)
    return line[: space + 1] if space > 0 else line[:n]


def suggest_prompt(tokenizer: Any, validation: str = "", training: str = "") -> str:
    """A first prompt made only of what ``tokenizer`` reads ("" when nothing readable is found).

    The start of a line of the run's validation text (text the model never trained on), else
    of its training text, else "The ", else the first token with a letter. Every candidate is
    checked: a character model of a text without "T" cannot read "The ".
    """
    def readable(prompt: str) -> bool:
        return bool(prompt) and not tokenizer.unknown_spans(prompt)

    # The validation text starts where the split cut, often mid-line: its first line is skipped.
    sample = SUGGESTION_LINES * 100  # characters: enough for the lines looked at, not the whole text
    lines = validation[:sample].split("\n")[1:SUGGESTION_LINES] + training[:sample].split("\n")[:SUGGESTION_LINES]
    for line in lines:
        line = line.strip()
        if len(line) >= SUGGESTION_MIN_LINE and readable(_line_start(line)):
            return _line_start(line)
    if readable("The "):
        return "The "
    first = ""
    for token_id in range(getattr(tokenizer, "vocab_size", 0)):
        text = tokenizer.decode([token_id])
        if text.strip() and text.isprintable() and readable(text):
            if any(c.isalpha() for c in text):  # a letter or word reads as the start of a text; "," does not
                return text
            first = first or text
    return first


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
