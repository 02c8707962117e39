#!/usr/bin/env bash
# Create (or reuse) the pinned environment and link it as ./.venv.
# The venv lives outside the clone, keyed on the hash of requirements.lock, so a second setup
# (or CI on a fresh clone) reuses it in seconds. Override the cache with BENCH_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${BENCH_CACHE:-$HOME/.cache/codec-bench}"
py="${PYTHON:-python3}"
key=$(cat requirements.lock | sha256sum | cut -c1-12)
venv="$cache/venvs/$key"
if [ ! -f "$venv/.complete" ]; then
  echo "[setup] creating pinned venv $venv (cold: ~10 min, ~6.5 GB)"
  rm -rf "$venv"
  mkdir -p "$cache/venvs"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade "pip<27" 2>/dev/null || true
  "$venv/bin/pip" install -q -r requirements.lock
  touch "$venv/.complete"
else
  echo "[setup] reusing pinned venv $venv"
fi
# The project itself, editable, without touching the pinned dependencies.
"$venv/bin/pip" install -q --no-deps --no-build-isolation -e . >/dev/null
[ "${BENCH_NO_LINK:-0}" = 1 ] || ln -sfn "$venv" .venv
# System tools the data recipes use (flite/espeak-ng voices, fluidsynth + GM soundfont for music).
need=()
for bin in espeak-ng flite fluidsynth; do command -v "$bin" >/dev/null || need+=("$bin"); done
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] apt-get install ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "[setup] warning: apt-get failed; recipes needing ${need[*]} will say so"
  else
    echo "[setup] please run: sudo apt-get install ${need[*]}"
  fi
fi
echo "[setup] ready: $("$venv/bin/python" -c 'import torch,sys;print(sys.version.split()[0], "torch", torch.__version__)')"
