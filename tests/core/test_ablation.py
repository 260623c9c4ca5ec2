"""Switching heads, MLPs and positions off: the numbers equal a model with those weights zeroed,
the shared model comes back bit-identical, and a previous-token head matters most for copying."""

from __future__ import annotations

import copy
import random
import threading

import numpy as np
import pytest
import torch

from playground.core import ablation as ab
from playground.core import attention_views as av
from playground.core.config import ModelConfig
from playground.core.model import build_model
from playground.core.tokenizers import CharTokenizer
from playground.errors import Cancelled, ModelError

pytestmark = pytest.mark.usefixtures("one_thread")

COPY_TEXT = "".join(f"{s}|{s}|{s}\n" for s in ["abcab", "cabbac", "bca", "aabbcc", "cbacba", "abc"] * 6)


@pytest.fixture(scope="module")
def copy_run(builtin_trained):
    """copy-lessons trained at the app's defaults (shared with the other tests of the session)."""
    return builtin_trained("copy-lessons").run


@pytest.fixture(scope="module")
def trained(copy_run):
    """A private copy of the trained model and its validation sample (the sample: 32 × 64 tokens)."""
    model = copy_run.load_model(device="cpu")
    return model, ab.validation_sample(copy_run.path, copy_run.tokenizer, model.config.context_length)


def random_model(**changes) -> torch.nn.Module:
    """A fresh small GPT (its weights scaled up so switching a part off changes clear numbers)."""
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=5, context_length=16, n_layer=2, n_head=2, d_model=16, **changes)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(20)
    return model


def small_sample(context_length: int = 16) -> ab.Sample:
    return ab.sample_from_text(COPY_TEXT, CharTokenizer.train("abc|\n"), context_length)


def state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def zeroed_head(model, layer: int, head: int):
    """An independent model: a deep copy with the head's d_head columns of W_O (c_proj) zeroed."""
    other = copy.deepcopy(model)
    d = other.blocks[layer].attn.d_head
    with torch.no_grad():
        other.blocks[layer].attn.c_proj.weight[:, head * d:(head + 1) * d] = 0.0
    return other


def zeroed_mlp(model, layer: int):
    other = copy.deepcopy(model)
    proj = other.blocks[layer].mlp.c_proj
    with torch.no_grad():
        proj.weight.zero_()
        if proj.bias is not None:
            proj.bias.zero_()
    return other


def zeroed_positions(model):
    other = copy.deepcopy(model)
    with torch.no_grad():
        if other.config.positional == "learned":
            other.wpe.weight.zero_()
        else:
            other.pos_table.zero_()
    return other


# ───────────────────────────────────────────────────────────────────────────── the test


def test_previous_token_head_matters_more_for_copying_than_a_mixed_head(trained, copy_run):
    """On the heads the Attention tab labels (random validation excerpts, as a student takes them):
    wherever one excerpt labels a head previous-token and another head mixed, switching the
    previous-token head off raises the loss on copied letters more than switching the mixed one off."""
    model, sample = trained
    copied = ab.copied_targets(sample)
    assert copied.mean() > 0.4  # two of the three copies of each line
    base, effects = ab.head_importance(model, sample, copied)
    increase = {(e.layer, e.head): e.increase for e in effects}
    tok = copy_run.tokenizer
    compared = 0
    for seed in range(20):
        excerpt = av.pick_excerpt(sample.text, tok, av.EXCERPT_TOKENS, random.Random(seed))
        labels = av.capture(model, tok.encode(excerpt)).head_labels
        heads = {(layer, head): name for layer, row in enumerate(labels) for head, (name, _) in enumerate(row)}
        previous = [h for h, name in heads.items() if name == "previous-token"]
        mixed = [h for h, name in heads.items() if name == "mixed"]
        if previous and mixed:
            compared += 1
            assert min(increase[h] for h in previous) > max(increase[h] for h in mixed), (seed, heads, increase)
    assert compared >= 3  # the model's heads are labelled mixed on some excerpts (measured: 9 of 20)
    assert base < 0.5  # the whole model copies well: the comparison is about a working model


# ───────────────────────────────────────────────────────────────────────────── equal to zeroed weights


