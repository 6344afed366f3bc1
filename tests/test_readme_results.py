"""The README's results text against the tables it comes from (issue 9 item 5: hand-written numbers drift).

    .venv/bin/pytest tests/test_readme_results.py

The README shows snapshots/default/tables/headline.md (analysis/headline.py, generated from the
tables) between `<!-- results:begin -->` and `<!-- results:end -->`. Every number in that section must
be the generated one, in order, so editing the README or the tables without the other fails; the
prose around the numbers may be reworded. The headline itself must be what the committed tables give.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis import headline

ROOT = Path(__file__).resolve().parent.parent
HEADLINE = ROOT / "snapshots" / "default" / "tables" / "headline.md"
NUMBER = re.compile(r"[−-]?\d+(?:\.\d+)?(?:e[+−-]?\d+)?")


def numbers(text: str) -> list[str]:
    """Every number of a text, as written (the minus sign normalised)."""
    return [n.replace("−", "-") for n in NUMBER.findall(text)]


def mismatch(readme: str, generated: str, experiment: str = "default") -> str | None:
    """None when the README section has exactly the generated numbers, else where they first differ."""
    ours, theirs = numbers(headline.readme_section(readme, experiment)), numbers(generated)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return f"number {i + 1}: README {a}, generated {b}"
    return None if len(ours) == len(theirs) else f"README has {len(ours)} numbers, the headline {len(theirs)}"


def test_readme_numbers_are_the_generated_ones() -> None:
    problem = mismatch((ROOT / "README.md").read_text(encoding="utf-8"), HEADLINE.read_text(encoding="utf-8"))
    assert problem is None, (f"README results section vs {HEADLINE.relative_to(ROOT)}: {problem}; refresh it with "
                             "`python -m analysis.headline snapshots/default --readme README.md`")


def test_headline_is_what_the_committed_tables_give() -> None:
    assert headline.build(ROOT / "snapshots" / "default") == HEADLINE.read_text(encoding="utf-8")


def test_other_experiments_sections_are_their_snapshots_headlines() -> None:
    """Every other experiment the README shows (`<!-- results headroom:begin -->`) has its snapshot's
    generated headline numbers, and that headline is what its committed tables give."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for experiment in re.findall(r"<!-- results (\S+):begin -->", readme):
        generated = ROOT / "snapshots" / experiment / "tables" / "headline.md"
        assert generated.is_file(), f"README shows {experiment}'s results but {generated} is not committed"
        problem = mismatch(readme, generated.read_text(encoding="utf-8"), experiment)
        assert problem is None, (f"README {experiment} section vs {generated.relative_to(ROOT)}: {problem}; refresh"
                                 f" it with `python -m analysis.headline snapshots/{experiment} --readme README.md`")
        assert headline.build(ROOT / "snapshots" / experiment) == generated.read_text(encoding="utf-8")


def test_an_experiments_section_is_found_by_its_markers() -> None:
    begin, end = headline.markers("headroom")
    readme = f"x\n{headline.BEGIN}\ndefault text\n{headline.END}\n{begin}\nheadroom 1.5\n{end}\n"
    assert headline.readme_section(readme, "headroom") == "headroom 1.5\n"
    assert headline.readme_section(readme) == "default text\n"
    with pytest.raises(ValueError, match="results other:begin"):
        headline.readme_section(readme, "other")


