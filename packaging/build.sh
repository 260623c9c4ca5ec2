#!/usr/bin/env bash
# Build the classroom bundle (dist/llm-playground/, one folder you can zip) from a fresh venv with
# the CPU torch wheel, then start the built app offscreen with --smoke on a fresh PLAYGROUND_HOME:
# every tab built, a Tiny model trained a few steps in the bundle's own child process, Attention
# and Generate opened on it. The script fails when the build or the smoke check fails.
#
#   packaging/build.sh                      # from the repository root (any cwd works)
#
# Settings (environment variables):
#   BUNDLE_VENV   the build venv, recreated each time   (default: build/bundle-venv)
#   DIST_DIR      where the bundle folder goes           (default: dist)
#   WORK_DIR      PyInstaller's intermediate files       (default: build/pyinstaller)
#   TORCH_SPEC    the torch requirement                  (default: torch==2.13.0)
#   TORCH_INDEX   a pip index for torch, e.g. https://download.pytorch.org/whl/cpu on a machine
#                 where plain `pip install torch` would fetch the multi-GB CUDA build
#   PYTHON        the Python that makes the venv         (default: python3)
#   SMOKE_TIMEOUT seconds the smoke check may take       (default: 300)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
venv="${BUNDLE_VENV:-build/bundle-venv}"
dist="${DIST_DIR:-dist}"
work="${WORK_DIR:-build/pyinstaller}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
python="${PYTHON:-python3}"

step() { printf '\n== %s\n' "$*" >&2; }

step "fresh venv in $venv"
"$python" -m venv --clear "$venv"
pip=("$venv/bin/python" -m pip install -q)
if [ -n "${TORCH_INDEX:-}" ]; then
    "${pip[@]}" --index-url "$TORCH_INDEX" "$torch_spec"
else
    "${pip[@]}" "$torch_spec"
fi
"${pip[@]}" pyinstaller
# A regular (not editable) install: the spec reads the package metadata (the version) from it.
"${pip[@]}" "$root"

step "pyinstaller (a few minutes)"
start=$(date +%s)
"$venv/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$dist" --workpath "$work" \
    packaging/playground.spec
built=$(date +%s)
app="$dist/llm-playground/llm-playground"
size=$(du -sh "$dist/llm-playground" | cut -f1)
echo "built $app in $((built - start)) s, $size" >&2

step "version"
"$app" --version

step "smoke check: offscreen, fresh PLAYGROUND_HOME"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
start=$(date +%s)
QT_QPA_PLATFORM=offscreen PLAYGROUND_HOME="$home" timeout "${SMOKE_TIMEOUT:-300}" "$app" --smoke
echo "smoke check passed in $(($(date +%s) - start)) s; the bundle: $dist/llm-playground ($size)" >&2