@pytest.mark.parametrize("layer, head", [(0, 0), (0, 1), (1, 1)])
def test_head_off_equals_a_copy_with_that_heads_columns_of_w_o_zeroed(trained, layer, head):
    model, sample = trained
    off = ab.Ablation(heads=frozenset({(layer, head)}))
    got = ab.token_losses(model, sample, off)  # (N, L-1)
    want = ab.token_losses(zeroed_head(model, layer, head), sample)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert ab.validation_loss(model, sample, off) > ab.validation_loss(model, sample) + 0.1


def test_mlp_off_equals_a_copy_with_the_mlps_output_projection_zeroed(trained):
    model, sample = trained
    got = ab.validation_loss(model, sample, ab.Ablation(mlps=frozenset({1})))
    want = ab.validation_loss(zeroed_mlp(model, 1), sample)
    assert got == pytest.approx(want, rel=1e-6)
    assert got > ab.validation_loss(model, sample) + 0.05


def test_positions_off_equals_a_copy_with_zeroed_position_vectors(trained):
    model, sample = trained
    got = ab.validation_loss(model, sample, ab.Ablation(positions=True))
    want = ab.validation_loss(zeroed_positions(model), sample)
    assert got == pytest.approx(want, rel=1e-6)
    assert got > ab.validation_loss(model, sample) + 1.0  # order-blind, it cannot copy


@pytest.mark.parametrize("changes", [dict(positional="sinusoidal"), dict(bias=False, tie_weights=True),
                                     dict(activation="relu")])
def test_several_parts_off_at_once_equal_a_copy_with_all_of_them_zeroed(changes):
    model = random_model(**changes)
    sample = small_sample()
    off = ab.Ablation(heads=frozenset({(0, 1), (1, 0)}), mlps=frozenset({0}), positions=True)
    other = zeroed_positions(zeroed_mlp(zeroed_head(zeroed_head(model, 0, 1), 1, 0), 0))
    got = ab.token_losses(model, sample, off)
    np.testing.assert_allclose(got, ab.token_losses(other, sample), rtol=1e-6, atol=1e-6)
    assert not np.allclose(got, ab.token_losses(model, sample), atol=1e-3)


# ───────────────────────────────────────────────────────────────────────────── the model stays whole


def test_the_model_is_bit_identical_after_ablation_even_after_an_error(trained):
    model, sample = trained
    before = state(model)
    hooks = hook_count(model)
    whole = ab.token_losses(model, sample)
    off = ab.Ablation(heads=frozenset({(0, 0), (1, 1)}), mlps=frozenset({0, 1}), positions=True)
    ab.head_importance(model, sample)
    ab.validation_loss(model, sample, off)
    with pytest.raises(RuntimeError), ab.ablated(model, off):
        raise RuntimeError("a job failed half-way")
    assert hook_count(model) == hooks
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(ab.token_losses(model, sample), whole)


def test_another_thread_running_the_shared_model_sees_it_whole(trained):
    model, sample = trained
    x = torch.from_numpy(sample.windows[:2, :-1])  # (2, L-1)
    with torch.no_grad():
        whole = model(x).logits  # (2, L-1, V)
    seen = {}
    off = ab.Ablation(heads=frozenset({(0, 1)}), mlps=frozenset({0}), positions=True)
    with ab.ablated(model, off), torch.no_grad():
        mine = model(x).logits  # (2, L-1, V)
        other = threading.Thread(target=lambda: seen.setdefault("logits", model(x).logits))
        other.start()
        other.join()
    assert torch.equal(seen["logits"], whole)
    assert not torch.allclose(mine, whole, atol=1e-3)


# ───────────────────────────────────────────────────────────────────────────── next token, importance


def test_next_token_before_and_after_are_the_models_own_probabilities(trained):
    model, sample = trained
    ids = [int(i) for i in sample.windows[0, :30]]
    position = 20
    result = ab.next_token(model, ids, position, ab.Ablation(heads=frozenset({(0, 1)})))
    x = torch.tensor([ids])  # (1, T)
    with torch.no_grad():
        before = torch.softmax(model(x).logits[0, position], -1).numpy()  # (V,)
        after = torch.softmax(zeroed_head(model, 0, 1)(x).logits[0, position], -1).numpy()  # (V,)
    rows = {i: (pb, pa) for i, pb, pa in result.rows}
    top = set(np.argsort(-before)[: ab.TOP_K]) | set(np.argsort(-after)[: ab.TOP_K])
    assert set(rows) == {int(i) for i in top}
    for i, (pb, pa) in rows.items():
        assert pb == pytest.approx(before[i], abs=1e-6) and pa == pytest.approx(after[i], abs=1e-6)
    likeliest = [max(pb, pa) for _, pb, pa in result.rows]
    assert likeliest == sorted(likeliest, reverse=True)
    assert result.target == ids[position + 1]
    assert result.target_before == pytest.approx(before[ids[position + 1]], abs=1e-6)
    assert result.target_after == pytest.approx(after[ids[position + 1]], abs=1e-6)
    last = ab.next_token(model, ids, None, ab.NOTHING)
    assert last.position == len(ids) - 1 and last.target is None
    assert all(pb == pa for _, pb, pa in last.rows)


