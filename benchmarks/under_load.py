"""Training in the app with another program busy beside it: this tree against an older commit.

One ``python3 -c 'while True: pass'`` holds a core the whole time. The app's training (the Train
tab and its training child, as `playground bench gui-train` drives it) runs from this tree and
from a checkout of the baseline commit, alternating A B A B, so both meet the same machine.

    git worktree add /tmp/pg-base 0048986
    python benchmarks/under_load.py --baseline /tmp/pg-base --preset tiny --batch 16 --iters 300 --rounds 2

Prints one JSON object: each side's tokens/s per round, their medians and the ratio this / baseline,
both measured as the baseline's benchmark measured (median of single steps).
The baseline's `bench gui-train` also trains headless after the app; only its app figure is read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def app_tokens_per_s(tree: Path, args, new: bool) -> float:
    cmd = [sys.executable, "-m", "playground", "bench", "gui-train", "--preset", args.preset,
           "--batch", str(args.batch), "--iters", str(args.iters), "--corpus", args.corpus, "--json"]
    if new:
        cmd += ["--rounds", "1", "--no-cli"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The baseline measured single steps (1 ms quanta): read this tree's figure measured alike.
    return result["tokens_per_s_gui_single_steps" if new else "tokens_per_s_gui"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, type=Path, help="a checkout of the baseline commit")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--corpus", default="builtin:python-docs")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        this, base = [], []
        for _ in range(args.rounds):
            this.append(app_tokens_per_s(HERE, args, new=True))
            base.append(app_tokens_per_s(args.baseline.resolve(), args, new=False))
    finally:
        busy.kill()
    print(json.dumps({
        "tokens_per_s_this": statistics.median(this), "tokens_per_s_baseline": statistics.median(base),
        "ratio": round(statistics.median(this) / statistics.median(base), 3),
        "rounds_this": this, "rounds_baseline": base,
        "preset": args.preset, "batch": args.batch, "iters": args.iters, "load": "one busy python loop",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