def test_the_check_catches_an_edited_number(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = headline.readme_section(readme)
    first = NUMBER.search(section.split("\n", 3)[-1])  # a number of the table, not of the comment line
    edited = readme.replace(section, section.replace(first.group(0), first.group(0) + "1", 1), 1)
    assert mismatch(edited, HEADLINE.read_text(encoding="utf-8")) is not None
    reworded = readme.replace(section, section.replace("inconclusive", "not resolved"), 1)
    assert mismatch(reworded, HEADLINE.read_text(encoding="utf-8")) is None  # prose may change, numbers not
    with pytest.raises(ValueError, match="no section between"):
        headline.readme_section("no markers here")
    path = tmp_path / "README.md"
    path.write_text(edited, encoding="utf-8")
    headline.update_readme(path, HEADLINE.read_text(encoding="utf-8"))
    assert mismatch(path.read_text(encoding="utf-8"), HEADLINE.read_text(encoding="utf-8")) is None


def test_quick_start_time_and_run_count_are_the_measured_ones() -> None:
    """The Quick start's wall time and number of runs are those of the committed pipeline benchmark,
    which must be a run of the committed snapshot's runs (same count)."""
    import json

    import pandas as pd

    bench = json.loads((ROOT / "results" / "benchmarks" / "pipeline_full.json").read_text(encoding="utf-8"))
    runs = pd.read_csv(ROOT / "snapshots" / "default" / "summary" / "runs.csv")
    assert bench["runs"] == len(runs)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start"):readme.index("## What is in the box")]
    assert f"{bench['runs']} fine-tuning runs — in {bench['wall_minutes']:.0f} minutes" in quick
    commits = set(runs["git_commit"])
    assert commits == {bench["git_commit"]}  # the benchmark is the run that was published, from a clean tree
    results = readme[readme.index("## Results of the embedded default"):]
    assert f"figures of the run at commit {bench['git_commit'][:7]};" in results


def test_variance_reduction_quoted_in_the_readme_is_the_measured_one() -> None:
    import json

    study = json.loads((ROOT / "results" / "benchmarks" / "variance_study.json").read_text(encoding="utf-8"))
    ratio = next(r["µBOTH variance vs base"] for r in study["table"] if r["setting"] == "lr1e-3_tail50")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"reduced the variance of µBOTH to {ratio:.2f} of the earlier recipe's" in readme.replace("\n", " ")


def test_table2_part_marks_rows_beyond_the_paper_only_when_it_shows_one() -> None:
    import pandas as pd

    def row(backbone: str, mixture: str, paper: str | None) -> dict:
        return {"backbone": backbone, "mixture": mixture, "paper_method": paper, "n_seeds": 2, "mu_both_mean": 50.0,
                "mu_both_lo": 48.0, "mu_both_hi": 52.0, "mu_mmlu_mean": 60.0, "mu_mtbench_mean": 4.0}

    paper_rows = [row(b, "temperature", "TEMP. (τ=10)") for b in ("tiny-qwen", "tiny-llama")]
    one_backbone = pd.DataFrame([*paper_rows, row("tiny-llama", "doremi", None)])
    text = "\n".join(headline.table2_part(one_backbone))
    assert "| TEMP. (τ=10) |" in text and "doremi" not in text and "†" not in text  # shown on every backbone only
    every_backbone = pd.DataFrame([*paper_rows, row("tiny-llama", "doremi", None), row("tiny-qwen", "doremi", None)])
    text = "\n".join(headline.table2_part(every_backbone))
    assert "| doremi † |" in text and "† beyond the paper (no row of its Table 2)." in text


def test_variance_study_v2_quoted_in_the_design_notes_is_the_measured_one() -> None:
    import json

    study = json.loads((ROOT / "results" / "benchmarks" / "variance_study_v2.json").read_text(encoding="utf-8"))
    ratio = {r["setting"]: r["µBOTH variance vs base"] for r in study["table"]}
    notes = " ".join((ROOT / "docs" / "design-notes.md").read_text(encoding="utf-8").split())
    assert (f"lr 3e-3 gave {ratio['lr3e-3']:.2f} times its µBOTH variance, no averaging {ratio['no_average']:.2f} "
            f"and batch 32 at half the steps {ratio['batch32']:.2f}") in notes


def test_the_fresh_theta0_paragraph_is_the_measured_replication() -> None:
    """README's "On fresh θ0s" numbers are those of results/benchmarks/fresh_theta0.json (and its θ0s)."""
    import json

    report = json.loads((ROOT / "results" / "benchmarks" / "fresh_theta0.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8").replace("\n", " ")
    start = readme.index("**On fresh θ0s**")
    text = readme[start:start + 1200]
    hyps = report["hypotheses"]
    assert f"{report['inside_original_interval']} new differences fell inside" in text
    assert f"(the model expects {round(100 * hyps[0]['expected_inside_rate'])}% each)" in text
    assert f"{report['same_verdict']} verdicts repeated" in text
    assert f"from {len(report['theta0s'])} newly pretrained θ0s, seeds {min(report['theta0s'])}–" \
           f"{max(report['theta0s'])}" in text
    changed = [h for h in hyps if not h["same_verdict"]]
    chances = " and ".join(f"{round(100 * h['predicted_same_verdict'])}%" for h in changed)
    assert f"chance of the same verdict on new θ0s was {chances}" in text
    assert all(h["fresh_verdict"].startswith("smaller than the paper's effect") for h in changed)


@pytest.mark.parametrize(("lo", "effect", "hi", "says"), [
    (-0.3, 0.2, 0.7, "Even its upper bound is below the MDE"),
    (0.1, 0.6, 1.4, "Its estimate is below the MDE"),
    (0.9, 1.5, 2.1, "exceeds the MDE"),
])
def test_headroom_part_sets_the_interval_against_the_mde(lo: float, effect: float, hi: float, says: str) -> None:
    """The headroom is judged by its interval against the largest µBOTH MDE of a primary comparison (1.0 here,
    not the µMU row's 3.0), and an interval that includes 0 is called inconclusive."""
    hr = pd.DataFrame([
        {"kind": "headroom", "mixture": "temperature", "declared": True, "effect": effect, "lo": lo, "hi": hi,
         "theta0s": 12},
        {"kind": "headroom_outside_design", "mixture": "temperature", "declared": False, "effect": 0.1, "lo": -0.5,
         "hi": 0.7, "theta0s": 10},
        {"kind": "regret", "mixture": "mos", "declared": False, "effect": -0.4, "lo": -1.0, "hi": 0.2, "theta0s": 2}])
    pw = pd.DataFrame({"metric": ["µBOTH", "µBOTH", "µMU"], "mde": [0.8, 1.0, 3.0]})
    text = headline.headroom_part(hr, pw)
    assert says in text and "(1.00 µBOTH)" in text
    assert ("over 12 θ0s (inconclusive)." in text) == (lo <= 0)
    assert "mos −0.40 [−1.00, +0.20]" in text
    assert "On the 10 θ0s the design did not choose it on: +0.10 [−0.50, +0.70] (inconclusive)." in text


@pytest.mark.parametrize(("experiment", "target"), [("headroom", "make headroom"), ("headroom_small", "make headroom-small")])
def test_other_experiments_run_counts_and_times_are_the_measured_ones(experiment: str, target: str) -> None:
    """A published experiment's Quick start sentence gives the runs and minutes of its committed pipeline
    benchmark (all invocations summed where one was resumed), and those runs are the snapshot's."""
    import json

    snapshot = ROOT / "snapshots" / experiment / "summary" / "runs.csv"
    if not snapshot.is_file():
        pytest.skip(f"{experiment} is not published")
    import mos.pipeline.grid as G
    from mos.pipeline.config import load_config

    bench = json.loads((ROOT / "results" / "benchmarks" / f"pipeline_{experiment}.json").read_text(encoding="utf-8"))
    cfg = load_config(ROOT / "config" / f"{experiment}.yaml")
    runs = G.runs(cfg)
    proxies = [r for r in runs if cfg["mixtures"][r[1]].get("proxy_run")]  # dependency runs: not in runs.csv
    assert bench["runs"] == len(runs) and len(pd.read_csv(snapshot)) == len(runs) - len(proxies)
    minutes = bench.get("wall_minutes_total", bench["wall_minutes"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start"):readme.index("## What is in the box")]
    sentence = quick[quick.index(f"`{target}`"):]
    assert f"{bench['runs']} fine-tuning runs in {minutes:.0f} minutes here" in sentence[:400]


def test_headroom_part_judges_the_smaller_headroom_when_another_heuristic_did_better() -> None:
    """Declared best TEMP., but PROP. did better: the sentence gives the headroom over PROP. too and judges
    that smaller one against the MDE."""
    hr = pd.DataFrame([
        {"kind": "headroom", "mixture": "proportional", "declared": False, "effect": 0.6, "lo": 0.1, "hi": 1.1,
         "theta0s": 6},
        {"kind": "headroom", "mixture": "temperature", "declared": True, "effect": 5.0, "lo": 3.0, "hi": 7.0,
         "theta0s": 6}])
    text = headline.headroom_part(hr, pd.DataFrame({"metric": ["µBOTH"], "mde": [1.4]}))
    assert "minus temperature (the declared best heuristic) is +5.00 [+3.00, +7.00]" in text
    assert "Over proportional, the heuristic that did best here" in text and "+0.60 [+0.10, +1.10]" in text
    assert "Even its upper bound is below the MDE" in text and "exceeds" not in text


def test_the_theta0_extension_paragraph_is_the_measured_one() -> None:
    """README's "More θ0s for MoSpec vs the math-only model" numbers are those of
    results/benchmarks/theta0_extension.json (scripts/fresh_theta0.py --mixtures ... --theta0s 16)."""
    import json

    report = json.loads((ROOT / "results" / "benchmarks" / "theta0_extension.json").read_text(encoding="utf-8"))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    start = readme.index("**More θ0s for MoSpec vs the math-only model**")
    text = readme[start:start + 1400]
    pooled = {r["metric"]: r for r in report["pooled_precision"]}
    both, mu, mu_all = pooled["mu_both"], pooled["mu_mmlu"], pooled["mu_all"]
    new = report["theta0s"]
    minus = lambda v: f"{v:+.2f}".replace("-", "−")  # noqa: E731
    assert f"{report['wall_minutes']:.1f} min on 2 cores" in text and f"--theta0s {len(new)} " in text
    assert f"on the default's {both['theta0s_original']} θ0s (±{both['half_width_original']:.2f} µBOTH, " \
           f"±{mu['half_width_original']:.2f} µMU; targets ±{both['target']:g} and ±{mu['target']:g})" in text
    assert f"trained on {len(new)} more θ0s, seeds {min(new)}–{max(new)}" in text
    assert f"over {both['theta0s_pooled']} θ0s ±{both['half_width_pooled']:.2f} µBOTH (not met: " \
           f"{both['theta0s_needed']} θ0s reach ±{both['target']:g} at the pooled SD of {both['sd_pooled']:.2f})" in text
    assert not both["target_met_pooled"] and mu["target_met_pooled"]
    assert f"±{mu['half_width_pooled']:.2f} µMU (met from {mu['theta0s_needed']} θ0s)" in text
    hyp = report["hypotheses"][0]
    assert f"({hyp['fresh_verdict']}, {minus(hyp['fresh_effect'])} on the new θ0s; " \
           f"{minus(mu_all['effect_pooled'])} ± {mu_all['half_width_pooled']:.2f} pooled)" in text
    more = both["theta0s_needed"] - both["theta0s_original"]
    assert f"The {more} more θ0s the µBOTH target needs would add about " \
           f"{round(report['wall_minutes'] / len(new) * more)} minutes" in text


def test_the_pooled_fresh_theta0_half_widths_are_the_reports() -> None:
    """README's pooled µBOTH half-widths over the snapshot's and the fresh θ0s are fresh_theta0.json's."""
    import json

    report = json.loads((ROOT / "results" / "benchmarks" / "fresh_theta0.json").read_text(encoding="utf-8"))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    rows = [r for r in report["pooled_precision"] if r["metric"] == "mu_both" and not r["id"].startswith("aa_")]
    widths = [r["half_width_pooled"] for r in rows]
    n = {r["theta0s_pooled"] for r in rows}
    math_only = next(r for r in rows if r["id"] == "mospec_vs_math_only")
    assert len(n) == 1 and f"the {n.pop()} θ0s give the primary µBOTH comparisons half-widths of " \
        f"±{min(widths):.2f} to ±{max(widths):.2f} (MoSpec vs the math-only model ±{math_only['half_width_pooled']:.2f})" in readme
