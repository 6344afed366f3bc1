"""Provenance stamped into every result: package versions, git commit, hardware, time.

    python -m mos provenance      # print what would be recorded
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "lm_eval", "datasets", "numpy",
            "pandas", "snakemake", "alpaca_eval", "mos-replication")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root: str | os.PathLike | None = None) -> str:
    """The current commit, with '-dirty' when tracked files differ; 'unknown' outside a checkout."""
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16",
             "amx_tile", "asimd", "sve", "sve2")  # the instruction sets that change float results

# Environment variables that change which float kernels run, hence the bits of every result.
ARITHMETIC_ENV = ("MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")

def cpu_model() -> tuple[str, list[str]]:
    """The CPU's model name and which of ISA_FLAGS it has (from /proc/cpuinfo; empty elsewhere)."""
    name, flags = platform.processor() or "unknown", set()
    for line in _cpuinfo_lines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "CPU part") and name in ("unknown", "", platform.machine()):
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return name, [f for f in ISA_FLAGS if f in flags]


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return []


def cpu_identity() -> str:
    """Vendor and family/model/stepping of the first CPU ('AuthenticAMD 25/1/1'): two CPUs with the same
    marketing name (a cloud's 'AMD EPYC') can still differ in microarchitecture, and MKL picks kernels by
    vendor. Empty where /proc/cpuinfo has no such fields."""
    wanted = {"vendor_id": "", "cpu family": "", "model": "", "stepping": ""}
    for line in _cpuinfo_lines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in wanted and not wanted[key]:
            wanted[key] = value.strip()
        if not line.strip() and wanted["vendor_id"]:
            break
    if not wanted["vendor_id"]:
        return ""
    return f"{wanted['vendor_id']} {wanted['cpu family']}/{wanted['model']}/{wanted['stepping']}"


def arithmetic_env() -> dict[str, str]:
    """The arithmetic-changing environment variables that are set (ARITHMETIC_ENV)."""
    return {k: os.environ[k] for k in ARITHMETIC_ENV if os.environ.get(k)}


def machine_fingerprint(info: dict[str, Any]) -> str:
    """One string that decides bit-identity (the only definition of "the same machine" in this project:
    results, tests and tables compare these strings with `same_machine`). It names everything that changes
    the bits of a float result on a CPU: the architecture, the CPU (vendor, family/model/stepping, name and
    vector instruction sets); torch's build and kernel capability; the thread count; the arithmetic
    environment variables (ARITHMETIC_ENV); the GPUs. No setting was found that makes two CPU vendors give the
    same bits (README, "Reproducibility"), so the CPU is always part of it."""
    env = info.get("arithmetic_env", {})
    cpu = [info.get("cpu_identity") or "?", info.get("cpu_model", "?"), "+".join(info.get("cpu_isa", [])) or "-",
           *(f"{k}={v}" for k, v in sorted(env.items()))]
    parts = [info.get("machine", "?"), *cpu, info.get("torch_cpu_capability", "?"),
             f"torch {info.get('torch', '?')} ({str(info.get('torch_git', '?'))[:12]})",
             f"{info.get('torch_threads', '?')} threads", *info.get("gpus", [])]
    return " | ".join(str(p) for p in parts)


def same_machine(a: str | None, b: str | None) -> bool:
    """Whether two recorded fingerprints promise the same bits. Unknown (empty) fingerprints never do."""
    return bool(a) and bool(b) and str(a) == str(b)


def hardware() -> dict[str, Any]:
    """Machine, CPU model and instruction sets, torch's build and threads, GPUs: what decides whether a
    rerun gives the same bits. `fingerprint` joins the parts that do (`machine_fingerprint`: reruns with
    equal fingerprints and commits are bit-identical; otherwise they reproduce in distribution only)."""
    name, isa = cpu_model()
    info: dict[str, Any] = {"machine": platform.machine(), "cpu_model": name, "cpu_identity": cpu_identity(),
                            "cpu_isa": isa, "arithmetic_env": arithmetic_env(), "cpus": os.cpu_count(),
                            "platform": platform.platform()}
    try:
        import torch

        info.update({
            "torch": torch.__version__, "torch_git": torch.version.git_version, "torch_cuda": torch.version.cuda,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
        })
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    info["fingerprint"] = machine_fingerprint(info)
    return info


def vllm_provenance() -> dict[str, Any]:
    """What a generation with vLLM records beside its settings: vLLM's version and whether its
    batch-invariant mode was on (VLLM_BATCH_INVARIANT, on for a non-zero integer, as vLLM reads it).
    Without it a prompt's tokens can depend on which other prompts share its batch."""
    raw = os.environ.get("VLLM_BATCH_INVARIANT")
    try:
        on = int(raw or "0") != 0
    except ValueError:
        on = False
    try:
        version = importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed"
    return {"vllm": version, "VLLM_BATCH_INVARIANT": raw, "batch_invariant": on}


def provenance() -> dict[str, Any]:
    return {
        "versions": package_versions(),
        "git_commit": git_commit(),
        "hardware": hardware(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    """Print this machine's provenance record as JSON (`python -m mos provenance`)."""
    print(json.dumps(provenance(), indent=2))
    return 0


if __name__ == "__main__":
    main()
