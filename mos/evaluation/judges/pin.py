"""What identifies a judge's model: its weight files' SHA-256 and, for a hub repository, its revision.

    python -m mos judge pin resources/checkpoints/smollm2-135m-instruct     # print the pin to put in a config
    pin = resolve_model("resources/checkpoints/smollm2-135m-instruct", sha256="a672150f...")
    pin.folder; pin.record()   # {"model": ..., "revision": None, "sha256": {"model.safetensors": "a672150f..."}}

A judge that outlives its model must say exactly which weights it is. `resolve_model` takes the
config's `model` (a local folder, or a hub repository read from the local Hugging Face cache with
`huggingface_hub.snapshot_download`, so offline nodes work once it is fetched) with a `revision`
(hub: a branch, tag or commit; the resolved commit is what is recorded) and/or `sha256` (of the
weight files, `*.safetensors`: one hex digest when the model has one weight file, else a mapping
file name -> digest). A weight file whose digest is not the pinned one is an error naming the key
and both digests. The resolved pin (the commit where known, and every weight file's digest) goes
into every judgment's cache key and record, so a judge with other weights judges afresh.

For a served model (`kind: http`), `served_pin` reads what the server says about the model in
`GET /models` (a `revision`, `sha256` or `digest` field, where the server exposes one) and
`merge_pins` checks it against the config's pin.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WEIGHT_GLOB = "*.safetensors"  # the suite loads safetensors only (mos.models.backbones.load_model)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
PIN_KEYS = ("revision", "sha256")


class PinError(ValueError):
    """The judge's model is not the pinned one, or the pin itself is malformed."""


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def weight_hashes(folder: str | Path) -> dict[str, str]:
    """SHA-256 of every weight file of a model folder, by file name."""
    folder = Path(folder)
    files = sorted(folder.glob(WEIGHT_GLOB))
    if not files:
        raise PinError(f"{folder}: no weight files ({WEIGHT_GLOB}) to pin")
    return {f.name: sha256_file(f) for f in files}


@dataclass(frozen=True)
class ModelPin:
    """A resolved model: where it is loaded from, its revision (hub commit, else None), its weights."""

    model: str
    folder: str
    revision: str | None
    sha256: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What is recorded with every judgment (and part of its cache key, less `model`)."""
        return {"model": self.model, "revision": self.revision, "sha256": dict(self.sha256)}

    def key(self) -> dict[str, Any]:
        """The part of the cache key: the weights and the commit, not where the folder lies."""
        return {"revision": self.revision, "sha256": dict(self.sha256)}


def check_sha256(pinned: str | Mapping[str, str] | None, actual: Mapping[str, str], model: str,
                 key: str = "eval.judge.sha256") -> None:
    """Raise `PinError` naming the key and both digests unless `actual` matches the pin."""
    if pinned is None:
        return
    if isinstance(pinned, str):
        if len(actual) != 1:
            raise PinError(f"{key}: {model} has {len(actual)} weight files; pin each by name: "
                           + ", ".join(f"{n}: {h}" for n, h in actual.items()))
        pinned = {next(iter(actual)): pinned}
    if not isinstance(pinned, Mapping):
        raise PinError(f"{key}: expected a SHA-256 hex digest or a mapping file name -> digest, got {pinned!r}")
    for name, digest in pinned.items():
        if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
            raise PinError(f"{key}: {name}: expected a 64-digit SHA-256 hex digest, got {digest!r}")
    missing, extra = sorted(set(pinned) - set(actual)), sorted(set(actual) - set(pinned))
    if missing or extra:
        raise PinError(f"{key}: {model}'s weight files are {', '.join(sorted(actual))}; the pin names "
                       f"{', '.join(sorted(pinned))}" + (f" (missing: {', '.join(missing)})" if missing else "")
                       + (f" (not pinned: {', '.join(extra)})" if extra else ""))
    for name, digest in pinned.items():
        if digest.lower() != actual[name]:
            raise PinError(f"{key}: {model}/{name} has SHA-256 {actual[name]}, the config pins {digest.lower()}")


def hub_snapshot(repo: str, revision: str | None) -> Path:
    """The local snapshot folder of a hub repository at `revision` (fetched once, then read from
    the cache; offline it must be there already)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=repo, revision=revision,
                                      allow_patterns=["*.json", "*.jinja", "*.txt", "*.model", WEIGHT_GLOB]))
    except Exception as e:  # noqa: BLE001 - offline, unknown repo, unknown revision: the same advice
        raise PinError(f"eval.judge.model: {repo!r} is neither a local folder nor a hub repository available "
                       f"here at revision {revision or 'main'} ({type(e).__name__}: {e}); fetch it where "
                       "the hub is reachable (it is then read from the Hugging Face cache)") from None


def resolve_model(model: str, revision: str | None = None,
                  sha256: str | Mapping[str, str] | None = None) -> ModelPin:
    """The folder to load `model` from and its pin, checked against the config's (see the module docstring)."""
    path = Path(model)
    if path.is_dir():
        folder = path
        # a folder inside a Hugging Face cache (.../snapshots/<commit>) knows its commit
        resolved = path.name if path.parent.name == "snapshots" and _COMMIT.match(path.name) else None
        if revision is not None and resolved is None:
            raise PinError(f"eval.judge.revision: {model} is a local folder, whose revision cannot be checked; "
                           "pin a folder by eval.judge.sha256 (python -m mos judge pin <folder> prints it)")
    elif model.startswith(("/", ".", "~")) or model.count("/") > 1 or path.exists():
        raise PinError(f"eval.judge.model: {model}: no such model folder (nor a hub repository name)")
    else:
        folder = hub_snapshot(model, revision)
        resolved = folder.name if _COMMIT.match(folder.name) else None
    if revision is not None and _COMMIT.match(revision.lower()) and resolved != revision.lower():
        raise PinError(f"eval.judge.revision: {model} resolves to commit {resolved}, the config pins {revision}")
    hashes = weight_hashes(folder)
    check_sha256(sha256, hashes, model)
    return ModelPin(str(model), str(folder), resolved, hashes)


# ---------------------------------------------------------------- served models (kind: http)

SERVED_KEYS = {"revision": "revision", "sha256": "sha256", "digest": "sha256"}


def served_pin(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """The revision / hash a server reports for its model (`GET /models` entry; also its `meta`)."""
    if not entry:
        return {}
    out: dict[str, Any] = {}
    for source in (entry, entry.get("meta") if isinstance(entry.get("meta"), Mapping) else {}):
        for name, key in SERVED_KEYS.items():
            value = source.get(name)
            if isinstance(value, str) and value and key not in out:
                out[key] = value.removeprefix("sha256:").lower() if key == "sha256" else value
    return out


def merge_pins(config: Mapping[str, Any], served: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The pin of a served judge: the config's (`revision`, `sha256`), checked against what the server
    reports where it reports one, else the server's. A per-file sha256 mapping in the config cannot be
    compared with a server's single digest and is kept as it is."""
    pin: dict[str, Any] = {}
    for key in PIN_KEYS:
        mine, theirs = config.get(key), served.get(key)
        if isinstance(mine, str) and key == "sha256":
            mine = mine.lower()
        if isinstance(mine, str) and theirs is not None and mine != str(theirs):
            raise PinError(f"eval.judge.{key}: {where} reports {theirs}, the config pins {mine}")
        value = mine if mine is not None else theirs
        if value is not None:
            pin[key] = dict(value) if isinstance(value, Mapping) else value
    return pin
