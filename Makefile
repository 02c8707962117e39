# Two commands a new user needs (see README): `make bench` and `make test`.
PY := .venv/bin/python
export HF_HUB_OFFLINE ?= 1

.PHONY: setup bench bench-peers bench-smoke test test-slow test-gate lint clean

setup:
	bash scripts/setup.sh

# The downstream verdict on 2 CPU cores (issue #16): builds grammar/cpu, trains X-Codec and its acoustic-only
# twin on it, trains the same TTS LMs over each codec's tokens, scores TTS and resynthesis, writes the leaderboard.
# `bench run` runs each cell of a matrix in its own process (bench/commands/run.py says why); eval-codec's WER
# probe hears with the tts preset's ASR (tasks/configs/tts.cpu.yaml: metrics).
bench: setup
	.venv/bin/bench run --codec xcodec,xcodec-acoustic --task tts --preset cpu
	.venv/bin/bench eval-codec xcodec xcodec-acoustic --preset cpu --recipe grammar --limit 40 --asr faster-whisper-base
	.venv/bin/bench report

# After `make bench`: the trained-here EnCodec, DAC and SpeechTokenizer at the cpu codec budget, and the cpu tts
# over each one whose level-1 perplexity is healthy (>= 32); the leaderboard says which got no LM and why.
bench-peers: setup
	.venv/bin/python scripts/run_peers.py --preset cpu

# The CI-sized check of the whole chain (smoke speech data, the smoke X-Codec, the smoke TTS run).
bench-smoke: setup
	.venv/bin/bench run --codec xcodec --task tts --preset smoke
	.venv/bin/bench report

test: setup
	$(PY) -m pytest -q -x
	$(PY) -m ruff check .
	$(PY) -m mypy

test-slow: setup
	$(PY) -m pytest -q -m slow

# The regression gate alone on the values the CI-sized chain computes here (results/gate/ci.json, issue #18;
# test-slow and .ci/run run it too, on the same chain)
test-gate: setup
	$(PY) -m pytest -q -m gate

lint:
	$(PY) -m ruff check .
	$(PY) -m mypy
