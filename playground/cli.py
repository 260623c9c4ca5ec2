"""Command line: `playground` opens the window; subcommands drive the same core without Qt.

Errors a user can fix print as at most three lines on stderr (message, hint) and exit 2;
argparse usage errors follow the same rule. Nothing here prints a traceback. Ctrl+C ends a
command with 130, the exit code of an interrupted program, however often it is pressed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence

from playground import __version__
from playground.errors import CheckpointError, PlaygroundError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a program stopped by Ctrl+C


class _Parser(argparse.ArgumentParser):
    """argparse with our error format: one message line, one hint line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _print_error(message, f"run '{self.prog} --help' to see the options")
        raise SystemExit(EXIT_USAGE)


def _print_error(message: str, hint: str | None = None) -> None:
    lines = [f"error: {' '.join(message.split())}"]
    if hint:
        lines.append(f"hint: {' '.join(hint.split())}")
    sys.stderr.write("\n".join(lines[:3]) + "\n")


# ----------------------------------------------------------------------------- parser


def _add_model_args(p: argparse.ArgumentParser, *, with_preset: bool = True) -> None:
    from playground.core.config import POSITIONALS  # torch-free

    g = p.add_argument_group("model size (a preset, optionally adjusted)")
    if with_preset:
        g.add_argument("--preset", default=None,
                       help="bigram, tiny, small, medium or gpt2-124m (default: tiny)")
    g.add_argument("--n-layer", type=int, help="number of transformer blocks")
    g.add_argument("--n-head", type=int, help="attention heads per block")
    g.add_argument("--d-model", type=int, help="embedding size (divisible by --n-head)")
    g.add_argument("--context", type=int, help="context length in tokens")
    g.add_argument("--dropout", type=float, help="dropout probability (0 to 0.9)")
    g.add_argument("--positional", choices=list(POSITIONALS),
                   help="position encoding; none = order-blind (no position vectors at all)")
    g.add_argument("--activation", choices=["gelu", "relu"], help="MLP activation")


