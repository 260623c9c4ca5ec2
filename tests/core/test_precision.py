"""The GPU path, tested on the CPU: bf16 autocast, the precision and device choices, the CPU guard."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from playground.core import config, devices, precision
from playground.core.checkpoint import Run
from playground.core.corpus import load
from playground.core.model import build_model
from playground.core.tokenizers import CharTokenizer
from playground.core.train import Trainer, make_optimizer
from playground.errors import ModelError

pytestmark = pytest.mark.usefixtures("one_thread")

# bf16 keeps 8 bits of mantissa (fp32: 24): each product is off by up to ~0.4%, and over a
# few training steps the loss drifts from fp32's by a few thousandths. We allow 0.03 nats.
BF16_TOLERANCE = 0.03


def _train_tiny(autocast, steps: int = 12) -> list[float]:
    """The Tiny preset from one seed on fixed batches; the loss before each step and after the last."""
    torch.manual_seed(0)
    cfg = config.preset("tiny", 65)
    model = build_model(cfg)
    opt = make_optimizer(model, config.TrainConfig(lr=3e-3), torch.device("cpu"))
    gen = torch.Generator().manual_seed(1)
    data = torch.randint(0, 65, (4000,), generator=gen) % 13 * 5 % 65  # (4000,) a repetitive "text"
    windows = data.unfold(0, cfg.context_length + 1, 1)  # (N - T, T + 1)
    losses = []
    for _ in range(steps + 1):
        chunk = windows[torch.randint(len(windows), (8,), generator=gen)]  # (8, T + 1)
        with autocast:
            loss = model(chunk[:, :-1], chunk[:, 1:]).loss  # ()
        losses.append(loss.item())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return losses


def test_bf16_autocast_trains_tiny_within_tolerance_of_fp32():
    fp32 = _train_tiny(contextlib.nullcontext())
    bf16 = _train_tiny(precision.autocast(torch.device("cpu"), torch.bfloat16))
    assert bf16[0] == pytest.approx(fp32[0], abs=0.01)  # the same random model, read in bf16
    assert fp32[-1] < fp32[0] - 0.3  # it learned: the comparison is of a moving loss
    assert max(abs(a - b) for a, b in zip(fp32, bf16, strict=True)) < BF16_TOLERANCE
    assert bf16 != fp32  # bf16 really ran (the products were rounded)


def _available(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(("cuda", "mps", "picked"), [
    (True, False, "cuda"), (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_training_uses_the_gpu_by_default_when_there_is_one(monkeypatch, cuda, mps, picked):
    _available(monkeypatch, cuda, mps)
    assert devices.pick_device().type == picked
    assert devices.pick_device("auto").type == picked
    assert devices.pick_device("cpu").type == "cpu"  # asked for: always honoured


def test_asking_for_a_gpu_that_is_absent_is_refused_in_words(monkeypatch):
    _available(monkeypatch, False, False)
    with pytest.raises(ModelError, match="CUDA GPU was asked for"):
        devices.pick_device("cuda")
    with pytest.raises(ModelError, match="MPS"):
        devices.pick_device("mps")


def test_precision_per_device(monkeypatch):
    cuda, cpu, mps = torch.device("cuda"), torch.device("cpu"), torch.device("mps")
    assert precision.autocast_dtype(cuda, bf16_supported=True) == torch.bfloat16
    assert precision.autocast_dtype(cuda, bf16_supported=False) == torch.float16
    assert precision.autocast_dtype(cpu) is None and precision.autocast_dtype(mps) is None
    context, scaler, name = precision.for_device(cpu)
    assert isinstance(context, contextlib.nullcontext) and not scaler.is_enabled() and name == "fp32"
    # Loss scaling only for fp16: bf16 has fp32's range. (A GradScaler for CUDA switches itself
    # off where torch sees no GPU, so CUDA is mocked present.)
    _available(monkeypatch, True, False)
    assert precision.grad_scaler(cuda, torch.float16).is_enabled()
    assert not precision.grad_scaler(cuda, torch.bfloat16).is_enabled()
    assert precision.name_of(torch.bfloat16) == "bf16" and precision.name_of(torch.float16) == "fp16"


@pytest.fixture
def steady_big_cpu(monkeypatch):
    """A CPU of 100 GFLOP/s with memory to spare: the refusal is the speed rule's, not the fit's."""
    monkeypatch.setattr(devices, "cpu_flops_per_s", lambda seconds=0.15: 100e9)
    monkeypatch.setattr(devices, "available_memory", lambda device=None: 2**40)


@pytest.mark.usefixtures("steady_big_cpu")
def test_gpt2_on_a_cpu_is_refused_with_the_time_per_step_unless_forced():
    gpt2 = config.preset("gpt2-124m", 50257)
    tcfg = config.train_config_for(gpt2, grad_accum=8)  # batch 4 by default
    flops = devices.step_flops(gpt2, 4, 8)
    assert flops == pytest.approx((6 * config.param_count(gpt2) + 12 * 12 * 1024 * 768) * 1024 * 4 * 8)
    with pytest.raises(ModelError) as refused:
        devices.check_speed(gpt2, tcfg, torch.device("cpu"))
    minutes = flops / (100e9 * devices.CPU_STEP_EFFICIENCY) / 60
    assert f"one step (batch 4 × 8 accumulated, context 1024) would take about {minutes:.0f} minutes" \
        in refused.value.message
    assert "--force" in refused.value.hint and "Run this at scale" in refused.value.hint
    devices.check_speed(gpt2, tcfg, torch.device("cpu"), force=True)  # forced: allowed
    devices.check_speed(gpt2, tcfg, torch.device("cuda"))  # on a GPU: allowed
    medium = config.preset("medium", 65)
    devices.check_speed(medium, config.train_config_for(medium), torch.device("cpu"))  # a CPU size


@pytest.mark.usefixtures("steady_big_cpu")
def test_the_app_s_trainer_refuses_gpt2_on_a_cpu_before_building_it(monkeypatch):
    """The app trains in a child process through Trainer: its refusal is the CLI's, word for word."""
    built = []
    monkeypatch.setattr("playground.core.model.build_model", lambda cfg: built.append(cfg))
    corpus = load("builtin:grammar-lessons")
    tok = CharTokenizer.train(corpus.text)
    gpt2 = config.preset("gpt2-124m", tok.vocab_size)
    tcfg = config.train_config_for(gpt2, device="cpu")
    run = Run.create("big", gpt2, tcfg, corpus.record(tcfg.split), tok)
    with pytest.raises(ModelError) as refused:
        next(Trainer(run, corpus).run())
    with pytest.raises(ModelError) as cli_words:
        devices.check_speed(gpt2, tcfg, torch.device("cpu"))
    assert refused.value.message == cli_words.value.message and not built


