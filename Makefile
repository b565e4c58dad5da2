# One command to set up and run the X-ray demo (`make demo`), one to set up and run the tests (`make test`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo smoke test test-fast lint browser clean-reports ray-head ray-worker ray-stop

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/python sweeps/xray.py

smoke: setup
	$(BIN)/python sweeps/xray.py --smoke

# A local Ray head for `ray job submit`. A job's `python` is the first on the head's PATH, so the
# virtualenv's bin goes first: without it jobs get the system Python (no pandas, no torch).
# Extra `ray start` flags: make ray-head RAY_HEAD_ARGS="--num-cpus=4 --block"
ray-head: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/ray start --head $(RAY_HEAD_ARGS)

# Another node joins the head (on its machine, from the same checkout): make ray-worker RAY_HEAD=<head-ip>:6379
ray-worker: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/ray start --address=$(RAY_HEAD) $(RAY_WORKER_ARGS)

ray-stop:
	$(BIN)/ray stop

# The dashboard test renders pages in Debian's headless Chromium; install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the dashboard test"; \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "WARNING: could not install chromium; the dashboard browser test will fail"; }

# Everything (what CI runs: bash .ci/run). docs/testing.md: what each tier holds and what it costs.
test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=50 tests

# The fast tier: every module's unit tests and one end-to-end study (the X-ray smoke with one
# trial), without the tests marked `slow` (shell runs, the two-node job, kills, Train runs).
test-fast: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow" tests

lint: setup
	$(BIN)/ruff check .

clean-reports:
	rm -rf reports/xray reports/intake