def build_parser() -> argparse.ArgumentParser:
    from playground.bench import measure  # torch-free: its options are declared there

    p = _Parser(prog="playground",
                description="LLM Playground: train a small GPT on your own text and look inside it. "
                            "With no command, the desktop app opens.")
    p.add_argument("--version", action="version", version=f"LLM Playground {__version__}")
    p.add_argument("--smoke", action="store_true",
                   help="start-up check: open every tab, train a Tiny model a few steps, look at it in "
                        "Attention and Generate; exit 0, or 1 on any error (about a minute)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("corpora", help="list the built-in corpora")
    c.set_defaults(func=cmd_corpora)

    d = sub.add_parser("download", help="download Tiny Shakespeare (cached after the first time)")
    d.add_argument("what", choices=["tiny-shakespeare"])
    d.add_argument("--url", help="download from this address instead of the usual one")
    d.set_defaults(func=cmd_download)

    t = sub.add_parser("train", help="train a model (a new run, or --resume one)",
                       epilog=_training_defaults_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--corpus", help="a text file or folder, builtin:NAME, or download:tiny-shakespeare")
    t.add_argument("--tokenizer", default="char", choices=["char", "word", "bpe", "cl100k", "gpt2"])
    t.add_argument("--arch", default="gpt", choices=["gpt", "encoder-decoder"],
                   help="gpt (decoder only, default) or encoder-decoder (translates the sentence pairs of "
                        "e.g. builtin:robot-language)")
    t.add_argument("--vocab-size", type=int, help="vocabulary size for bpe (and the cap for word)")
    _add_model_args(t)
    t.add_argument("--iters", type=int, help="training steps (default: by model size, below; "
                   "with --resume: the new total)")
    t.add_argument("--batch", type=int, help="sequences per step (default: by model size)")
    t.add_argument("--lr", type=float, help="peak learning rate (default: by model size)")
    t.add_argument("--warmup", type=int, help="warm-up steps (default: by model size)")
    t.add_argument("--eval-interval", type=int, help="evaluate and checkpoint every N steps (default: by model size)")
    t.add_argument("--seed", type=int, help="random seed (default 1337)")
    t.add_argument("--split", type=float, help="fraction of the text used for training (default 0.9)")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--compile", action="store_true", help="use torch.compile when it works")
    t.add_argument("--grad-accum", type=int, metavar="N",
                   help="add up N batches' gradients per step: an effective batch of --batch × N "
                        "(× the processes under torchrun) in the memory of one batch (default 1)")
    t.add_argument("--name", help="name of the run (default: corpus-size-date)")
    again = t.add_mutually_exclusive_group()
    again.add_argument("--resume", metavar="RUN", help="continue a stopped run (name, path or 'latest')")
    again.add_argument("--restart", metavar="RUN",
                       help="start a run again from step 0 with its own settings and text (e.g. one that "
                            "stopped before its first checkpoint); refused when it has trained steps saved, "
                            "unless --force")
    t.add_argument("--force", action="store_true",
                   help="with --restart: throw away the run's saved steps and start it again; for a new "
                        "run: train a model this machine is too slow for (GPT-2 124M on a CPU)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="write text with a trained run, token by token")
    g.add_argument("--run", default="latest", help="run name, path, or 'latest' (default)")
    g.add_argument("--prompt", default="", help="text to start from")
    g.add_argument("--tokens", type=int, default=200, help="new tokens to write (default 200)")
    g.add_argument("--temperature", type=float, default=1.0, help="below 1 safer, above 1 wilder")
    g.add_argument("--top-k", type=int, help="sample only among the K most likely tokens")
    g.add_argument("--top-p", type=float, help="sample among the most likely tokens that cover P")
    g.add_argument("--greedy", action="store_true", help="always take the most likely token")
    g.add_argument("--seed", type=int, help="random seed for repeatable output")
    g.add_argument("--stop", help="stop when this text appears")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    g.set_defaults(func=cmd_generate)

    ps = sub.add_parser("positions", help="why positions matter: small models with learned, sinusoidal "
                                          "and no positions, and a shuffled sentence")
    ps.add_argument("--corpus", default="builtin:grammar-lessons",
                    help="a text file or folder, builtin:NAME (default builtin:grammar-lessons)")
    ps.add_argument("--iters", type=int, default=300, help="training steps per model (default 300)")
    ps.add_argument("--sentence", help="the sentence to shuffle (default: a line of the validation text)")
    ps.set_defaults(func=cmd_positions)

    ide = sub.add_parser("install-desktop", help="Linux: add LLM Playground (with its icon) to your "
                                                 "applications menu")
    ide.add_argument("--uninstall", action="store_true", help="remove the menu entry and icons again")
    ide.set_defaults(func=_cmd_install_desktop)

    b = sub.add_parser("bench", help="measure speed (prints JSON)")
    bsub = b.add_subparsers(dest="bench", metavar="WHAT", required=True)
    bt = bsub.add_parser("train", help="training speed and final losses")
    bt.add_argument("--corpus", default="builtin:python-docs")
    bt.add_argument("--tokenizer", default="char", choices=["char", "word", "bpe", "cl100k"])
    bt.add_argument("--vocab-size", type=int)
    _add_model_args(bt)
    bt.add_argument("--batch", type=int, default=12)
    bt.add_argument("--iters", type=int, default=200)
    bt.add_argument("--seed", type=int, default=1337)
    bt.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    bt.add_argument("--compile", action="store_true")
    bt.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    bt.set_defaults(func=cmd_bench_train)
    bg = bsub.add_parser("generate", help="generation speed with and without the KV cache")
    _add_model_args(bg, with_preset=True)
    bg.add_argument("--vocab-size", type=int, default=65)
    bg.add_argument("--tokens", type=int, default=255)
    bg.add_argument("--seed", type=int, default=1337)
    bg.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    bg.add_argument("--json", action="store_true")
    bg.set_defaults(func=cmd_bench_generate)
    bs = bsub.add_parser("startup", help="seconds from launch to a visible window")
    bs.add_argument("--runs", type=int, default=3)
    bs.add_argument("--json", action="store_true")
    bs.set_defaults(func=cmd_bench_startup)
    bgt = bsub.add_parser("gui-train", help="Train tab: tokens/s in the app vs `bench train`, GUI lateness (offscreen)")
    bgt.add_argument("--iters", type=int, default=300)
    bgt.add_argument("--preset", default="small", help="model size (default small)")
    bgt.add_argument("--corpus", default="builtin:python-docs")
    bgt.add_argument("--batch", type=int, default=12)
    bgt.add_argument("--eval-interval", type=int, default=100)
    bgt.add_argument("--rounds", type=int, default=2, help="app and command line alternate this many times")
    bgt.add_argument("--no-cli", dest="cli", action="store_false", help="time the app only")
    bgt.add_argument("--json", action="store_true")
    bgt.set_defaults(func=cmd_bench_gui_train)
    ba = bsub.add_parser("attention", help="Attention tab: grid redraw and checkpoint switch (ms)")
    ba.add_argument("--repeats", type=int, default=7, help="measurements per number (median)")
    ba.add_argument("--tokens", type=int, default=64, help="length of the text looked at")
    ba.add_argument("--preset", default="small", help="model preset (default small: 4 layers x 4 heads)")
    ba.add_argument("--json", action="store_true")
    ba.set_defaults(func=cmd_bench_attention)
    bgg = bsub.add_parser("gui-generate", help="Generate tab: ms to the first token shown, tokens/s (offscreen)")
    bgg.add_argument("--runs", type=int, default=5)
    bgg.add_argument("--tokens", type=int, default=200)
    bgg.add_argument("--preset", default="small", help="model size (default small)")
    bgg.add_argument("--train-iters", type=int, default=0,
                     help="train briefly on builtin:python-docs first (default 0: random weights)")
    bgg.add_argument("--json", action="store_true")
    bgg.set_defaults(func=cmd_bench_gui_generate)
    bm = bsub.add_parser("measure", help="Model tab's Measure vs the in-app training that follows (offscreen)")
    measure.add_arguments(bm)  # --preset --corpus --batch --steps --json
    bm.set_defaults(func=cmd_bench_measure)
    btr = bsub.add_parser("translate", help="encoder-decoder on the robot language: exact match and alignment")
    btr.add_argument("--corpus", default="builtin:robot-language")
    btr.add_argument("--tokenizer", default="char", choices=["char", "word", "bpe"])
    _add_model_args(btr)
    btr.add_argument("--iters", type=int, help="training steps (default: by model size)")
    btr.add_argument("--batch", type=int, help="sentences per step (default: by model size)")
    btr.add_argument("--seed", type=int, default=1337)
    btr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    btr.add_argument("--keep", action="store_true", help="keep the trained run in the runs folder")
    btr.add_argument("--run", help="score this run instead of training one")
    btr.add_argument("--sentences", type=int, help="score only the first N validation pairs (default: all)")
    btr.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    btr.set_defaults(func=cmd_bench_translate)
    return p


# ----------------------------------------------------------------------------- helpers


def _progress_bar(total: int | None, desc: str, *, enabled: bool = True, **kw):
    """A tqdm bar on stderr (stdout stays for results). Off a terminal, tqdm's lines are
    throttled to one every few seconds so a redirected log stays short."""
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, dynamic_ncols=tty,
                mininterval=0.1 if tty else 5.0, **kw)


def _say(bar, text: str) -> None:
    """One line above the bar (the bar is redrawn below it); nothing when the bar is off."""
    if not bar.disable:
        bar.write(text, file=sys.stderr)


def _load_corpus(spec: str | None, *, quiet: bool = False):
    from playground.core import corpus as corpus_mod

    if not spec:
        raise PlaygroundError("No corpus given.", "add --corpus builtin:grammar-lessons, a file path, "
                              "or download:tiny-shakespeare; 'playground corpora' lists the built-ins")
    if spec == "download:tiny-shakespeare":
        path = _download_with_bar(None, quiet=quiet)
        return corpus_mod.load_file(path)
    return corpus_mod.load(spec)


def _download_with_bar(url: str | None, *, quiet: bool = False):
    from playground.core import download

    cached = download.cached_tiny_shakespeare()
    if cached is not None:
        return cached
    with _progress_bar(None, "downloading", enabled=not quiet, unit="B", unit_scale=True) as bar:

        def progress(done: int, total: int | None) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        return download.download_tiny_shakespeare(url=url, progress=progress)


def _training_defaults_help() -> str:
    """The Train tab's defaults per preset (one rule, core.config.training_defaults), for --help."""
    from playground.core import config

    lines = ["defaults by model size (the app's Train tab uses the same; for a character tokenizer, 65 tokens):"]
    for name in config.PRESETS:
        values, _why = config.training_defaults(config.preset(name, 65 if name != "gpt2-124m" else 50257))
        lines.append(f"  {name:<10} --iters {values['iters']:<5} --batch {values['batch_size']:<3} "
                     f"--lr {values['lr']:<7g} --warmup {values['warmup']:<4} "
                     f"--eval-interval {values['eval_interval']}")
    lines.append("the learning rate decays to a tenth of --lr by the last step")
    lines.append("")
    lines.append("Ctrl+C stops after the current step and saves a checkpoint (exit code 130); a second "
                 "Ctrl+C stops at once,\nkeeping the last checkpoint. A run whose training never saved "
                 "anything is not kept.")
    return "\n".join(lines)


def model_overrides(args) -> dict:
    """The model fields the train/bench options set (None where not given)."""
    return {"n_layer": args.n_layer, "n_head": args.n_head, "d_model": args.d_model,
            "context_length": args.context, "dropout": args.dropout,
            "positional": args.positional, "activation": args.activation,
            # gpt is the preset's own type (bigram stays a bigram); only encoder-decoder changes it
            "arch": "encoder-decoder" if getattr(args, "arch", None) == "encoder-decoder" else None}


def _model_config(args, vocab_size: int, default_preset: str = "tiny"):
    """A preset with any explicitly given fields replaced."""
    from playground.core import config

    return config.configure(args.preset or default_preset, vocab_size, **model_overrides(args))


class _CtrlC:
    """Ctrl+C during a training: the first press asks the trainer to stop after this step and
    save; a second one aborts at once. Either way the command exits with 130.

    The abort is a KeyboardInterrupt while the training runs, so unwinding removes temporary
    files, marks the run stopped and releases its lock (every checkpoint write is atomic, so
    the last one stays intact). Once the training is over there is nothing left to save and a
    press ends the process at once: a KeyboardInterrupt there could surface in an atexit
    callback or, after Python has reset its handlers, kill the process with -2 instead of 130.
    """

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.presses = 0
        self.training = True

    def install(self) -> None:
        signal.signal(signal.SIGINT, self)

    def __call__(self, signum, frame) -> None:
        self.presses += 1
        if not self.training:
            _exit_now()
        if self.presses == 1:
            self.stop.set()
            sys.stderr.write("\nstopping after this step and saving a checkpoint (Ctrl+C again to abort)\n")
            return
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one abort: further presses change nothing
        raise KeyboardInterrupt

    def training_over(self) -> None:
        self.training = False

    def exit_code(self, code: int) -> int:
        """``code``, or 130 once Ctrl+C was pressed; from here on Ctrl+C is ignored."""
        if not self.presses:
            return code
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return EXIT_INTERRUPTED


def _exit_now() -> None:
    """End the process with 130 without unwinding (nothing is left to save)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.write("\ninterrupted\n")
        sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


# ----------------------------------------------------------------------------- commands


def _cmd_install_desktop(args) -> int:
    from playground import desktop

    return desktop.cmd_install_desktop(args)


def cmd_corpora(args) -> int:
    from playground.core import builtin_corpora, download

    for item in builtin_corpora.list_builtins() + builtin_corpora.list_builtins(pairs=True):
        print(f"builtin:{item.name:<18} {item.title}")
        print(f"    {item.description}")
        if item.look_for:
            print(f"    Look for: {item.look_for}")
    cached = download.cached_tiny_shakespeare()
    state = f"cached at {cached}" if cached else "not downloaded yet: playground download tiny-shakespeare"
    print(f"download:tiny-shakespeare  Tiny Shakespeare (1.1 MB, {state})")
    return 0


def cmd_download(args) -> int:
    path = _download_with_bar(args.url)
    print(path)
    return 0


def cmd_train(args) -> int:
    from playground.core import checkpoint, distributed, run_lock

    if args.force and args.resume:
        raise PlaygroundError("--force goes with --restart or a new run, not with --resume.",
                              "playground train --restart RUN --force")
    if not distributed.from_env().is_main:  # torchrun's other ranks: rank 0 checks, locks, makes the run
        return _follow(args)
    existing = args.resume or args.restart
    if not existing:
        return _train(args, None)
    # One run, one writer: refuse a second trainer at once, before torch or the corpus loads.
    run = checkpoint.Run.open(existing)
    with run_lock.acquire(run.path, run.name):
        if args.resume and not run.has_latest():
            raise CheckpointError(
                f"Run '{run.name}' has no checkpoint to resume from: its training ended before the first save.",
                f"start it again from the beginning: playground train --restart {run.name}")
        if args.restart:
            saved = run.saved_step()
            if saved > 0 and not args.force:
                raise CheckpointError(
                    f"Run '{run.name}' has {saved} trained steps saved; --restart would throw them away.",
                    f"continue it with: playground train --resume {run.name} (or add --force to start "
                    "it again from step 0)")
        return _train(args, run)


def _follow(args) -> int:
    """A torchrun rank other than 0: train the run rank 0 made or opened, quietly."""
    from playground.core import checkpoint, distributed, train

    dist = distributed.init(args.device)
    path = distributed.share_path(dist, None)
    if path is None:  # rank 0 could not make the run and said why
        return EXIT_USAGE
    stop = threading.Event()
    _CtrlC(stop).install()  # Ctrl+C reaches every rank; they agree on the step to stop at
    trainer = train.Trainer(checkpoint.Run(path), stop=stop, resume=bool(args.resume), force=args.force)
    try:
        for _event in trainer.run():
            pass
    except RuntimeError as exc:  # rank 0 left the group (a failed save, an abort): it says why
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise PlaygroundError(f"Rank {dist.rank} stopped: the training group ended ({first}).",
                              "rank 0's message above says why") from None
    return 0


def _train(args, existing) -> int:
    from playground.core import checkpoint, config, devices, distributed, tokenizers, train
    from playground.core import corpus as corpus_mod

    stop = threading.Event()
    dist = distributed.init(args.device)  # under torchrun: rank 0 of the process group
    if existing is not None:
        run = existing
        corpus = corpus_mod.verify_record(run.info["corpus"])  # before a restart wipes anything
        if args.restart:
            run.reset()
        if args.iters is not None:
            run.update(train={**run.info["train"], "iters": args.iters})
        trainer = train.Trainer(run, corpus, stop=stop, resume=bool(args.resume), force=args.force)
    else:
        corpus = _load_corpus(args.corpus, quiet=args.quiet)
        if corpus.note:  # e.g. "not UTF-8: read as latin-1", as the app's Corpus tab says it
            sys.stderr.write(f"note: {corpus.note}\n")
        tok = tokenizers.train_tokenizer(args.tokenizer, corpus, vocab_size=args.vocab_size)  # reads it in chunks
        if getattr(tok, "note", None):  # e.g. a big text's BPE learned from a sample of it
            sys.stderr.write(f"note: {tok.note}\n")
        if getattr(tok, "large_vocab_warning", None) and tok.large_vocab_warning():
            sys.stderr.write(f"note: {tok.large_vocab_warning()}\n")
        cfg = _model_config(args, tok.vocab_size)
        # The size's defaults (as the Train tab's), then what was given; validated before the
        # run folder exists, so a bad number leaves nothing behind.
        tcfg = config.train_config_for(
            cfg, iters=args.iters, batch_size=args.batch, lr=args.lr, warmup=args.warmup,
            eval_interval=args.eval_interval, seed=args.seed, split=args.split, device=args.device,
            compile=args.compile, grad_accum=args.grad_accum)
        devices.check_fits(cfg, tcfg.batch_size)
        devices.check_speed(cfg, tcfg, devices.pick_device(args.device), force=args.force)
        run = checkpoint.Run.create(args.name, cfg, tcfg, corpus.record(tcfg.split), tok)
        trainer = train.Trainer(run, corpus, stop=stop, force=args.force)
    distributed.share_path(dist, str(run.path))  # the other ranks open the same folder
    ctrl_c = _CtrlC(stop)
    ctrl_c.install()
    try:
        finished = _drive(trainer, run, args)
    except BaseException as exc:
        # A run this command made that never saved weights (refused before its first step: a text
        # too small, a model too large...) is removed, so it cannot become `--run latest`.
        kept = existing is not None or not run.discard_unstarted()
        if isinstance(exc, KeyboardInterrupt):
            sys.stderr.write("\ninterrupted" + (f"; the last checkpoint is kept: playground train --resume "
                                                 f"{run.name}\n" if kept and run.has_latest() else "\n"))
            return EXIT_INTERRUPTED
        raise
    finally:
        ctrl_c.training_over()
    if finished is not None and finished.reason not in ("done", "stopped"):
        kept = existing is not None or not run.discard_unstarted()
        raise PlaygroundError(finished.message or f"Training stopped ({finished.reason}).",
                              f"the last good checkpoint is in {run.path}" if kept and run.has_latest()
                              else "nothing was saved, so the run was not kept")
    print(f"{run.name}: stopped at step {finished.it}; resume with: playground train --resume {run.name}"
          if finished and finished.reason == "stopped" else f"run saved: {run.path}")
    return ctrl_c.exit_code(0)


def _drive(trainer, run, args):
    """Show the trainer's events on the progress bar; returns its Finished event (or None)."""
    from playground.core import events

    total = run.train_config.iters
    finished = None
    if trainer.corpus is not None and not run.model_config.is_encoder_decoder:
        _make_token_file(trainer.corpus, run.tokenizer, trainer.stop, quiet=args.quiet)
    # closing(): on Ctrl+C the stream is closed at once, and the trainer marks the run stopped.
    with contextlib.closing(trainer.run()) as stream, contextlib.ExitStack() as stack:
        bar = None
        for ev in stream:
            if bar is None:  # the trainer got past its checks: a refusal before this shows no bar
                bar = stack.enter_context(_progress_bar(total, "training", enabled=not args.quiet, unit="step",
                                                        initial=min(run.step, total) if args.resume else 0))
                _say(bar, f"run {run.name}: {run.path}")
            match ev:
                case events.Step():
                    bar.set_postfix_str(f"loss {ev.loss:.3f}, {ev.tokens_per_s:,.0f} tok/s", refresh=False)
                    bar.update(ev.it - bar.n)
                case events.Eval():
                    _say(bar, f"step {ev.it}: train loss {ev.train_loss:.4f}, validation loss {ev.val_loss:.4f}")
                case events.Checkpointed():
                    _say(bar, f"checkpoint saved at step {ev.it}")
                case events.Note():
                    _say(bar, f"note: {ev.message}")
                case events.Finished():
                    finished = ev
    return finished


def _make_token_file(corpus, tokenizer, stop, *, quiet: bool) -> None:
    """Tokenize the corpus into its cached token file with a progress bar (Ctrl+C cancels it);
    the trainer then finds it made. Nothing to show when the cache has it already."""
    from playground.core import token_cache

    if token_cache.lookup(corpus, tokenizer) is not None:
        return
    # Shown only when it takes a while (delay): a small text's error stays the only lines on stderr.
    with _progress_bar(corpus.chars, "tokenizing", enabled=not quiet, unit="char", unit_scale=True,
                       delay=1.0) as bar:
        token_cache.token_file(corpus, tokenizer, progress=lambda done, _total: bar.update(done - bar.n),
                               cancel=stop)


def cmd_generate(args) -> int:
    from playground.core import checkpoint, config, devices, generate

    run = checkpoint.Run.open(args.run)
    model = run.load_model(device=devices.pick_device(args.device))
    cfg = config.SamplingConfig(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                                  greedy=args.greedy, seed=args.seed, max_new_tokens=args.tokens,
                                  stop_text=args.stop)
    if model.config.is_encoder_decoder:  # the prompt is a source sentence: print its translation
        from playground.core.translate import print_translation

        return print_translation(model, run.tokenizer, args.prompt, cfg, sys.stdout)
    from playground.core.generation_session import long_prompt_note

    try:
        n_prompt = len(run.tokenizer.encode(args.prompt))
    except PlaygroundError:
        n_prompt = 0  # stream_tokens reports an unreadable prompt itself, with a hint
    note = long_prompt_note(n_prompt, model.config.context_length)
    if note:  # the same words as the app's Generate tab
        sys.stderr.write(f"note: {note}\n")
    sys.stdout.write(args.prompt)
    noted = bool(note)
    for step in generate.stream_tokens(model, run.tokenizer, args.prompt, cfg):
        if step.window_reset and not noted:
            noted = True
            sys.stderr.write("\n(note: past the context window, the model now sees only the last half)\n")
        sys.stdout.write(step.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0


# Shape placeholder for `bench train`: the tokenizer trained there sets the real vocabulary size.
_BENCH_VOCAB = 65


def cmd_positions(args) -> int:
    """Three one-layer models (learned, sinusoidal, none) on one corpus; what a shuffle changes."""
    from playground.core import positions_experiment
    from playground.core.tokenizers import train_tokenizer

    if args.iters < 1:
        raise PlaygroundError(f"--iters must be at least 1 (got {args.iters}).")
    corpus = _load_corpus(args.corpus)
    tokenizer = train_tokenizer("char", corpus.text)
    with _progress_bar(None, "training", enabled=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = positions_experiment.compare(corpus.text, tokenizer, args.iters, progress=progress,
                                              sentence=args.sentence)
    print("\n".join(positions_experiment.summary(result)))
    return 0


def cmd_bench_translate(args) -> int:
    from playground.bench import translate

    overrides = {k: v for k, v in model_overrides(args).items() if k != "arch"}
    print(json.dumps(translate.measure(corpus=args.corpus, tokenizer=args.tokenizer, preset=args.preset or "tiny",
                                       overrides=overrides, iters=args.iters, batch=args.batch, seed=args.seed,
                                       device=args.device, keep=args.keep, run=args.run,
                                       sentences=args.sentences)))
    return 0


def cmd_bench_measure(args) -> int:
    from playground.bench import measure

    print(json.dumps(measure.measure(args.preset, args.corpus, args.batch, args.steps)))
    return 0


def cmd_bench_train(args) -> int:
    from playground.bench import speed

    shape = _model_config(args, args.vocab_size or _BENCH_VOCAB, default_preset="small")
    print(json.dumps(speed.bench_train(
        shape, corpus=args.corpus, tokenizer=args.tokenizer, vocab_size=args.vocab_size,
        batch=args.batch, iters=args.iters, seed=args.seed, device=args.device, compile=args.compile)))
    return 0


def cmd_bench_generate(args) -> int:
    from playground.bench import speed

    cfg = _model_config(args, args.vocab_size, default_preset="small")
    print(json.dumps(speed.bench_generate(cfg, tokens=args.tokens, seed=args.seed, device=args.device)))
    return 0


def cmd_bench_startup(args) -> int:
    from playground.bench import startup

    print(json.dumps(startup.measure(args.runs)))
    return 0


def cmd_bench_gui_generate(args) -> int:
    from playground.bench import gui_generate

    print(json.dumps(gui_generate.measure(args.runs, args.tokens, args.preset, args.train_iters)))
    return 0


def cmd_bench_attention(args) -> int:
    from playground.bench import attention

    print(json.dumps(attention.measure(args.repeats, args.tokens, args.preset)))
    return 0


def cmd_bench_gui_train(args) -> int:
    from playground.bench import gui_train

    print(json.dumps(gui_train.measure(args.iters, args.preset, args.corpus, args.batch,
                                       args.eval_interval, rounds=args.rounds, cli=args.cli)))
    return 0


def run_gui(smoke: bool) -> int:
    from playground.gui.app import run_app

    return run_app(sys.argv[:1], smoke=smoke)


# ----------------------------------------------------------------------------- entry points


def _log_unexpected(exc: BaseException) -> str:
    from playground import paths

    path = paths.log_dir() / "cli-error.log"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(traceback.format_exception(exc)))
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            return run_gui(smoke=args.smoke)
        return args.func(args)
    except PlaygroundError as exc:
        _print_error(exc.message, exc.hint)
        return EXIT_USAGE
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second press must not interrupt the goodbye
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `playground generate | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks for users
        _print_error(f"unexpected error: {exc}", f"details were written to {_log_unexpected(exc)}")
        return 1


def main_gui() -> int:
    return main([])
