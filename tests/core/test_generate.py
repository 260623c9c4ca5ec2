"""Sampling filters, token streaming (cache, window, forcing, stopping) and text scoring."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from playground.core.config import ModelConfig, SamplingConfig
from playground.core.generate import TokenStep, filter_probs, kept_after_cut, score_text, stream_tokens
from playground.core.model import build_model
from playground.core.tokenizers import BPETokenizer, CharTokenizer
from playground.errors import ModelError, TokenizerError

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (conftest.py)


# The real character tokenizer, with two characters that take more than one byte in UTF-8.
TOK = CharTokenizer.train("\n abcdefghijklmnopqrstuvwxyz.,é→")
CFG = ModelConfig(vocab_size=TOK.vocab_size, context_length=16, n_layer=2, n_head=2, d_model=32)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model(CFG).eval()
    # Spread the logits so sampling is far from uniform and greedy ties are impossible.
    with torch.no_grad():
        m.lm_head.weight.mul_(25)
    return m


def run(model, prompt="the ", **kw) -> list[TokenStep]:
    options = {k: kw.pop(k) for k in ("forced", "use_cache", "stop", "capture_attention") if k in kw}
    return list(stream_tokens(model, TOK, prompt, SamplingConfig(**kw), **options))


# ─────────────────────────────────────────────────────── filter_probs


def hand_made(probs):
    return torch.log(torch.tensor(probs))


def test_top_p_keeps_the_smallest_set_reaching_p_and_renormalises():
    p = filter_probs(hand_made([0.5, 0.3, 0.15, 0.05]), SamplingConfig(top_p=0.8))
    torch.testing.assert_close(p, torch.tensor([0.625, 0.375, 0.0, 0.0]))
    p = filter_probs(hand_made([0.05, 0.15, 0.3, 0.5]), SamplingConfig(top_p=0.81))  # order does not matter
    torch.testing.assert_close(p, torch.tensor([0.0, 0.15, 0.3, 0.5]) / 0.95)
    p = filter_probs(hand_made([0.5, 0.3, 0.15, 0.05]), SamplingConfig(top_p=0.4))
    torch.testing.assert_close(p, torch.tensor([1.0, 0.0, 0.0, 0.0]))


def test_top_k_keeps_exactly_k():
    p = filter_probs(hand_made([0.1, 0.4, 0.2, 0.3]), SamplingConfig(top_k=2))
    torch.testing.assert_close(p, torch.tensor([0.0, 4 / 7, 0.0, 3 / 7]))
    ties = filter_probs(torch.zeros(5), SamplingConfig(top_k=3))
    assert (ties > 0).sum().item() == 3 and ties.sum().item() == pytest.approx(1.0)
    # top-k then top-p: of {0.4, 0.3, 0.2} renormalised (4/9, 3/9, 2/9), p=0.5 keeps the first two.
    p = filter_probs(hand_made([0.1, 0.4, 0.2, 0.3]), SamplingConfig(top_k=3, top_p=0.5))
    torch.testing.assert_close(p, torch.tensor([0.0, 4 / 7, 0.0, 3 / 7]))


def test_temperature_sharpens_and_flattens():
    logits = hand_made([0.5, 0.3, 0.15, 0.05])
    cold = filter_probs(logits, SamplingConfig(temperature=0.5))
    torch.testing.assert_close(cold, F.softmax(logits / 0.5, dim=-1))
    # At T = 0.5 probabilities become p² renormalised.
    sq = torch.tensor([0.25, 0.09, 0.0225, 0.0025])
    torch.testing.assert_close(cold, sq / sq.sum())
    hot = filter_probs(logits, SamplingConfig(temperature=2.0))
    assert hot[0] < 0.5 < cold[0]
    torch.testing.assert_close(filter_probs(logits, SamplingConfig()), torch.tensor([0.5, 0.3, 0.15, 0.05]))
    for greedy in (SamplingConfig(greedy=True), SamplingConfig(temperature=0)):
        torch.testing.assert_close(filter_probs(logits, greedy), torch.tensor([1.0, 0.0, 0.0, 0.0]))


def test_bad_sampling_settings_are_refused(model):
    for bad in (SamplingConfig(temperature=-1), SamplingConfig(top_k=0), SamplingConfig(top_p=0.0),
                SamplingConfig(top_p=1.5), SamplingConfig(max_new_tokens=-1)):
        with pytest.raises(ModelError):
            run(model, **{k: getattr(bad, k) for k in ("temperature", "top_k", "top_p", "max_new_tokens")})


# ─────────────────────────────────────────────────────── stream_tokens


def test_seeded_generation_repeats_and_seeds_differ(model):
    a = [s.id for s in run(model, seed=7, max_new_tokens=40)]
    b = [s.id for s in run(model, seed=7, max_new_tokens=40)]
    c = [s.id for s in run(model, seed=8, max_new_tokens=40)]
    assert a == b and len(a) == 40
    assert a != c


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_greedy_cached_and_uncached_agree_well_past_the_window(model, positional):
    m = model
    if positional == "sinusoidal":
        torch.manual_seed(1)
        m = build_model(replace(CFG, positional="sinusoidal")).eval()
        with torch.no_grad():
            m.lm_head.weight.mul_(25)
    cached = run(m, greedy=True, max_new_tokens=60, use_cache=True)
    plain = run(m, greedy=True, max_new_tokens=60, use_cache=False)
    assert [s.id for s in cached] == [s.id for s in plain]
    # Prompt of 4 tokens, context 16: the window is full after 12 new tokens; the 13th would
    # make 17, so the window becomes the last 8; 8 more fill it and the 9th cuts again.
    resets = [i for i, s in enumerate(cached) if s.window_reset]
    assert resets == [12, 21, 30, 39, 48, 57]
    assert resets == [i for i, s in enumerate(plain) if s.window_reset]
    for a, b in zip(cached, plain, strict=True):
        assert a.prob == pytest.approx(b.prob, abs=1e-5)


def test_sampled_cached_and_uncached_agree(model):
    cached = [s.id for s in run(model, seed=3, max_new_tokens=50, temperature=0.8, top_k=10)]
    plain = [s.id for s in run(model, seed=3, max_new_tokens=50, temperature=0.8, top_k=10, use_cache=False)]
    assert cached == plain


def test_alternatives_and_probabilities(model):
    steps = run(model, seed=1, max_new_tokens=10, top_k=3)
    for s in steps:
        assert len(s.alternatives) == 15
        raw = [a[2] for a in s.alternatives]
        assert raw == sorted(raw, reverse=True)
        ids = [a[0] for a in s.alternatives]
        assert [a[1] for a in s.alternatives] == [TOK.token_label(i) for i in ids]
        kept = [a for a in s.alternatives if a[3] > 0]
        assert len(kept) == 3  # top-k 3: the 3 most likely raw tokens, the rest cut to 0
        assert [a[0] for a in kept] == ids[:3]
        assert sum(a[3] for a in kept) == pytest.approx(1.0, abs=1e-5)
        # Renormalised over the kept three: p_sampled = p_raw / their sum.
        assert kept[0][3] == pytest.approx(kept[0][2] / sum(a[2] for a in kept), rel=1e-4)
        assert s.id in ids[:3]
        assert s.prob == pytest.approx(dict((a[0], a[3]) for a in s.alternatives)[s.id])
        assert s.label == TOK.token_label(s.id) and s.text == TOK.decode([s.id])
    greedy = run(model, greedy=True, max_new_tokens=3)
    for s in greedy:
        assert s.prob == 1.0 and s.id == s.alternatives[0][0]
        assert [a[3] for a in s.alternatives] == [1.0] + [0.0] * 14


def test_forced_token_is_used_and_changes_what_follows(model):
    free = run(model, greedy=True, max_new_tokens=8)
    forced_id = next(i for i in range(TOK.vocab_size) if i != free[2].id)
    steps = run(model, greedy=True, max_new_tokens=8, forced={2: forced_id})
    assert [s.id for s in steps[:2]] == [s.id for s in free[:2]]
    assert steps[2].id == forced_id and steps[2].forced and not steps[1].forced
    assert steps[2].prob == 0.0  # greedy would never have picked it
    assert [s.id for s in steps[3:]] != [s.id for s in free[3:]]
    with pytest.raises(ModelError, match="outside the vocabulary"):
        run(model, max_new_tokens=2, forced={0: 999})


def test_stop_event_is_polled_every_step(model):
    stop = threading.Event()
    got = []
    for s in stream_tokens(model, TOK, "a", SamplingConfig(seed=0, max_new_tokens=100), stop=stop):
        got.append(s)
        if len(got) == 5:
            stop.set()
    assert len(got) == 5


def test_stop_text_ends_generation_when_it_appears(model):
    steps = run(model, greedy=True, max_new_tokens=30)
    text = "".join(s.text for s in steps)
    target = text[5:7]
    first = text.find(target)
    stopped = run(model, greedy=True, max_new_tokens=30, stop_text=target)
    assert "".join(s.text for s in stopped) == text[: first + len(target)]


def test_capture_attention_gives_the_newest_row(model):
    steps = run(model, greedy=True, max_new_tokens=20, capture_attention=True)
    plain = run(model, greedy=True, max_new_tokens=20)
    assert [s.id for s in steps] == [s.id for s in plain]
    # Window: 4 prompt tokens; step i sees 4 + i tokens until the cut after step 12.
    assert steps[0].attention.shape == (2, 2, 4)
    assert steps[11].attention.shape == (2, 2, 15)
    assert steps[13].attention.shape == (2, 2, 8)  # the cut window of 8
    for s in steps:
        torch.testing.assert_close(s.attention.sum(-1), torch.ones(2, 2))
    # Same as a full capture forward on the window.
    ids = TOK.encode("the ") + [s.id for s in steps[:5]]
    full = model(torch.tensor([ids]), capture=True).attention
    torch.testing.assert_close(steps[5].attention, full[:, :, -1, :], atol=1e-5, rtol=1e-5)


def test_unknown_prompt_characters_and_empty_prompt(model):
    with pytest.raises(TokenizerError, match="'Q'"):
        run(model, prompt="Quiet", max_new_tokens=1)
    with pytest.raises(TokenizerError, match="empty"):
        run(model, prompt="", max_new_tokens=1)
    ids = [s.id for s in run(model, prompt=TOK.encode("the "), greedy=True, max_new_tokens=5)]
    assert ids == [s.id for s in run(model, greedy=True, max_new_tokens=5)]


def test_long_prompt_keeps_the_last_context(model):
    long_prompt = "the cat sat on the mat and then it sat again."  # 45 > 16
    a = [s.id for s in run(model, prompt=long_prompt, greedy=True, max_new_tokens=5)]
    b = [s.id for s in run(model, prompt=long_prompt[-16:], greedy=True, max_new_tokens=5)]
    assert a == b


def test_generation_restores_training_mode_and_bigram_works(model):
    model.train()
    run(model, seed=0, max_new_tokens=3)
    assert model.training
    model.eval()
    torch.manual_seed(0)
    bigram = build_model(ModelConfig(arch="bigram", vocab_size=TOK.vocab_size, context_length=8, n_layer=0,
                                     n_head=1, d_model=TOK.vocab_size))
    with torch.no_grad():
        bigram.table.weight.mul_(100)
    steps = list(stream_tokens(bigram, TOK, "ab", SamplingConfig(greedy=True, max_new_tokens=20)))
    assert len(steps) == 20
    # A bigram's greedy choice depends on the last token only.
    table = bigram.table.weight
    prev = TOK.encode("b")[0]
    for s in steps:
        assert s.id == int(table[prev].argmax())
        prev = s.id
    uncached = list(stream_tokens(bigram, TOK, "ab", SamplingConfig(greedy=True, max_new_tokens=20), use_cache=False))
    assert [s.id for s in uncached] == [s.id for s in steps]


# ─────────────────────────────────────────────────────── the window and its start


def test_kept_after_cut_is_the_last_half_and_at_least_one():
    assert [kept_after_cut(n) for n in (1, 2, 3, 16, 17, 1024)] == [1, 1, 1, 8, 8, 512]


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
def test_window_start_is_where_the_text_the_model_sees_begins(model, use_cache):
    prompt = TOK.encode("the ")
    ctx, keep = CFG.context_length, kept_after_cut(CFG.context_length)
    steps = run(model, prompt=prompt, greedy=True, max_new_tokens=40, use_cache=use_cache)
    resets = [i for i, s in enumerate(steps) if s.window_reset]
    assert resets == [12, 21, 30, 39]
    # Before the first cut the window starts at the prompt's start (it fits).
    assert [s.window_start for s in steps[:12]] == [max(0, len(prompt) - ctx)] * 12 == [0] * 12
    # A cut keeps the last half of prompt + generated; the start stays there until the next cut.
    start = 0
    for i, s in enumerate(steps):
        if s.window_reset:
            start = len(prompt) + (i + 1) - keep
        assert s.window_start == start, i
    assert [steps[i].window_start for i in resets] == [9, 18, 27, 36]
    # What the model predicted next is what it predicts from exactly that text.
    ids = prompt + [s.id for s in steps]
    for i in (5, 11, 12, 13, 25, 38):
        seen = ids[steps[i].window_start : len(prompt) + i + 1]
        assert len(seen) <= ctx
        with torch.no_grad():
            p = F.softmax(model(torch.tensor([seen])).logits[0, -1], dim=-1)
        top = steps[i + 1].alternatives[0]
        assert top[0] == int(p.argmax()) and top[2] == pytest.approx(p.max().item(), abs=1e-5)


def test_window_start_with_a_prompt_longer_than_the_context(model):
    prompt = TOK.encode("the cat sat on the mat and then it sat again.")  # 45 tokens, context 16
    steps = run(model, prompt=prompt, greedy=True, max_new_tokens=10)
    # The window already holds the last 16 prompt tokens, so the first new token cuts it.
    assert steps[0].window_reset and steps[0].window_start == len(prompt) + 1 - kept_after_cut(16) == 38
    assert [s.window_start for s in steps] == [38] * 9 + [47]
    assert [i for i, s in enumerate(steps) if s.window_reset] == [0, 9]


# ─────────────────────────────────────────────────────── multi-byte characters


def test_char_tokenizer_streams_multi_byte_characters_whole(model):
    e, arrow = TOK.encode("é→")
    steps = run(model, greedy=True, max_new_tokens=4, forced={1: e, 2: arrow})
    assert [s.text for s in steps[1:3]] == ["é", "→"]
    assert [s.label for s in steps[1:3]] == ["é", "→"]
    assert "".join(s.text for s in steps) == TOK.decode([s.id for s in steps])
    # A prompt with them is read like any other.
    assert [s.id for s in run(model, prompt="café → ", greedy=True, max_new_tokens=3)] == \
        [s.id for s in run(model, prompt=TOK.encode("café → "), greedy=True, max_new_tokens=3)]


@pytest.fixture(scope="module")
def bpe():
    """A byte-level BPE tokenizer and a model over its vocabulary: ids 0..255 are single bytes,
    so "é" (C3 A9) and "→" (E2 86 92) can arrive a byte at a time."""
    tok = BPETokenizer.train("déjà vu → café naïve → résumé\n" * 30, vocab_size=300)
    torch.manual_seed(0)
    m = build_model(ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=16))
    return tok, m.eval()


def test_bpe_waits_for_the_rest_of_a_character(bpe):
    tok, m = bpe
    forced = dict(enumerate([0xC3, 0xA9, 0xE2, 0x86, 0x92, ord("."), 0xE2, ord("x")]))
    steps = list(stream_tokens(m, tok, "café", SamplingConfig(seed=0, max_new_tokens=8), forced=forced))
    assert [s.id for s in steps] == list(forced.values())
    # Half a character shows nothing yet; the byte that completes it shows the whole character.
    # A lead byte followed by a plain one is a broken character: shown as U+FFFD once it is certain.
    assert [s.text for s in steps] == ["", "é", "", "", "→", ".", "", "\ufffdx"]
    assert [s.label for s in steps[:3]] == ["<0xC3>", "<0xA9>", "<0xE2>"]
    assert "".join(s.text for s in steps) == tok.decode([s.id for s in steps]) == "é→.\ufffdx"


@pytest.mark.parametrize("seed", range(4))
def test_bpe_streamed_text_always_adds_up_to_the_decoded_ids(bpe, seed):
    tok, m = bpe
    n = 40
    # Sampled from a fresh model: stray bytes of all kinds. The last token is a plain "." so
    # the whole text is settled at the end.
    steps = list(stream_tokens(m, tok, "déjà", SamplingConfig(seed=seed, max_new_tokens=n), forced={n - 1: ord(".")}))
    ids = [s.id for s in steps]
    assert len(ids) == n and any(i >= 0x80 and i < 256 for i in ids)  # some lone non-ASCII bytes
    assert any(s.text == "" for s in steps)  # a character was really waited for
    for i in range(n):  # after every step: the text so far is the decoded ids minus an unfinished tail
        assert "".join(s.text for s in steps[: i + 1]) == tok.decode(ids[: i + 1]).rstrip("\ufffd")
    assert "".join(s.text for s in steps) == tok.decode(ids)


# ─────────────────────────────────────────────────────── score_text


def test_score_text_losses_and_perplexity(model):
    text = "the cat sat."
    score = score_text(model, TOK, text)
    assert score.ids == TOK.encode(text) and score.labels[3] == "·"
    assert [i for i, v in enumerate(score.losses) if math.isnan(v)] == [0]  # only the first has no prediction
    assert len(score.losses) == len(text)
    logits = model(torch.tensor([score.ids[:-1]])).logits[0]
    expected = F.cross_entropy(logits, torch.tensor(score.ids[1:]), reduction="none")
    assert score.losses[1:] == pytest.approx(expected.tolist(), abs=1e-5)
    assert score.mean_loss == pytest.approx(expected.mean().item(), abs=1e-5)
    assert score.perplexity == pytest.approx(math.exp(score.mean_loss), rel=1e-9)


def test_score_text_slides_over_long_texts(model):
    text = "the quick brown fox jumps over the lazy dog, again and again."  # 62 tokens, context 16
    score = score_text(model, TOK, text)
    ids = score.ids
    assert [i for i, v in enumerate(score.losses) if math.isnan(v)] == [0]
    # The first window predicts each token from everything before it.
    for j in (5, 16):
        logits = model(torch.tensor([ids[:j]])).logits[0, -1]
        assert score.losses[j] == pytest.approx(-F.log_softmax(logits, -1)[ids[j]].item(), abs=1e-5)
    # Token 17 is predicted by the second window, which starts 8 tokens back.
    logits = model(torch.tensor([ids[9:17]])).logits[0, -1]
    assert score.losses[17] == pytest.approx(-F.log_softmax(logits, -1)[ids[17]].item(), abs=1e-5)
    assert score.perplexity == pytest.approx(math.exp(score.mean_loss))
    tiny = score_text(model, TOK, "a")
    assert len(tiny.losses) == 1 and math.isnan(tiny.losses[0])  # one token: nothing to predict
    assert math.isnan(tiny.mean_loss) and math.isnan(tiny.perplexity)


def test_generation_does_not_leak_inference_mode_into_the_caller(model):
    gen = stream_tokens(model, TOK, "the ", SamplingConfig(seed=0, max_new_tokens=3), capture_attention=True)
    step = next(gen)
    # Between steps the caller is back in normal autograd mode (it may be training).
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    step.attention.mul_(2)  # an ordinary tensor, not an inference tensor
    assert not step.attention.is_inference()
    gen.close()
