"""The forward pass step by step and the logit lens: every number against an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playground.core import forward_steps as fs
from playground.core.config import ModelConfig
from playground.core.model import build_model

pytestmark = pytest.mark.usefixtures("one_thread")

PATTERN = [1, 4, 2, 9, 4, 2, 7, 1, 3, 5, 8, 6]
IDS = [1, 4, 2, 9, 4, 2, 7, 1, 3, 5, 8, 6, 1, 4, 2]  # the pattern and its start again: predictable


def trained(**kw) -> torch.nn.Module:
    """A small GPT trained 40 steps on one repeating pattern: its predictions are peaked."""
    torch.manual_seed(0)
    cfg = ModelConfig(**{"vocab_size": 11, "context_length": 16, "n_layer": 2, "n_head": 2, "d_model": 16,
                         "dropout": 0.0, **kw})
    model = build_model(cfg)
    data = torch.tensor(PATTERN * 4)  # (48,)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        starts = torch.randint(0, len(data) - 17, (8,))  # (8,)
        x = torch.stack([data[s:s + 16] for s in starts])  # (8, 16)
        y = torch.stack([data[s + 1:s + 17] for s in starts])  # (8, 16)
        loss = model(x, y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def model():
    return trained()


def run_model(model, ids=IDS):
    with torch.no_grad():
        return model(torch.tensor([ids]), capture=True)


def ln_torch(ln, x: np.ndarray) -> np.ndarray:
    bias = None if ln.bias is None else ln.bias.detach()
    return F.layer_norm(torch.tensor(x), (x.shape[-1],), ln.weight.detach(), bias, ln.eps).numpy()


def test_model_learned_the_pattern(model):
    steps = fs.forward_steps(model, IDS, 0)
    assert np.nanmean(steps.output.loss) < 1.0  # ln(11) = 2.4 untrained: the checks below see a real model


def test_step_0_one_hot_times_table_plus_position_is_hidden_0(model):
    steps = fs.forward_steps(model, IDS, 0)
    e = steps.embedding
    one_hot = F.one_hot(torch.tensor(IDS), 11).float()  # (T, V)
    assert one_hot.shape == (len(IDS), e.vocab_size)
    np.testing.assert_allclose(e.token, (one_hot @ model.wte.weight.detach()).numpy(), atol=1e-7)
    np.testing.assert_allclose(e.position, model.wpe.weight.detach()[: len(IDS)].numpy())
    np.testing.assert_allclose(e.total, e.token + e.position, atol=1e-7)
    np.testing.assert_array_equal(e.total, run_model(model).hidden[0].numpy())
    assert e.positional == "learned" and list(e.ids) == IDS


@pytest.mark.parametrize("layer", [0, 1])
def test_residual_layernorm_and_mlp_match_the_model(model, layer):
    hidden = run_model(model).hidden.numpy()  # (L + 1, T, C)
    b = fs.forward_steps(model, IDS, layer).block
    block = model.blocks[layer]
    np.testing.assert_array_equal(b.stream_in, hidden[layer])
    # attention output: the block's attention on LayerNorm 1 of its input (the fused path, independently)
    with torch.no_grad():
        a = block.attn.c_proj(F.scaled_dot_product_attention(
            *[t.view(1, -1, 2, 8).transpose(1, 2) for t in block.attn.c_attn(
                torch.tensor(ln_torch(block.ln_1, hidden[layer]))[None]).split(16, dim=2)],
            is_causal=True).transpose(1, 2).reshape(1, -1, 16))[0].numpy()  # (T, C)
    np.testing.assert_allclose(b.attn_out, a, atol=1e-5)
    np.testing.assert_allclose(b.stream_mid, b.stream_in + b.attn_out, atol=1e-6)
    # LayerNorm 2 against torch's, and its pieces
    np.testing.assert_allclose(b.ln_2.after, ln_torch(block.ln_2, b.stream_mid), atol=1e-6)
    np.testing.assert_allclose(b.ln_2.mean, b.stream_mid.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(b.ln_2.std, np.sqrt(b.stream_mid.var(axis=1) + 1e-5), rtol=1e-5)
    np.testing.assert_allclose(b.ln_2.normalised.mean(axis=1), 0, atol=1e-5)
    w, bias = block.ln_2.weight.detach().numpy(), block.ln_2.bias.detach().numpy()
    np.testing.assert_allclose(b.ln_2.normalised * w + bias, b.ln_2.after, atol=1e-5)
    # MLP: c_fc, GELU, the module's own output, the second residual add = the next hidden state
    pre = b.ln_2.after @ block.mlp.c_fc.weight.detach().numpy().T + block.mlp.c_fc.bias.detach().numpy()
    assert b.pre.shape == (len(IDS), 64) and b.activation == "gelu"
    np.testing.assert_allclose(b.pre, pre, atol=1e-5)
    np.testing.assert_allclose(b.post, F.gelu(torch.tensor(b.pre)).numpy(), atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(b.mlp_out, block.mlp(torch.tensor(b.ln_2.after)).numpy(), atol=1e-6)
    np.testing.assert_allclose(b.stream_out, hidden[layer + 1], atol=1e-5)
    assert list(b.off) == [int((np.abs(row) < fs.GELU_OFF_BELOW).sum()) for row in b.post]
    assert 0 < b.off.sum() < b.post.size


def test_output_logits_softmax_and_loss_match_the_model(model):
    result = run_model(model)
    logits = result.logits[0]  # (T, V)
    o = fs.forward_steps(model, IDS, 1).output
    np.testing.assert_allclose(o.ln_f.after, ln_torch(model.ln_f, result.hidden[-1].numpy()), atol=1e-6)
    assert o.unembedding == (16, 11)
    top = logits.topk(fs.TOP_K, dim=-1)
    np.testing.assert_array_equal(o.top_ids, top.indices.numpy())
    np.testing.assert_allclose(o.top_logits, top.values.numpy(), atol=1e-6)
    np.testing.assert_allclose(o.top_probs, torch.softmax(logits, -1).topk(fs.TOP_K).values.numpy(), atol=1e-6)
    # −log p of the true next token is the cross-entropy the training loss averages
    ce = F.cross_entropy(logits[:-1], torch.tensor(IDS[1:]), reduction="none").numpy()  # (T - 1,)
    np.testing.assert_allclose(o.loss[:-1], ce, atol=1e-5)
    assert np.isnan(o.loss[-1]) and o.next_ids[-1] == -1 and list(o.next_ids[:-1]) == IDS[1:]
    np.testing.assert_allclose(o.next_prob[:-1], np.exp(-ce), atol=1e-5)
    ranks = [(logits[i] > logits[i, IDS[i + 1]]).sum().item() + 1 for i in range(len(IDS) - 1)]
    assert list(o.next_rank[:-1]) == ranks
    np.testing.assert_allclose(o.log_sum_exp, torch.logsumexp(logits, -1).numpy(), atol=1e-5)


def test_lens_last_layer_is_the_models_output_and_layer_0_reads_the_embedding(model):
    result = run_model(model)
    lens = fs.logit_lens(model, IDS)
    L = model.config.n_layer
    assert lens.top_ids.shape == lens.top_probs.shape == (L + 1, len(IDS), fs.LENS_K)
    real = torch.softmax(result.logits[0], -1).topk(fs.LENS_K)  # (T, k)
    np.testing.assert_array_equal(lens.top_ids[L], real.indices.numpy())
    np.testing.assert_allclose(lens.top_probs[L], real.values.numpy(), atol=1e-6)
    # layer 0: ln_f and the unembedding on the embedding alone, computed by hand
    x0 = ln_torch(model.ln_f, result.hidden[0].numpy()) @ model.lm_head.weight.detach().numpy().T  # (T, V)
    p0 = torch.softmax(torch.tensor(x0), -1)
    np.testing.assert_array_equal(lens.top_ids[0], p0.topk(fs.LENS_K).indices.numpy())
    np.testing.assert_allclose(lens.top_probs[0], p0.topk(fs.LENS_K).values.numpy(), atol=1e-5)
    np.testing.assert_allclose(lens.next_prob[0, :-1], p0[torch.arange(len(IDS) - 1), IDS[1:]].numpy(), atol=1e-5)
    assert np.isnan(lens.next_prob[:, -1]).all()


def test_relu_sinusoidal_no_bias_model():
    model = trained(activation="relu", positional="sinusoidal", bias=False)
    steps = fs.forward_steps(model, IDS, 1)
    b = steps.block
    assert b.activation == "relu"
    assert list(b.off) == list((b.pre <= 0).sum(axis=1))  # ReLU: a unit is off exactly when its input ≤ 0
    np.testing.assert_allclose(b.ln_2.after, ln_torch(model.blocks[1].ln_2, b.stream_mid), atol=1e-6)
    assert steps.embedding.positional == "sinusoidal"
    np.testing.assert_array_equal(steps.embedding.total, run_model(model).hidden[0].numpy())
    np.testing.assert_allclose(b.stream_out, run_model(model).hidden[2].numpy(), atol=1e-5)


def test_bigram_has_no_blocks():
    model = build_model(ModelConfig(arch="bigram", vocab_size=11).for_vocab(11)).eval()
    with pytest.raises(ValueError, match="no blocks"):
        fs.forward_steps(model, IDS, 0)
    with pytest.raises(ValueError, match="no blocks"):
        fs.logit_lens(model, IDS)


def test_one_token_text_has_no_next_token(model):
    steps = fs.forward_steps(model, [3], 0)
    assert steps.output.next_ids.tolist() == [-1] and np.isnan(steps.output.loss).all()
    assert fs.logit_lens(model, [3]).top_ids.shape == (3, 1, fs.LENS_K)


def test_order_blind_model_adds_no_position():
    model = trained(positional="none")
    e = fs.forward_steps(model, IDS, 0).embedding
    assert e.position is None and e.positional == "none"
    np.testing.assert_array_equal(e.total, e.token)
    np.testing.assert_array_equal(e.total, run_model(model).hidden[0].numpy())