@pytest.mark.usefixtures("steady_big_cpu")
def test_cli_refuses_gpt2_on_a_cpu_with_exit_2(capsys, playground_home):
    from playground import cli

    code = cli.main(["train", "--corpus", "builtin:grammar-lessons", "--preset", "gpt2-124m", "--device", "cpu",
                     "--grad-accum", "4", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "too big to train on this computer's CPU" in err and "× 4 accumulated" in err
    assert "--force" in err
    runs = playground_home / "data" / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # nothing was made


def test_fp16_with_loss_scaling_trains_skips_overflows_and_resumes(monkeypatch):
    """The older-GPU path (fp16 autocast + GradScaler), run on the CPU: a loss scale too large for
    fp16 overflows the gradients, the scaler skips those steps and halves itself, training goes on,
    and the scale is saved with the checkpoint and restored on resume."""
    from playground.core.corpus import from_text

    def fp16(device):
        return (precision.autocast(device, torch.float16), torch.amp.GradScaler("cpu", init_scale=2.0**30),
                "fp16")

    monkeypatch.setattr(precision, "for_device", fp16)
    text = "".join(f"the {w} sat on mat {i % 7}.\n" for i, w in enumerate(["cat", "dog", "owl"] * 60))
    corpus, tok = from_text(text), CharTokenizer.train(text)
    mcfg = config.ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
    tcfg = config.TrainConfig(iters=40, batch_size=8, eval_interval=40, eval_iters=2, sample_tokens=0,
                              warmup=0, lr=3e-3, device="cpu")
    run = Run.create("fp16", mcfg, tcfg, corpus.record(tcfg.split), tok)
    events = list(Trainer(run, corpus).run())
    losses = [e.loss for e in events if type(e).__name__ == "Step"]
    assert events[-1].reason == "done" and all(map(math.isfinite, losses))
    assert losses[-1] < losses[0] - 0.5  # the skipped steps did not stop it learning
    saved = Run.open("fp16").load_latest()["scaler"]
    assert saved["scale"] < 2.0**30  # backed off from the overflows
    assert Run.open("fp16").info["precision"] == "fp16"
    run = Run.open("fp16")
    run.update(train={**run.info["train"], "iters": 41})
    resumed = Trainer(Run.open("fp16"), corpus, resume=True)
    assert list(resumed.run())[-1].reason == "done"
    assert resumed.scaler.get_scale() == saved["scale"]  # no overflow in that one step: kept
