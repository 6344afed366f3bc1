"""The claims of the paper an experiment tests, declared in the config before any result is seen
(the `claims:` section; analysis/scorecard.py judges them).

`claim_problems` finds what is wrong with the section (unknown names, keys a claim's kind does not
use, arms the grid never runs) for `mos.pipeline.config.load_config`; `claims_spec` resolves it (every
claim's backbones listed, every arm given per backbone) into what `python -m mos config claims CONFIG`
prints and `python -m mos aggregate --claims` writes to results/<exp>/summary/claims.json, so the
analysis reads the claims from results/ alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mos.common.io import json_safe
from mos.common.naming import did_you_mean
from mos.pipeline.grid import grid_backbones, headroom_fit_path, mixture_datasets, runs
from mos.pipeline.mixtures import build_strategy

CLAIM_KEYS = {"contrast": ("a", "b"), "gain_trend": ("a", "b"), "best_differs": ("arms",),
              "weight_change": ("mixture", "dataset")}


def _arm_on(value: Any, backbone: str) -> list[str | None]:
    """An arm of a claim on one backbone: a mixture, a list of them, or a {backbone: mixture} map."""
    if isinstance(value, Mapping):
        return [value.get(backbone)]
    return list(value) if isinstance(value, list) else [value]


def _claim_arms(claim: Mapping[str, Any], backbone: str) -> list[str | None]:
    """The mixtures a claim needs on one backbone (None where a per-backbone arm leaves the backbone out)."""
    if claim["kind"] == "best_differs":
        return list(claim["arms"])
    if claim["kind"] == "weight_change":
        return [claim["mixture"]]
    return _arm_on(claim["a"], backbone) + _arm_on(claim["b"], backbone)


def _claim_backbones(cfg: Mapping[str, Any], claim: Mapping[str, Any]) -> list[str]:
    """The claim's backbones: as listed, or ("all") every grid backbone on which all its arms were run."""
    if claim.get("backbones", "all") != "all":
        return list(claim["backbones"])
    grid = {(b, m) for b, m, _ in runs(cfg)}
    return [b for b in grid_backbones(cfg) if all((b, m) in grid for m in _claim_arms(claim, b))]


def claim_problems(cfg: Mapping[str, Any]) -> list[str]:
    """What is wrong with the claims section: names, keys per kind, and arms that the grid never runs."""
    section, problems = cfg["claims"], []
    grid = {(b, m) for b, m, _ in runs(cfg)}

    def name(kind: str, value: Any, where: str) -> bool:
        pool = cfg[kind + "s"]
        if value in pool:
            return True
        problems.append(f"{where}: unknown {kind} {value!r}.{did_you_mean(value, pool)} Valid: {', '.join(pool)}")
        return False

    for key in ("baseline", "best_heuristic"):
        value = section[key]
        for backbone, mixture in (value.items() if isinstance(value, Mapping) else [(None, value)]):
            if backbone is not None:
                name("backbone", backbone, f"claims.{key}")
            if mixture is not None:
                name("mixture", mixture, f"claims.{key}" + (f".{backbone}" if backbone else ""))
    shares = section.get("family_alpha") or {}
    if shares and abs(sum(shares.values()) - section["alpha"]) > 1e-9:
        problems.append(f"claims.family_alpha: the shares sum to {sum(shares.values()):g}, not to claims.alpha "
                        f"= {section['alpha']:g}")
    families = dict.fromkeys(c.get("family", "primary") for c in section["list"])
    if shares:
        problems += [f"claims.family_alpha: no share for family {f!r} (claims of family 'check' need none)"
                     for f in families if f not in shares and f != "check"]
    problems += headroom_problems(cfg)
    ids = [c["id"] for c in section["list"]]
    for i, claim in enumerate(section["list"]):
        where, kind = f"claims.list[{i}] ({claim['id']})", claim["kind"]
        if ids.count(claim["id"]) > 1:
            problems.append(f"{where}: id {claim['id']!r} is used more than once")
        needed = CLAIM_KEYS[kind]
        unused = [k for keys in CLAIM_KEYS.values() for k in keys if k in claim and k not in needed]
        problems += [f"{where}: kind {kind} needs key {k!r}" for k in needed if k not in claim]
        problems += [f"{where}: key {k!r} is not used by kind {kind}" for k in dict.fromkeys(unused)]
        if any(k not in claim for k in needed):
            continue
        if kind == "gain_trend" and (isinstance(claim["b"], list) or claim["backbones"] == "all"
                                     or len(claim["backbones"]) < 2):
            problems.append(f"{where}: gain_trend needs one arm b and an ordered list of at least two backbones")
            continue
        arms = [claim.get("mixture")] if kind == "weight_change" else (
            claim.get("arms") or [v for k in ("a", "b") for v in (claim[k].values() if isinstance(claim[k], Mapping)
                                                              else [claim[k]] if isinstance(claim[k], str)
                                                              else claim[k])])
        backbones = [] if claim["backbones"] == "all" else list(claim["backbones"])
        backbones += [b for k in ("a", "b") if isinstance(claim.get(k), Mapping) for b in claim[k]]
        if not all([name("mixture", m, where) for m in arms] + [name("backbone", b, where) for b in backbones]):
            continue
        if kind == "weight_change" and claim["dataset"] not in mixture_datasets(cfg, claim["mixture"]):
            problems.append(f"{where}: mixture {claim['mixture']!r} does not train on dataset {claim['dataset']!r} "
                            f"(it trains on {', '.join(mixture_datasets(cfg, claim['mixture']))})")
        resolved = _claim_backbones(cfg, claim)
        for b in resolved:
            missing = [m for m in _claim_arms(claim, b) if (b, m) not in grid]
            if missing:
                problems.append(f"{where}: the grid has no runs of {', '.join(f'{b} x {m}' for m in missing)}")
        if not resolved:
            problems.append(f"{where}: no backbone of the grid runs every arm of this claim")
        elif kind == "best_differs" and len(resolved) < 2:
            problems.append(f"{where}: best_differs needs at least two backbones, got {resolved}")
    return problems


