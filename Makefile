# Two commands a new user needs (see README): `make bench` and `make test`.
PY := .venv/bin/python
export HF_HUB_OFFLINE ?= 1

.PHONY: setup bench test test-slow lint clean

setup:
	bash scripts/setup.sh

# Sets up, builds the smoke speech data, trains the smoke X-Codec and runs the smoke TTS experiment.
bench: setup
	.venv/bin/bench run --codec xcodec --task tts --preset smoke
	.venv/bin/bench report

test: setup
	$(PY) -m pytest -q -x
	$(PY) -m ruff check .

test-slow: setup
	$(PY) -m pytest -q -m slow

lint:
	$(PY) -m ruff check .
