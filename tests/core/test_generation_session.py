"""The Generate tab's Qt-free session: window start after cuts, truncation, ids and text, export."""

from __future__ import annotations

from datetime import datetime

import pytest
import torch

from playground.core import tokenizers
from playground.core.config import ModelConfig, SamplingConfig
from playground.core.generate import TokenStep, kept_after_cut, stream_tokens
from playground.core.generation_session import (
    GenerationSession,
    Transcript,
    excerpt_at,
    long_prompt_note,
    sampling_summary,
    suggest_prompt,
)
from playground.core.model import build_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (conftest.py)

TEXT = "the cat sat on the mat. a dog ran to the cat.\n"
CTX = 8


@pytest.fixture(scope="module")
def tok():
    return tokenizers.train_tokenizer("char", TEXT)


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    m = build_model(ModelConfig(vocab_size=tok.vocab_size, context_length=CTX, n_layer=1, n_head=2,
                                d_model=16)).eval()
    with torch.no_grad():
        m.lm_head.weight.mul_(25)  # spread the logits: greedy picks depend on the whole window
    return m


def step(i: int, window_start: int = 0, reset: bool = False, forced: bool = False, text: str = "x") -> TokenStep:
    return TokenStep(id=i, label=f"t{i}", text=text, prob=0.5, alternatives=[], window_reset=reset,
                     window_start=window_start, forced=forced)


def session_of(prompt_ids: list[int], ctx: int = 4) -> GenerationSession:
    s = GenerationSession()
    s.start("p" * len(prompt_ids), prompt_ids, [f"p{i}" for i in prompt_ids], ctx, source="run")
    return s


def write(session, model, tok, n: int, **sampling) -> list[TokenStep]:
    steps = list(stream_tokens(model, tok, session.window_ids(), SamplingConfig(max_new_tokens=n, **sampling)))
    for s in steps:
        session.add(s)
    return steps


# ------------------------------------------------------------------------------ window start


def test_window_start_counts_from_where_the_job_started_reading():
    s = session_of([1, 2, 3], ctx=4)
    assert s.window_start == 0 and s.window_ids() == [1, 2, 3]
    s.add(step(10, window_start=0))  # 4 tokens: the window is full
    s.add(step(11, window_start=3, reset=True))  # cut: the last 2 of the 5 tokens stay
    assert s.window_start == 3
    assert s.window_ids() == [10, 11]  # the next job reads from position 3
    s.add(step(12, window_start=0))  # relative to that job's window: absolute 3
    s.add(step(13, window_start=0))
    s.add(step(14, window_start=3, reset=True))  # absolute 3 + 3 = 6
    assert s.window_start == 6
    assert s.all_ids()[s.window_start:] == [13, 14]
    assert s.cut_positions() == {4, 7}


def test_a_long_prompt_keeps_its_last_context_length_tokens():
    s = session_of(list(range(10)), ctx=4)
    assert s.prompt_dropped == 6 and s.prompt_ids == [6, 7, 8, 9] and s.prompt_labels == ["p6", "p7", "p8", "p9"]
    assert s.prompt_text == "p" * 10  # the text itself stays whole (copy, export, "same prompt?")
    assert s.window_start == 0 and s.window_ids() == [6, 7, 8, 9]
    s.add(step(20, window_start=3, reset=True))  # stream_tokens on those 4: the cut keeps 2 of 5
    assert s.window_start == 3 and s.all_ids()[3:] == [9, 20]
    s.clear()
    assert s.prompt_dropped == 0


