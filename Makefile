# `make sweep` and `make test` each install into .venv first (once; again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: install sweep test bench clean

install: $(VENV)/.installed

# mediapipe 0.10.21 is installed without its dependencies: it asks for opencv-contrib-python
# (a GUI build that would overwrite cv2/ of our headless contrib build) and for jax, which
# mp.solutions.pose never imports. Its other requirements are listed in pyproject.toml.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps mediapipe==0.10.21
	$(BIN)/python -c "import cv2, mediapipe; assert cv2.__version__ < '5', cv2.__version__; cv2.HOGDescriptor()"
	touch $@

# The workflow's rules call `vcm`, so the venv's bin/ goes first on PATH.
sweep: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES)

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python experiments/bench_frontend.py

clean:
	rm -rf results/* logs .snakemake data/synthetic
