"""How long the missions' training takes: every setup trained headless at the mission's settings.

The issue's promise: a student finishes all missions in under an hour of training on a 2-core
laptop. Each mission's one-click setups (core/missions.py) are trained here as the Train tab
trains them (the same Trainer, settings and seed), in a scratch PLAYGROUND_HOME; a run that
several missions share (the Tiny model on Grammar lessons) is trained once, by the first mission
that asks for it, as the lessons panel offers "Use your run" afterwards. Mission 1 trains a BPE
tokenizer; mission 5 adds "Compare positions…" (three one-layer models, the dialog's default
steps). Prints one line per mission and the total; ``--json`` prints them as JSON.

    python benchmarks/missions_time.py                 # all of it (~20-30 min on 2 cores)
    python benchmarks/missions_time.py --scale 0.05    # 5% of the steps: a quick look (x20 = estimate)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.bench import scratch_home  # noqa: E402
from playground.core import missions as ms  # noqa: E402


def train_setup(setup: ms.Setup, scale: float) -> tuple[float, int, float | None]:
    """(seconds, steps, best validation loss) of one setup trained headless."""
    from playground.core.checkpoint import Run
    from playground.core.config import train_config_for
    from playground.core.corpus import load as load_spec
    from playground.core.tokenizers import train_tokenizer
    from playground.core.train import Trainer

    corpus = load_spec(ms.prepare_corpus(setup))
    options = {"vocab_size": setup.vocab_size} if setup.vocab_size else {}
    tok = train_tokenizer(setup.tokenizer, corpus.text, **options)
    cfg = setup.model_config(tok.vocab_size)
    values = setup.train_values(tok.vocab_size)
    values["iters"] = max(2, round(values["iters"] * scale))
    values["eval_interval"] = max(1, min(values["eval_interval"], values["iters"]))
    tcfg = train_config_for(cfg, **values, seed=1337, split=0.9, device="cpu")  # a laptop: no GPU
    run = Run.create(setup.run_name, cfg, tcfg, corpus.record(tcfg.split), tok)
    start = time.perf_counter()
    for _event in Trainer(run, corpus).run():
        pass
    seconds = time.perf_counter() - start
    return seconds, tcfg.iters, Run(run.path).info.get("best_val_loss")


def bpe_seconds(setup: ms.Setup) -> float:
    from playground.core.corpus import load as load_spec
    from playground.core.tokenizers import train_tokenizer

    text = load_spec(setup.corpus).text
    start = time.perf_counter()
    train_tokenizer("bpe", text, vocab_size=setup.vocab_size)
    return time.perf_counter() - start


def positions_seconds(scale: float) -> float:
    from playground.core import positions_experiment
    from playground.core.corpus import load as load_spec
    from playground.core.tokenizers import train_tokenizer
    from playground.gui.positions_dialog import DEFAULT_ITERS, MAX_CHARS

    text = load_spec(ms.GRAMMAR).text[:MAX_CHARS]
    tok = train_tokenizer("char", text)
    start = time.perf_counter()
    positions_experiment.compare(text, tok, iters=max(10, round(DEFAULT_ITERS * scale)))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of each setup's steps (quick look)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rows, trained = [], set()
    with scratch_home("missions-time-"):
        for mission in ms.MISSIONS:
            seconds, parts = 0.0, []
            for setup in mission.setups:
                if setup.preset is None:
                    s = bpe_seconds(setup)
                    parts.append(f"BPE {setup.vocab_size}: {s:.1f} s")
                elif setup.run_name in trained:
                    parts.append(f"{setup.run_name}: trained before (mission uses it again)")
                    continue
                else:
                    s, steps, loss = train_setup(setup, args.scale)
                    trained.add(setup.run_name)
                    parts.append(f"{setup.run_name}: {steps} steps {s:.1f} s (val {loss:.3f})")
                seconds += s
            if mission.id == "positions":
                s = positions_seconds(args.scale)
                parts.append(f"Compare positions: {s:.1f} s")
                seconds += s
            rows.append({"mission": mission.number, "title": mission.title, "seconds": round(seconds, 1),
                         "parts": parts})
            if not args.json:
                print(f"{mission.number} {mission.title:<24} {seconds:7.1f} s   " + "; ".join(parts), flush=True)
    total = sum(r["seconds"] for r in rows)
    machine = {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "scale": args.scale,
               "load": os.getloadavg() if hasattr(os, "getloadavg") else None}
    if args.json:
        print(json.dumps({"missions": rows, "total_seconds": round(total, 1), "machine": machine}))
    else:
        print(f"Total training: {total:.0f} s ({total / 60:.1f} min) · {machine}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
