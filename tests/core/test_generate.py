"""Sampling filters, token streaming (cache, window, forcing, stopping) and text scoring."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from playground.core.generate import SamplingConfig, TokenStep, filter_probs, score_text, stream_tokens
from playground.core.model import ModelConfig, build_model
from playground.errors import ModelError, TokenizerError

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (conftest.py)


ALPHABET = "\n abcdefghijklmnopqrstuvwxyz.,"


class CharTok:
    """A stand-in character tokenizer with the contract's surface (the real one lives in tokenizers.py)."""

    kind = "char"

    def __init__(self, chars: str = ALPHABET) -> None:
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}
        self.vocab_size = len(chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as exc:
            raise TokenizerError(f"unknown character {exc.args[0]!r}") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)

    def token_label(self, token_id: int) -> str:
        return self.chars[token_id].replace(" ", "·").replace("\n", "↵")

    def unknown_spans(self, text: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i, c in enumerate(text) if c not in self.stoi]


TOK = CharTok()
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
    for a, b in zip(cached, plain):
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


# ─────────────────────────────────────────────────────── score_text


def test_score_text_losses_and_perplexity(model):
    text = "the cat sat."
    score = score_text(model, TOK, text)
    assert score.ids == TOK.encode(text) and score.labels[3] == "·"
    assert math.isnan(score.losses[0]) and len(score.losses) == len(text)
    logits = model(torch.tensor([score.ids[:-1]])).logits[0]
    expected = F.cross_entropy(logits, torch.tensor(score.ids[1:]), reduction="none")
    assert score.losses[1:] == pytest.approx(expected.tolist(), abs=1e-5)
    assert score.mean_loss == pytest.approx(expected.mean().item(), abs=1e-5)
    assert score.perplexity == pytest.approx(math.exp(score.mean_loss), rel=1e-9)


def test_score_text_slides_over_long_texts(model):
    text = "the quick brown fox jumps over the lazy dog, again and again."  # 62 tokens, context 16
    score = score_text(model, TOK, text)
    ids = score.ids
    assert math.isnan(score.losses[0]) and not any(math.isnan(v) for v in score.losses[1:])
    # The first window predicts each token from everything before it.
    for j in (5, 16):
        logits = model(torch.tensor([ids[:j]])).logits[0, -1]
        assert score.losses[j] == pytest.approx(-F.log_softmax(logits, -1)[ids[j]].item(), abs=1e-5)
    # Token 17 is predicted by the second window, which starts 8 tokens back.
    logits = model(torch.tensor([ids[9:17]])).logits[0, -1]
    assert score.losses[17] == pytest.approx(-F.log_softmax(logits, -1)[ids[17]].item(), abs=1e-5)
    assert score.perplexity == pytest.approx(math.exp(score.mean_loss))
    tiny = score_text(model, TOK, "a")
    assert math.isnan(tiny.mean_loss) and tiny.losses[0] != tiny.losses[0]


def test_generation_does_not_leak_inference_mode_into_the_caller(model):
    gen = stream_tokens(model, TOK, "the ", SamplingConfig(seed=0, max_new_tokens=3), capture_attention=True)
    step = next(gen)
    # Between steps the caller is back in normal autograd mode (it may be training).
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    step.attention.mul_(2)  # an ordinary tensor, not an inference tensor
    assert not step.attention.is_inference()
    gen.close()
