"""The training loop: a generator of small event dataclasses, driven by its consumer.

    trainer = Trainer(run, corpus, pause=pause_event, stop=stop_event)
    for event in trainer.run():      # Step, Eval, Sample, Checkpointed, Note ... Finished
        ...

No Qt and no printing: the CLI progress bar and the GUI's worker are two consumers of the
same stream. Pause and stop are only polled with ``.is_set()``, so a ``threading.Event``
works in-process and a ``multiprocessing.Event`` across a process boundary.

The recipe is nanoGPT's: AdamW (weight decay on matrices only), linear warmup then cosine
decay to ``min_lr`` at the last iteration, gradient clipping, random windows of
``context + 1`` tokens. Everything random comes from saved generators, so a run resumed
from ``latest.pt`` continues exactly as if it had never stopped.

Setup problems (a corpus that changed, a model too large...) raise a PlaygroundError on the
first ``next()``; problems once training has started end the stream with ``Finished``.

Bigger machines: on CUDA the forward pass autocasts to bf16 (core/precision.py); a step can add
up ``grad_accum`` micro-batches; under torchrun every rank runs a Trainer, DDP averages their
gradients and rank 0 alone writes the run (core/distributed.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch

from playground.core import atomic, devices, distributed, precision, run_lock
from playground.core import model as model_mod
from playground.core.batches import TokenBatches
from playground.core.checkpoint import Run
from playground.core.config import TrainConfig, lr_at, training_defaults
from playground.core.events import COMPILING_NOTE, Checkpointed, Eval, Event, Finished, Note, Sample, Step
from playground.errors import CheckpointError, CorpusError, ModelError, PlaygroundError


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups as nanoGPT does: decay the matrices (≥ 2-D), not biases or LayerNorm scales."""
    params = [p for p in model.parameters() if p.requires_grad]  # tied weights appear once
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """The trainer's AdamW: fused into one kernel for all parameters where torch has it."""
    groups = param_groups(model, cfg.weight_decay)
    betas = (cfg.beta1, cfg.beta2)
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, fused=True)
        except (RuntimeError, TypeError, ValueError):  # older torch: no fused kernel here
            pass
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _python_rng_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _set_python_rng_state(state: list) -> None:
    random.setstate((state[0], tuple(state[1]), state[2]))


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Trains ``run``'s model on ``corpus`` (or, when None, on the corpus its record names)."""

    def __init__(self, run: Run, corpus=None, *, pause=None, stop=None, resume: bool = False,
                 force: bool = False) -> None:
        # Under torchrun every rank trains; rank 0 alone writes the run (core/distributed.py).
        self.dist = distributed.from_env()
        self._run = run if self.dist.is_main else distributed.FollowerRun(run)
        self.force = force  # train a model this machine is too slow for (devices.check_speed)
        self.tokenizing_progress = None  # (done, total) while a new text is tokenized into the cache
        self.corpus = corpus
        self.pause = pause
        self.stop = stop
        self.resume = resume
        self.cfg: TrainConfig = run.train_config
        self.model_cfg = run.model_config
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.device: torch.device | None = None
        self.step = 0  # optimizer steps done
        self.best_val_loss: float | None = None
        self.last_val_loss: float | None = None
        self.notes: list[str] = []
        self._idle = threading.Event()  # never set: a timed wait when no stop event was given
        self._last_saved = -1
        self._elapsed_before = 0.0

    @property
    def training_run(self) -> Run:
        return self._run

    # ---- setup

    def _check_corpus(self) -> None:
        from playground.core import corpus as corpus_mod

        record = self._run.corpus_record
        if self.corpus is None:
            self.corpus = corpus_mod.verify_record(record)
            return
        want = record.get("sha256")
        if want and self.corpus.sha256 != want:
            raise CorpusError(
                f"The text of '{self.corpus.name}' is not the one run '{self._run.name}' was trained on "
                "(it has changed since).",
                "Load the original text to continue this run, or start a new run with this one.")

    def _setup(self) -> bool:
        """Build everything; returns True when resuming from latest.pt."""
        cfg = self.cfg
        cfg.validate()
        resuming = self.resume or self._run.has_latest()
        if self.resume and not self._run.has_latest():
            raise CheckpointError(f"Run '{self._run.name}' has no checkpoint to resume from.",
                                  "Start it from the beginning instead.")
        # A trainer killed mid-save (SIGKILL, power loss) left its temporary files; we hold the lock.
        for folder in (self._run.path, self._run.checkpoints_dir) if self.dist.is_main else ():
            atomic.remove_stale_temps(folder)
        self._check_corpus()
        if not resuming:  # from step 0: rows an attempt logged before its first checkpoint go
            self._run.truncate_metrics(-1)
        tokenizer = self._run.tokenizer
        if tokenizer.vocab_size > self.model_cfg.vocab_size:
            raise ModelError(
                f"The tokenizer has {tokenizer.vocab_size} tokens but the model only {self.model_cfg.vocab_size}.",
                "Set the model's vocabulary size to the tokenizer's.")
        self.tokenizer = tokenizer
        self.device = distributed.device_for(self.dist, devices.pick_device(cfg.device))
        devices.check_fits(self.model_cfg, cfg.batch_size, self.device)
        if not resuming:  # a run already under way was allowed once
            devices.check_speed(self.model_cfg, cfg, self.device, force=self.force)

        self.data = self._load_data(tokenizer)

        torch.manual_seed(cfg.seed)  # weight init and dropout
        random.seed(cfg.seed)
        # Each rank its own batches (rank 0: the run's seed); every rank builds the same weights.
        self.batch_gen = torch.Generator().manual_seed(distributed.batch_seed(cfg.seed, self.dist.rank))
        self.model = model_mod.build_model(self.model_cfg).to(self.device)
        self.model.train()
        if self.dist.rank:
            torch.manual_seed(distributed.batch_seed(cfg.seed, self.dist.rank))  # dropout masks differ too
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        # bf16 autocast on CUDA (fp16 + loss scaling on older GPUs), TF32; fp32 on CPU and MPS.
        self.autocast, self.scaler, precision_name = precision.for_device(self.device)

        if resuming:
            self._restore(self._run.load_latest(map_location="cpu"))
        self._compiled = False
        self.forward = distributed.wrap(self.dist, self._maybe_compile(), self.device)
        extra = {"processes": self.dist.world_size} if self.dist.enabled else {}
        self._run.update(status="training", device=self.device.type, precision=precision_name,
                         device_description=devices.device_description(self.device), message=None, **extra)
        return resuming

    def _load_data(self, tokenizer) -> TokenBatches:
        """The batches this run trains on (checks first that the text is long enough)."""
        cfg = self.cfg
        if self.model_cfg.is_encoder_decoder:  # sentence pairs: (source, target in, target out)
            from playground.core.pairs import pair_batches

            return pair_batches(self.corpus.text, tokenizer, self.model_cfg.context_length, cfg.batch_size,
                                cfg.split, self.device)
        from playground.core import token_cache
        from playground.core.corpus import check_trainable

        # The corpus as ids in a memory-mapped token file, made once per (corpus, tokenizer) in
        # the cache, chunk by chunk; validation is its end, as in nanoGPT. Stop pressed while it is
        # made cancels it; a stop already set keeps its meaning (step 0 is saved, then it stops).
        cancel = None if self.stop is None or self.stop.is_set() else self.stop
        tokens = token_cache.token_file(self.corpus, tokenizer, progress=self.tokenizing_progress, cancel=cancel)
        n_train = int(tokens.tokens * cfg.split)
        T = self.model_cfg.context_length
        check_trainable(n_train, tokens.tokens - n_train, T, cfg.batch_size, split=cfg.split,
                        chars_per_token=tokens.chars / max(1, tokens.tokens))
        return TokenBatches(tokens.mapped(0, n_train), tokens.mapped(n_train), T, cfg.batch_size, self.device)

    def _maybe_compile(self):
        if not self.cfg.compile:
            return self.model
        from playground.paths import configure_compile_cache

        configure_compile_cache()
        self.notes.append(COMPILING_NOTE)
        try:
            compiled = torch.compile(self.model)
            self._compiled = True
            return compiled
        except Exception as exc:  # noqa: BLE001 - any failure means: train uncompiled
            self._compile_failed(exc)
            return self.model

    def _compile_failed(self, exc: BaseException) -> None:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        self.notes.append(f"torch.compile is not available here ({first}); training without it.")

    def _restore(self, state: dict) -> None:
        if int(state.get("step", 0)) > self.cfg.iters:
            raise CheckpointError(f"Run '{self._run.name}' was saved at step {state['step']}, past its "
                                  f"{self.cfg.iters} iterations.")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"latest.pt of run '{self._run.name}' does not match its model.",
                                  "Train the run again.") from exc
        rng = state.get("rng", {})
        if self.dist.rank:  # under torchrun: this rank's own generators, when it had a place before
            ranks = state.get("rng_ranks") or []
            rng = ranks[self.dist.rank] if self.dist.rank < len(ranks) else self._fresh_rng(int(state["step"]))
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["cuda"])
        if rng.get("python"):
            _set_python_rng_state(rng["python"])
        if "batch" in rng:
            self.batch_gen.set_state(rng["batch"])
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self._last_saved = self.step
        self.best_val_loss = state.get("best_val_loss")
        self.last_val_loss = state.get("val_loss")
        self._elapsed_before = float(state.get("elapsed", 0.0))
        # Steps logged after this checkpoint (a crash) are redone: drop them from the log.
        self._run.truncate_metrics(self.step)
        self.notes.append(f"Resumed from step {self.step}.")

    def _fresh_rng(self, step: int) -> dict:
        """Generators for a rank the saved run did not have (resumed on more processes)."""
        seed = distributed.batch_seed(self.cfg.seed, self.dist.rank) + step
        return {"torch": torch.Generator().manual_seed(seed).get_state(),
                "batch": torch.Generator().manual_seed(seed + 1).get_state()}

    def _state(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "python": _python_rng_state(), "batch": self.batch_gen.get_state(),
               "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []}
        state = {"step": self.step, "model": _weights(self.model), "optimizer": self.optimizer.state_dict(),
                 "rng": rng, "val_loss": self.last_val_loss, "best_val_loss": self.best_val_loss,
                 "elapsed": self._elapsed()}
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        if self.dist.enabled:  # every rank's generators (a collective: all ranks save together)
            state["rng_ranks"] = distributed.gather(self.dist, rng)
            state["processes"] = self.dist.world_size
        return state

    # ---- pieces of the loop

    def _rng_guard(self):
        """Evaluation and sampling must not move the training RNG: resumed runs stay exact."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    @torch.no_grad()
    def _evaluate(self) -> tuple[float, float]:
        self.model.eval()
        try:
            with self._rng_guard():
                out = []
                for split in ("train", "val"):
                    gen = torch.Generator().manual_seed(self.cfg.seed + 1)  # same batches every eval
                    losses = torch.zeros(self.cfg.eval_iters, device=self.device)  # (eval_iters,)
                    for k in range(self.cfg.eval_iters):
                        batch = self.data.batch(split, gen)  # (B, T), (B, T) for a GPT
                        with self.autocast:
                            losses[k] = self.model(*batch).loss
                    out.append(float(losses.mean().item()))
        finally:
            self.model.train()
        return out[0], out[1]

    def _sample(self) -> str:
        from playground.core.config import SamplingConfig
        from playground.core.generate import stream_tokens

        tok = self.tokenizer
        if self.model_cfg.is_encoder_decoder:  # the first validation source and its translation
            from playground.core.translate import sample_translation

            self.model.eval()
            try:
                with self._rng_guard(), torch.no_grad():
                    return sample_translation(self.model, tok, self.data.sample_source, self.cfg.sample_tokens)
            finally:
                self.model.train()
        try:
            newline = tok.encode("\n")
        except PlaygroundError:
            newline = []
        prompt = newline if len(newline) == 1 else [self.data.first_val_token()]
        self.model.eval()
        try:
            with self._rng_guard(), torch.no_grad():
                sampling = SamplingConfig(seed=self.cfg.seed, max_new_tokens=self.cfg.sample_tokens)
                ids = [s.id for s in stream_tokens(self.model, tok, list(prompt), sampling)]
        finally:
            self.model.train()
        return tok.decode(list(prompt) + ids)

    def _checkpoint(self) -> str:
        run, it = self._run, self.step
        run.save_latest(self._state())
        snap = run.save_snapshot(it, self.model, self.last_val_loss, keep=self.cfg.checkpoint_keep)
        self._last_saved = it
        run.update(step=it, best_val_loss=self.best_val_loss, last_val_loss=self.last_val_loss)
        return str(snap)

    def _elapsed(self) -> float:
        return self._elapsed_before + (time.perf_counter() - self._t_start - self._paused)

    def _finish(self, reason: str, message: str, status: str) -> Finished:
        try:
            self._run.update(status=status, message=None if reason in ("done", "stopped") else message)
        except PlaygroundError as exc:  # the disk that failed the step may fail this write too
            message = f"{message} ({exc.message})" if exc.message not in message else message
        # What to change after a failure: divergence -> the learning rate, out of memory -> the batch.
        return Finished(reason, self.step, message, suggest={"nan": "lr", "oom": "batch_size"}.get(reason))

    def _eval_and_save(self) -> Iterator[Event]:
        # Ranks hold the same weights; agreeing on the numbers keeps their decisions (NaN) one.
        train_loss, val_loss = distributed.agree(self.dist, list(self._evaluate()), self.device)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            self._nan = True
            return
        self.last_val_loss = val_loss
        if self.best_val_loss is None or val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
        self._run.append_metrics({"kind": "eval", "it": self.step, "train_loss": train_loss,
                                  "val_loss": val_loss, "time": self._elapsed()})
        yield Eval(self.step, train_loss, val_loss)
        yield Checkpointed(self.step, self._checkpoint())
        if self.cfg.sample_tokens and self.cfg.sample_interval is None and self.dist.is_main:
            yield Sample(self.step, self._sample_or_note())

    def _sample_or_note(self) -> str:
        try:
            return self._sample()
        except PlaygroundError as exc:  # a sample must never end a training
            return f"(no sample: {exc.message})"

    def _nan_message(self) -> str:
        kept = f"The last good checkpoint (step {self._last_saved}) is kept" if self._last_saved >= 0 else \
            "Nothing was saved"
        usual = training_defaults(self.model_cfg)[0]["lr"]
        lower = usual if self.cfg.lr > usual else self.cfg.lr / 3  # this size's default, when above it
        return (f"The loss became NaN or infinite at step {self.step}: training diverged. {kept}. "
                f"Lower the learning rate (e.g. to {lower:.2g}), keep gradient clipping on, "
                "or use a longer warmup, then start a new run.")

    def _wait_while_paused(self) -> None:
        waiter = self.stop if hasattr(self.stop, "wait") else self._idle
        t0 = time.perf_counter()
        while self.pause.is_set() and not (self.stop is not None and self.stop.is_set()):
            waiter.wait(0.05)  # returns at once when stop is set
        self._paused += time.perf_counter() - t0
        self._tps_fresh = True  # the first step after a pause is not representative

    # ---- the loop

    def run(self) -> Iterator[Event]:
        """The events of the whole training, with this run locked against a second trainer."""
        # Under torchrun only rank 0 writes the run, so only it holds the lock.
        lock = run_lock.acquire(self._run.path, self._run.name) if os.environ.get("RANK", "0") == "0" else None
        try:
            yield from self._run_locked()
        finally:
            if lock is not None:
                lock.release()

    def _run_locked(self) -> Iterator[Event]:
        resuming = self._setup()
        cfg, run = self.cfg, self._run
        self._t_start, self._paused, self._nan = time.perf_counter(), 0.0, False
        self._tps_fresh = True
        try:
            for note in self.notes:
                yield Note(self.step, note)
            del self.notes[:]
            if resuming and self.step >= cfg.iters:
                yield self._finish("done", f"Run '{run.name}' had already finished ({self.step} steps).",
                                   "finished")
                return
            if not resuming:
                yield from self._eval_and_save()  # step 0: the loss of random weights, ~ln(vocab)
            yield from self._loop()
        except Exception as exc:
            if _is_oom(exc):
                self.model = self.optimizer = None
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                where = devices.device_description(self.device) if self.device is not None else "this device"
                yield self._finish("oom", (
                    f"Out of memory at step {self.step} on {where}. Lower the batch size "
                    f"(now {cfg.batch_size}) or the context length, or pick a smaller model. "
                    + (f"The last good checkpoint (step {self._last_saved}) is kept." if self._last_saved >= 0 else "")
                ).strip(), "failed")
                return
            if isinstance(exc, OSError):  # a write the checkpoint module did not word (rare)
                exc = PlaygroundError(
                    f"Training stopped: the machine refused a file operation ({exc.strerror or exc}).",
                    "Check the disk space and that the runs folder is writable, then resume.")
            if isinstance(exc, PlaygroundError):  # e.g. the disk filled up during a save
                msg = exc.message + (f" {exc.hint}" if exc.hint else "")
                yield self._finish("error", msg, "stopped")
                return
            raise
        finally:
            run.close_metrics_quietly()
            if run.status == "training":  # the consumer dropped the stream mid-way
                with contextlib.suppress(Exception):
                    run.update(status="stopped")

    def _forward_backward(self, batch: tuple) -> torch.Tensor:
        """One micro-batch's loss, its gradients added to the parameters' (scaled for fp16)."""
        n = self.cfg.grad_accum
        try:
            with self.autocast:
                loss = self.forward(*batch).loss  # ()
            self.scaler.scale(loss / n if n > 1 else loss).backward()  # a step's gradient: the mean
        except Exception as exc:
            if not self._compiled or _is_oom(exc):
                raise
            self._compile_failed(exc)  # torch.compile fails lazily, at the first forward/backward
            self._compiled = False
            self.forward = distributed.wrap(self.dist, self.model, self.device)
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast:
                loss = self.forward(*batch).loss  # ()
            self.scaler.scale(loss / n if n > 1 else loss).backward()
        return loss

    def _accumulate(self) -> float:
        """Gradients of grad_accum micro-batches; returns their mean loss (over every rank).

        DDP averages the gradients across ranks once, after the last micro-batch. The loss and
        the stop request travel in one all-reduce, so every rank ends at the same step.
        """
        n = self.cfg.grad_accum
        total = None
        for micro in range(n):
            batch = self.data.batch("train", self.batch_gen)  # (B, T), (B, T) for a GPT
            with distributed.no_sync(self.forward, sync=micro == n - 1):
                loss = self._forward_backward(batch).detach()  # ()
            total = loss if total is None else total + loss  # ()
        if not self.dist.enabled:
            return total.item() / n if n > 1 else total.item()  # the one host sync per step
        stop = self.stop is not None and self.stop.is_set()
        mean, stops = distributed.agree(self.dist, [total.item() / n, float(stop)], self.device)
        self._stop_agreed = stops > 0
        return mean

    def _stop_requested(self) -> bool:
        if self.dist.enabled:
            return self._stop_agreed  # what every rank heard after the last step
        return self.stop is not None and self.stop.is_set()

    def _loop(self) -> Iterator[Event]:
        cfg, run = self.cfg, self._run
        opt = self.optimizer
        params = [p for g in opt.param_groups for p in g["params"]]
        # Tokens one optimizer step learns from: every micro-batch of every rank.
        tokens_per_step = self.data.tokens_per_batch * cfg.grad_accum * self.dist.world_size
        tps = 0.0
        pause = self.pause
        self._stop_agreed = False
        if self._nan:
            yield self._finish("nan", self._nan_message(), "failed")
            return
        while self.step < cfg.iters:
            if self._stop_requested():
                if self._last_saved != self.step:
                    yield Checkpointed(self.step, self._checkpoint())
                yield self._finish("stopped", f"Stopped at step {self.step} of {cfg.iters}; "
                                   "resume to continue.", "stopped")
                return
            if pause is not None and pause.is_set():
                self._wait_while_paused()
                continue

            t0 = time.perf_counter()
            lr = lr_at(cfg, self.step)
            for group in opt.param_groups:
                group["lr"] = lr
            loss_value = self._accumulate()
            while self.notes:  # torch.compile gave up during this step
                yield Note(self.step, self.notes.pop(0))
            if not math.isfinite(loss_value):
                self.step += 1
                yield self._finish("nan", self._nan_message(), "failed")  # bad weights never saved
                return
            self.scaler.unscale_(opt)  # fp16: clip the true gradients, not the scaled ones
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            self.scaler.step(opt)  # fp16: skipped when a gradient overflowed
            self.scaler.update()
            opt.zero_grad(set_to_none=True)
            self.step += 1
            dt = time.perf_counter() - t0

            inst = tokens_per_step / max(dt, 1e-9)
            if self._tps_fresh:  # the first step after (re)start or pause pays warm-up costs
                tps, self._tps_fresh, self._tps_n = inst, False, 0
            else:
                self._tps_n += 1
                tps = inst if self._tps_n == 1 else 0.9 * tps + 0.1 * inst
            run.append_metrics({"kind": "step", "it": self.step, "loss": loss_value, "lr": lr,
                                "tokens_per_s": tps, "time": self._elapsed()})
            yield Step(self.step, loss_value, lr, tps)

            if self.step % cfg.eval_interval == 0 or self.step == cfg.iters:
                yield from self._eval_and_save()
                if self._nan:
                    yield self._finish("nan", self._nan_message(), "failed")
                    return
                self._tps_fresh = True
            if cfg.sample_interval and cfg.sample_tokens and self.step % cfg.sample_interval == 0:
                yield Sample(self.step, self._sample_or_note())
        yield self._finish("done", f"Finished {cfg.iters} steps; best validation loss "
                           f"{self.best_val_loss:.4f}." if self.best_val_loss is not None else
                           f"Finished {cfg.iters} steps.", "finished")


def _weights(model: torch.nn.Module) -> dict:
    return getattr(model, "_orig_mod", model).state_dict()  # torch.compile wraps the model


def train_run(run: Run, corpus=None, **kwargs) -> list[Event]:
    """Run a whole training and return its events (scripts and tests)."""
    return list(Trainer(run, corpus, **kwargs).run())