def test_a_prompt_far_longer_than_the_window_writes_what_the_core_writes(model, tok):
    """25,000 tokens (the size that broke the tab): the session keeps the window's worth, and
    the tokens written from it are those of stream_tokens given the whole prompt."""
    text = (TEXT * 600)[:25_000]
    prompt = tok.encode(text)
    whole = list(stream_tokens(model, tok, prompt, SamplingConfig(greedy=True, max_new_tokens=12)))
    s = GenerationSession()
    s.start(text, prompt, [tok.token_label(i) for i in prompt], CTX)
    assert s.prompt_dropped == 25_000 - CTX and s.n_prompt == CTX
    steps = write(s, model, tok, 12, greedy=True)
    assert [st.id for st in steps] == [st.id for st in whole]
    assert [st.window_reset for st in steps] == [st.window_reset for st in whole]
    assert steps[0].window_reset  # the window was full: the first token cuts it to its last half
    assert s.window_start + s.prompt_dropped == whole[-1].window_start


def test_long_prompt_note_says_what_is_read_and_what_is_kept():
    assert long_prompt_note(64, 64) == ""
    note = long_prompt_note(25_000, 64)
    assert "25,000 tokens" in note and "its last 64 tokens" in note and "24,936 before them" in note
    assert f"last half ({kept_after_cut(64)} tokens)" in note


def test_window_start_is_the_cores_after_real_cuts(model, tok):
    s = GenerationSession()
    prompt = tok.encode("the cat ")
    s.start("the cat ", prompt, [tok.token_label(i) for i in prompt], CTX)
    assert s.window_start == len(prompt) - CTX == 0
    steps = write(s, model, tok, 20, greedy=True)
    keep = kept_after_cut(CTX)
    assert s.kept_after_cut == keep == 4
    last_cut = max(k for k, st in enumerate(steps) if st.window_reset)
    # After a cut the window holds the last `keep` tokens, the token just written included.
    assert s.window_start == len(prompt) + last_cut + 1 - keep
    assert len(s.window_ids()) <= CTX


def test_continuing_from_the_window_writes_what_one_long_run_writes(model, tok):
    """Writing 10 tokens, then 12 more from ``window_ids()``, gives the 22 tokens of one run:
    the second job reads exactly the window the first one ended with (greedy, so any other
    window shows up as other tokens)."""
    prompt = tok.encode("a dog ")
    whole = list(stream_tokens(model, tok, prompt, SamplingConfig(greedy=True, max_new_tokens=22)))
    assert sum(st.window_reset for st in whole) >= 2

    s = GenerationSession()
    s.start("a dog ", prompt, [tok.token_label(i) for i in prompt], CTX)
    write(s, model, tok, 10, greedy=True)
    write(s, model, tok, 12, greedy=True)
    assert s.generated_ids == [st.id for st in whole]
    assert s.window_start == whole[-1].window_start  # where the one run's window ends up


def test_truncation_brings_the_window_start_back(model, tok):
    prompt = tok.encode("the mat ")
    s = GenerationSession()
    s.start("the mat ", prompt, [tok.token_label(i) for i in prompt], CTX)
    starts = []
    for _ in range(14):
        write(s, model, tok, 1, greedy=True)
        starts.append(s.window_start)
    assert len(set(starts)) > 2  # the window moved more than once
    for n in (13, 9, 4, 1):
        s.truncate(n)
        assert len(s.steps) == n and s.window_start == starts[n - 1]
    s.truncate(0)
    assert s.steps == [] and s.window_start == 0


# ------------------------------------------------------------------------------ ids, text, focus


def test_ids_labels_text_and_marks():
    s = session_of([1, 2], ctx=8)
    s.add(step(5, text="a"))
    s.add(step(6, text="bc", forced=True))
    assert s.all_ids() == [1, 2, 5, 6]
    assert s.all_labels() == ["p1", "p2", "t5", "t6"]
    assert s.generated_ids == [5, 6] and s.generated_text() == "abc"
    assert s.forced_positions() == {3} and s.cut_positions() == set() and not s.was_cut
    assert s.continues("run", "pp") and not s.continues("other", "pp") and not s.continues("run", "p")
    s.clear()
    assert s.all_ids() == [] and s.generated_text() == "" and not s.continues("run", "")


