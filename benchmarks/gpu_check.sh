#!/usr/bin/env bash
# The GPU figures of the README's "Bigger machines" section, measured with our own trainer:
#
#   1. nanoGPT's Shakespeare-character configuration (config/train_shakespeare_char.py):
#      6 layers, 6 heads, 384 wide, context 256, batch 64, dropout 0.2, lr 1e-3 (cosine to 1e-4),
#      warmup 100, 5,000 steps; prints the training time and the best validation loss
#      (nanoGPT's published figure: about 1.47 after about 3 minutes on one A100). Differences
#      from nanoGPT's run: our validation loss averages 20 batches (nanoGPT's 200), and our
#      layers keep their biases.
#   2. GPT-2 124M's shape (12 layers, 12 heads, 768 wide, context 1024) with gradient accumulation:
#      batch 12 × 40 micro-batches = 480 sequences (491,520 tokens) per step, as nanoGPT's
#      train_gpt2.py on 8 GPUs; prints steps/s and tokens/s.
#
# Runs from a bare checkout, nothing installed: `python3 -m playground …` with torch already there
# (PySide6 and pyqtgraph are not needed: the training path never imports Qt). Prepare on a
# machine with the project's virtual environment, then carry build/gpu_check/ along:
#
#   benchmarks/gpu_check.sh --prepare     # copies the text and the small wheels into build/gpu_check/
#   benchmarks/gpu_check.sh               # on the GPU machine; NPROC=8 uses torchrun with 8 processes
#
# Environment: PYTHON (python3), CORPUS (build/gpu_check/tinyshakespeare.txt), NPROC (1),
# ITERS (5000), GPT2_ITERS (20), GPT2_ACCUM (40), GPT2_TOKENIZER (char: the gpt2 one needs a download),
# COMPILE (1: --compile), FORCE (set: let GPT-2 train on a CPU, to try the script there).
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=build/gpu_check
PYTHON=${PYTHON:-python3}

if [[ ${1:-} == --prepare ]]; then
    mkdir -p "$HERE/site"
    cp ../shared/corpora/tinyshakespeare.txt "$HERE/" 2>/dev/null \
        || .venv/bin/python -m playground download tiny-shakespeare | xargs -I{} cp {} "$HERE/tinyshakespeare.txt"
    site=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    # Pure Python, and the small compiled ones (they must match the GPU machine's Python version).
    for pkg in platformdirs tqdm regex tiktoken tiktoken_ext psutil; do
        cp -r "$site/$pkg" "$HERE/site/" 2>/dev/null || echo "not copied: $pkg"
    done
    du -sh "$HERE"
    exit 0
fi

export PYTHONPATH="$PWD/$HERE/site${PYTHONPATH:+:$PYTHONPATH}"
export PLAYGROUND_HOME=${PLAYGROUND_HOME:-$(mktemp -d)}
CORPUS=${CORPUS:-$HERE/tinyshakespeare.txt}
NPROC=${NPROC:-1}
COMPILE=${COMPILE:-1}
extra=()
[[ $COMPILE == 1 ]] && extra+=(--compile)
if (( NPROC > 1 )); then
    launch=("$PYTHON" -m torch.distributed.run --standalone "--nproc-per-node=$NPROC" -m playground)
else
    launch=("$PYTHON" -m playground)
fi

"$PYTHON" - <<'EOF'
import sys
import torch
for name in ("PySide6", "pyqtgraph"):
    sys.modules[name] = None  # the training path must not need them
import playground.cli, playground.core.train  # noqa: E401,F401
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}")
EOF

report() {  # run name, label: time, best validation loss and speed from the run folder
    "$PYTHON" - "$PLAYGROUND_HOME/data/runs/$1" "$2" <<'EOF'
import csv, json, sys
from pathlib import Path
run, label = Path(sys.argv[1]), sys.argv[2]
info = json.loads((run / "run.json").read_text())
steps = [r for r in csv.DictReader(open(run / "metrics.csv")) if r["kind"] == "step"]
t0, t1 = float(steps[0]["time"]), float(steps[-1]["time"])
per_s = (len(steps) - 1) / (t1 - t0) if len(steps) > 1 else float("nan")
toks = sum(float(r["tokens_per_s"]) for r in steps[len(steps) // 2:]) / max(1, len(steps) - len(steps) // 2)
print(f"{label}: {len(steps)} steps in {t1:.0f} s of training ({per_s:.2f} steps/s, {toks:,.0f} tokens/s), "
      f"best validation loss {info.get('best_val_loss') or float('nan'):.4f} "
      f"[{info.get('device_description')}, {info.get('precision')}, {info.get('processes', 1)} process(es)]")
EOF
}

start=$(date +%s)
"${launch[@]}" train --corpus "$CORPUS" --tokenizer char --preset medium --batch 64 --lr 1e-3 \
    --warmup 100 --iters "${ITERS:-5000}" --eval-interval 250 --name shakespeare-char --quiet "${extra[@]}"
echo "shakespeare-char wall time (start-up and compile included): $(( $(date +%s) - start )) s"
report shakespeare-char "nanoGPT shakespeare-char config"

"${launch[@]}" train --corpus "$CORPUS" --tokenizer "${GPT2_TOKENIZER:-char}" --preset gpt2-124m \
    --batch 12 --grad-accum "${GPT2_ACCUM:-40}" --iters "${GPT2_ITERS:-20}" --eval-interval 1000 \
    --lr 6e-4 --warmup 5 --name gpt2-124m --quiet ${FORCE:+--force} "${extra[@]}"
report gpt2-124m "GPT-2 124M shape, batch 12 x ${GPT2_ACCUM:-40} accumulated"
