"""Peak memory of `playground train` against the size of the text it trains on.

For each size a text is generated (made-up sentences from a seeded word list: nothing is copied),
then ``/usr/bin/time -f %M python -m playground train --corpus FILE --tokenizer char --iters 2``
runs in a fresh PLAYGROUND_HOME, so the peak RSS includes loading the text, training the
character tokenizer, writing the token file (the first tokenization) and two training steps.

    python benchmarks/rss_vs_corpus.py --sizes 2 200        # the issue's check: < 400 MB apart
    python benchmarks/rss_vs_corpus.py --sizes 10 100 1000  # the README's table

Prints one JSON object: per size in MB, the peak RSS in MB and the wall time in seconds.
Runs niced; the texts live in a temporary folder removed at the end (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
_WORDS = ("the a an one every some of to in on at with from under over after before and or but "
          "cat dog river garden king queen sailor ship storm road city winter summer light letter "
          "walks sees finds keeps writes carries follows remembers builds opens closes loves "
          "quiet old bright small green distant happy heavy slow early late strange golden").split()


def make_text(path: Path, megabytes: float, seed: int = 0) -> int:
    """Write about ``megabytes`` MB of sentences to ``path`` in 4 MB blocks; returns the bytes."""
    rng = random.Random(seed)
    pool = []
    for _ in range(5000):  # distinct lines, drawn again at random for every block
        words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 14))]
        pool.append(" ".join(words).capitalize() + rng.choice(".!?;"))
    target, written = int(megabytes * 1e6), 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        while written < target:
            block = "\n".join(rng.choices(pool, k=60_000)) + "\n"  # ~4 MB
            block = block[: target - written]
            out.write(block)
            written += len(block)
    return written


def peak_rss_mb(corpus: Path, home: Path, iters: int) -> tuple[float, float]:
    cmd = ["nice", "-n", "10", "/usr/bin/time", "-f", "%M", sys.executable, "-m", "playground", "train",
           "--corpus", str(corpus), "--tokenizer", "char", "--iters", str(iters), "--quiet"]
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONPATH": str(HERE)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=HERE, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"playground train failed ({done.returncode}):\n{done.stderr[-2000:]}")
    kb = int(done.stderr.strip().splitlines()[-1])  # time's %M: the peak RSS in kilobytes
    return kb / 1024, wall


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[2, 200], help="text sizes in MB")
    p.add_argument("--iters", type=int, default=2)
    p.add_argument("--dir", help="where to put the texts (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the texts and homes")
    args = p.parse_args()
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="pg-rss-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for mb in args.sizes:
            text = work / f"text-{mb:g}MB.txt"
            make_text(text, mb)
            rss, wall = peak_rss_mb(text, work / f"home-{mb:g}", args.iters)
            results[f"{mb:g}"] = {"peak_rss_mb": round(rss, 1), "seconds": round(wall, 1)}
            print(f"{mb:g} MB: peak RSS {rss:.0f} MB, {wall:.0f} s", file=sys.stderr)
            if not args.keep:
                text.unlink()
                shutil.rmtree(work / f"home-{mb:g}", ignore_errors=True)
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"tokenizer": "char", "iters": args.iters, "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