def headroom_problems(cfg: Mapping[str, Any]) -> list[str]:
    """claims.headroom: the design's and the optimum's mixtures exist and run on its backbone, the design is
    static, and the optimum trains the fit the workflow writes (grid.headroom_fit_path)."""
    spec = cfg["claims"].get("headroom") or {}
    if "optimum" not in spec:  # not declared (the schema fills only its metric's default)
        return []
    missing = [k for k in ("backbone", "design") if k not in spec]
    if missing:
        return [f"claims.headroom: missing key(s) {', '.join(missing)} (with `optimum`, the headroom needs them)"]
    problems, where, backbone = [], "claims.headroom", spec["backbone"]
    grid = {(b, m) for b, m, _ in runs(cfg)}
    for m in [*spec["design"], spec["optimum"]]:
        if m not in cfg["mixtures"]:
            problems.append(f"{where}: unknown mixture {m!r}.{did_you_mean(m, cfg['mixtures'])}")
        elif (backbone, m) not in grid:
            problems.append(f"{where}: the grid has no runs of {backbone} x {m}")
    if problems:
        return problems
    dynamic = [m for m in spec["design"] if build_strategy(cfg, m).is_dynamic]
    if dynamic:
        problems.append(f"{where}.design: {', '.join(dynamic)} move their weights during training; the surface is "
                        "fitted to static mixtures")
    optimum = cfg["mixtures"][spec["optimum"]]
    if optimum["strategy"] != "surface_optimum":
        problems.append(f"{where}.optimum: mixture {spec['optimum']!r} must use strategy surface_optimum")
    elif optimum.get("fit") != headroom_fit_path(cfg):
        problems.append(f"mixtures.{spec['optimum']}.fit: expected {headroom_fit_path(cfg)!r} (where the "
                        f"headroom_fit job writes the optimum), got {optimum.get('fit')!r}")
    if len(spec["design"]) < 11:
        problems.append(f"{where}.design: {len(spec['design'])} mixtures cannot fit the quadratic surface's "
                        "parameters; give at least 11 (e.g. a dirichlet family with replicas)")
    return problems


def claims_spec(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The claims section resolved for summary/claims.json: backbones listed, every arm given per backbone."""
    section, backbones = cfg["claims"], grid_backbones(cfg)
    heuristic = section["best_heuristic"]
    out = {k: v for k, v in section.items() if k != "list"}
    out["best_heuristic"] = {b: heuristic for b in backbones} if isinstance(heuristic, str) else heuristic
    out["list"] = []
    for claim in section["list"]:
        resolved = {k: claim[k] for k in ("id", "text", "kind", "family", "metric", "direction")}
        resolved["backbones"] = _claim_backbones(cfg, claim)
        if claim["kind"] in ("contrast", "gain_trend"):
            resolved["a"] = {b: _arm_on(claim["a"], b)[0] for b in resolved["backbones"]}
            resolved["b"] = {b: _arm_on(claim["b"], b) if claim["kind"] == "contrast" else _arm_on(claim["b"], b)[0]
                             for b in resolved["backbones"]}
        else:
            resolved.update({k: claim[k] for k in CLAIM_KEYS[claim["kind"]]})
        out["list"].append(resolved)
    return json_safe(out)
