"""`playground bench startup`: seconds from launching a fresh process to a visible window.

Each run starts `python -m playground --smoke` with PLAYGROUND_STARTUP_PROBE set; the app
prints ``window-shown <epoch seconds>`` once its window has been painted (see gui/app.py) and quits.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from playground.bench import scratch_home
from playground.errors import PlaygroundError

PROBE_ENV = "PLAYGROUND_STARTUP_PROBE"


def _one_start(env: dict) -> float:
    launched = time.time()
    out = subprocess.run([sys.executable, "-m", "playground", "--smoke"], env=env, capture_output=True,
                         text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("window-shown "):
            return float(line.split()[1]) - launched
    raise PlaygroundError("The app did not report a visible window.", (out.stderr or out.stdout)[-300:])


def measure(runs: int = 3) -> dict:
    with scratch_home("playground-startup-"):
        env = {**os.environ, PROBE_ENV: "1"}  # the scratch PLAYGROUND_HOME included
        env.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
        times = [_one_start(env) for _ in range(max(1, runs))]
    return {
        "seconds_to_window": round(statistics.median(times), 3),
        "runs": [round(t, 3) for t in times],
        "platform": env["QT_QPA_PLATFORM"],
    }
