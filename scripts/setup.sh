#!/usr/bin/env bash
# Create (or reuse) the pinned environment, and give this clone its own small ./.venv over it.
# The pinned venv lives outside the clone, keyed on the hash of requirements.lock, so a second setup
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
# The clone's own venv: a small venv in ./.venv that sees the shared pinned packages through a
# .pth file and has this clone (and only this clone) installed editable. Installing the project into
# the shared venv made every clone run the code of whichever clone last ran set-up (issue #18).
# Old layouts: ./.venv as a link to the shared venv, and the project installed into the shared venv.
[ -L .venv ] && rm -f .venv
"$venv/bin/python" -m pip uninstall -q -y codec-bench >/dev/null 2>&1 || true
if [ "${BENCH_NO_LINK:-0}" != 1 ]; then
  base=$("$venv/bin/python" -c 'import sys; print(sys._base_executable)')
  [ -x .venv/bin/python ] || "$base" -m venv --without-pip .venv
  site_own=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  site_shared=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
  # addsitedir (not a bare path) so the shared dir's own .pth files (namespace packages) apply too.
  echo "import site; site.addsitedir('$site_shared')" > "$site_own/_codec_bench_shared.pth"
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >/dev/null
  # Tools that are binaries, not modules; pip installed them into the shared bin.
  for tool in ruff; do [ -e "$venv/bin/$tool" ] && ln -sfn "$venv/bin/$tool" ".venv/bin/$tool"; done
  echo "$venv" > .venv/shared-venv
fi
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