def test_head_importance_is_each_heads_own_loss_increase_sorted(trained):
    model, sample = trained
    seen = []
    base, effects = ab.head_importance(model, sample, progress=lambda d, t: seen.append((d, t)))
    assert base == pytest.approx(ab.validation_loss(model, sample))
    assert len(effects) == 4 and seen[-1] == (4, 4)
    assert [e.increase for e in effects] == sorted((e.increase for e in effects), reverse=True)
    for e in effects:
        assert e.loss == pytest.approx(ab.validation_loss(zeroed_head(model, e.layer, e.head), sample), rel=1e-6)
        assert e.increase == pytest.approx(e.loss - base)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        ab.head_importance(model, sample, cancel=cancel)


def test_parts_the_model_does_not_have_are_refused():
    model = random_model()
    with pytest.raises(ModelError, match="no head L2 H0"):
        ab.validation_loss(model, small_sample(), ab.Ablation(heads=frozenset({(2, 0)})))
    with pytest.raises(ModelError, match="no block 5"):
        ab.check(model, ab.Ablation(mlps=frozenset({5})))
    bigram = build_model(ModelConfig(arch="bigram", vocab_size=5, d_model=5, n_layer=0, n_head=1))
    with pytest.raises(ModelError, match="bigram"):
        ab.check(bigram, ab.Ablation(positions=True))
    ab.check(bigram, ab.NOTHING)


# ───────────────────────────────────────────────────────────────────────────── the sample, copied spans


def test_the_sample_is_fixed_and_its_offsets_point_at_its_tokens(trained, copy_run):
    model, sample = trained
    again = ab.validation_sample(copy_run.path, copy_run.tokenizer, model.config.context_length)
    np.testing.assert_array_equal(sample.windows, again.windows)
    assert sample.windows.shape == (32, 65) and sample.n_targets == 2048
    assert sample.describe() == "2,048 predicted tokens of the validation text (32 pieces of 64)"
    tok = copy_run.tokenizer
    for row, offs in zip(sample.windows, sample.offsets):
        assert offs[0] == 0 or sample.text[offs[0] - 1] == "\n"  # pieces start at a line start
        assert tok.decode(row.tolist()) == sample.text[offs[0]:offs[-1] + 1]
        assert [sample.text[o] for o in offs] == [tok.decode([i]) for i in row]


def test_copied_chars_are_the_letters_of_the_second_and_third_copies():
    text = "abc|abc|abc\nxy|xy|xy\nab|ba|ab\nq"
    mask = ab.copied_chars(text)
    drawn = "".join("^" if m else "." for m in mask)
    assert drawn == "....^^^.^^^." + "...^^.^^." + "........." + "."  # line 3's parts differ: no copy


def test_copied_targets_need_the_whole_line_in_the_window():
    sample = ab.sample_from_text(COPY_TEXT, CharTokenizer.train("abc|\n"), 16)
    mask = ab.copied_targets(sample)  # (N, L-1)
    chars = ab.copied_chars(sample.text)
    for offs, m in zip(sample.offsets, mask):
        line_start = [sample.text.rfind("\n", 0, o) + 1 for o in offs[1:]]
        want = [bool(chars[o]) and s >= offs[0] for o, s in zip(offs[1:], line_start)]
        assert m.tolist() == want
    assert mask.any() and not mask.all()
    # A window that starts mid-line: that line's copies are not counted (their original is cut off).
    cut = ab.Sample(sample.windows[:1], sample.offsets[:1] + 2, sample.text)
    assert not ab.copied_targets(cut)[0, :8].any()
