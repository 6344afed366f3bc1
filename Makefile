# Build, run and test the Mixture-of-Skills replication suite on a CPU machine.
#
#     make install    # .venv: CPU torch first, then this package with its test extras
#     make run        # the whole pipeline on config/config.yaml, offline (= snakemake --cores all)
#     make test       # the fast tests, offline (slow and GPU tests deselected)
#     make test-slow  # the slow tests: whole pipeline, lm-eval CLI, a real local SLURM cluster
#                     # (installs the `slurm` extra; the SLURM test needs root and Debian's packages)
#     make tables     # every table and figure of the committed snapshot again, from its summaries alone
#     make snapshot   # publish a finished results/default as the committed snapshots/default
#     make lint       # ruff
#
# `make install` is skipped while pyproject.toml is unchanged (stamp file .venv/.installed).
# torch is installed before the package, or pip would resolve a multi-GB CUDA build; pick another
# build with e.g. `make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"`.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
STAMP := $(VENV)/.installed

SLURM_STAMP := $(VENV)/.installed-slurm

.PHONY: install run test test-slow tables snapshot lint

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(TORCH_SPEC)
	$(VENV)/bin/pip install -e ".[test]"
	touch $@

run: install
	$(OFFLINE) $(VENV)/bin/snakemake --cores all

test: install
	$(OFFLINE) $(VENV)/bin/pytest -m "not slow and not gpu"

$(SLURM_STAMP): $(STAMP)
	$(VENV)/bin/pip install -e ".[test,slurm]"
	touch $@

test-slow: $(SLURM_STAMP)
	$(OFFLINE) $(VENV)/bin/pytest -m "slow and not gpu"

tables: install
	$(VENV)/bin/python -m analysis snapshots/default

snapshot: install
	$(VENV)/bin/python -m mos snapshot results/default snapshots/default

lint: install
	$(VENV)/bin/ruff check .
