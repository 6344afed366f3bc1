# Build, run and test the Mixture-of-Skills replication suite on a CPU machine.
#
#     make install    # .venv: CPU torch first, then this package with its test extras
#     make run        # the whole pipeline on config/config.yaml, offline (= snakemake --cores all)
#     make headroom   # the headroom experiment, config/headroom.yaml (the best static mixture, the mixing
#                     # laws, mSFT, the field's methods' regret; ~1.5 hours on 2 cores)
#     make headroom-small  # the same question on a testbed five times smaller at the same budget, where
#                     # the data repeat (config/headroom_small.yaml, under an hour on 2 cores)
#     make test       # the fast tests, offline (slow and GPU tests deselected), one pytest-xdist worker per
#                     # core, each test file in one worker (its module fixtures built once)
#     make test-slow  # the slow tests: whole pipeline, lm-eval CLI, a real local SLURM cluster
#                     # (installs the `slurm` extra; the SLURM test needs root and Debian's packages)
#     make tables     # every table and figure of the committed snapshot again, from its summaries alone
#     make snapshot   # publish a finished results/default as the committed snapshots/default
#                     # (EXP=headroom: results/headroom as snapshots/headroom; EXP=headroom_small)
#     make lint       # ruff
#     make gpu-check  # on a machine with one CUDA GPU: scripts/gpu_check.py -> $(OUT), by default
#                     # results/benchmarks/gpu_check.json (`make gpu-check OUT=/tmp/gpu_check.json`)
#     make gpu-wheels # here, with the package index: DeepSpeed's sdist and its small dependencies for the
#                     # GPU machine, in .gpu-wheels/ (~14 MB; `make gpu-check` installs them into .deepspeed/)
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

GPU_PYTHON ?= python3
GPU_WHEELS := .gpu-wheels
OUT ?= results/benchmarks/gpu_check.json
# what `make gpu-wheels` downloads, installed by name so that pip picks each wheel for this Python
DS_PACKAGES := deepspeed hjson einops py-cpuinfo msgpack ninja pydantic pydantic-core annotated-types \
	typing-extensions typing-inspection

EXP ?= default

.PHONY: install run headroom headroom-small test test-slow tables snapshot lint gpu-check gpu-wheels

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(TORCH_SPEC)
	$(VENV)/bin/pip install -e ".[test]"
	touch $@

run: install
	$(OFFLINE) $(VENV)/bin/snakemake --cores all

headroom: install
	$(OFFLINE) $(VENV)/bin/snakemake --cores all --configfile config/headroom.yaml

headroom-small: install
	$(OFFLINE) $(VENV)/bin/snakemake --cores all --configfile config/headroom_small.yaml

test: install
	$(OFFLINE) $(VENV)/bin/pytest -m "not slow and not gpu" -n auto --dist loadfile

$(SLURM_STAMP): $(STAMP)
	$(VENV)/bin/pip install -e ".[test,slurm]"
	touch $@

test-slow: $(SLURM_STAMP)
	$(OFFLINE) $(VENV)/bin/pytest -m "slow and not gpu"

tables: install
	$(VENV)/bin/python -m analysis snapshots/$(EXP)

snapshot: install
	$(VENV)/bin/python -m mos snapshot results/$(EXP) snapshots/$(EXP)

lint: install
	$(VENV)/bin/ruff check .

# The GPU machine has its own torch/transformers/accelerate; nothing here installs them. DeepSpeed's
# sdist installs without compiling (DS_BUILD_OPS=0) into .deepspeed/, beside the machine's packages and
# without the index; without it the check records its ZeRO-2 part as failed. msgpack, ninja and
# pydantic-core are compiled: one wheel per Python version.
gpu-wheels:
	$(VENV)/bin/pip download --no-deps --no-binary :all: deepspeed -d $(GPU_WHEELS)
	$(VENV)/bin/pip download --no-deps hjson einops py-cpuinfo -d $(GPU_WHEELS)
	for v in 3.10 3.11 3.12 3.13; do $(VENV)/bin/pip download --only-binary :all: --platform manylinux2014_x86_64 \
	    --python-version $$v msgpack ninja pydantic -d $(GPU_WHEELS); done

gpu-check:
	if [ -d $(GPU_WHEELS) ]; then DS_BUILD_OPS=0 $(GPU_PYTHON) -m pip install -q --no-index --no-deps \
	    --no-build-isolation --find-links $(GPU_WHEELS) --target .deepspeed $(DS_PACKAGES) \
	    || echo "gpu-check: DeepSpeed did not install; the ZeRO-2 part will say why"; fi
	$(OFFLINE) PYTHONPATH=$(CURDIR)/.deepspeed:$(CURDIR) $(GPU_PYTHON) scripts/gpu_check.py --out $(OUT)