def test_proposal_selection_and_edit_position():
    s = session_of([1, 2], ctx=8)
    s.window_ids()
    s.add(step(5))
    s.propose(step(6, window_start=0))
    assert s.focused() == (s.proposal, 3)  # the choices for token #2
    assert s.focused(running=True) == (s.steps[0], 2)
    assert s.edit_position() == 1
    s.select(2)  # the first written token
    assert s.focus == 0 and s.focused()[1] == 2 and s.edit_position() == 0
    s.select(2)  # again: back to the newest
    assert s.focus is None
    s.select(0)  # a prompt token: back to the newest
    assert s.focus is None
    assert s.accept_proposal() and s.proposal is None and s.generated_ids == [5, 6]
    assert not s.accept_proposal()
    s.select(3)  # the newest token with nothing proposed: no separate selection
    assert s.focus is None and s.focused() == (s.steps[-1], 3)
    s.truncate(1)
    assert s.generated_ids == [5] and s.proposal is None


# ------------------------------------------------------------------------------ export


def test_sampling_summary_and_markdown():
    assert sampling_summary(SamplingConfig(greedy=True, seed=3)) == "greedy (always the most likely token) · seed 3"
    assert (sampling_summary(SamplingConfig(temperature=0.7, top_k=5, top_p=0.9, seed=1))
            == "temperature 0.7 · top-k 5 · top-p 0.9 · seed 1")
    assert sampling_summary(SamplingConfig(seed=2)) == "temperature 1 · top-k off · top-p off · seed 2"
    t = Transcript()
    assert "(Nothing generated yet.)" in t.markdown()
    e = t.add("Write", "tiny", "step 30", SamplingConfig(seed=1234), "Tom sees ")
    e.output = "the fox."
    md = t.markdown(datetime(2025, 1, 2, 3, 4))
    assert "Exported 2025-01-02 03:04." in md
    assert "## 1. Write: tiny (step 30)" in md and "seed 1234" in md
    assert "```text\nTom sees \n```" in md and "```text\nthe fox.\n```" in md


def test_excerpt_starts_at_a_line_and_ends_at_one():
    text = "".join(f"line {i:03d}\n" for i in range(200))  # 9 characters a line
    piece = excerpt_at(text, 100, n=90)
    assert piece.startswith("line 012\n") and piece.endswith("\n")
    assert 45 <= len(piece) <= 90
    assert excerpt_at(text, 0, n=90).startswith("line 000")


# ------------------------------------------------------------------------------ suggested prompt


@pytest.mark.parametrize("kind", ["char", "word"])
def test_suggested_prompt_is_the_start_of_a_validation_line_the_tokenizer_reads(kind):
    from playground.core import builtin_corpora, corpus

    text = builtin_corpora.builtin_text("copy-lessons")
    assert "T" not in text  # "The " cannot be read by its character model
    training, validation = corpus.from_text(text).split(0.9)
    tok = tokenizers.train_tokenizer(kind, training)
    prompt = suggest_prompt(tok, validation, training)
    assert prompt and tok.unknown_spans(prompt) == [] and tok.encode(prompt)
    if kind == "char":  # the first whole validation line, about half of it (the model copies the rest)
        line = validation.split("\n")[1]
        assert line.startswith(prompt) and len(prompt) == len(line) // 2


def test_suggested_prompt_cuts_after_a_word_and_skips_what_cannot_be_read():
    tok = tokenizers.train_tokenizer("char", "the cat sat on the mat\n")
    validation = "ends mid-line\nZebras are here today\nthe cat sat on the mat\n"
    assert suggest_prompt(tok, validation) == "the cat sat "  # "Zebras…" has unknown letters
    # No corpus (pasted, moved): "The " when readable, else a token with a letter.
    assert suggest_prompt(tok) == "a"
    assert suggest_prompt(tokenizers.train_tokenizer("char", "The end.")) == "The "
    assert suggest_prompt(tokenizers.train_tokenizer("char", ",; 12")) == ","
