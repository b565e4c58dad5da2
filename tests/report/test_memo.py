"""The decision memo: <= 3 pages, the run's own numbers (read back from the PDF), honest page 1."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from triage_ray.report.memo import (
    JARGON,
    MAX_PAGES,
    decide,
    stop_rule,
    verdict_on_numbers,
    write_memo,
)
from triage_ray.report.memo_tables import MAX_SCENARIO_ROWS
from triage_ray.report.run import RunArtifacts

PAGE_ONE_ENDS = "What it must NOT be used for"  # the first heading past page 1's plain words


def _pdf_text(path: Path) -> tuple[int, str, str]:
    """(pages, page-1 text, all text) with whitespace runs collapsed (lines wrap anywhere)."""
    pages = PdfReader(path).pages
    norm = [re.sub(r"\s+", " ", p.extract_text()) for p in pages]
    return len(pages), norm[0], " ".join(norm)


@pytest.fixture(scope="module")
def memo(generated_run) -> Path:
    return write_memo(generated_run)


def _page_one(page1: str) -> str:
    """Page 1's plain part: everything before the rules-of-use heading."""
    return page1.split(PAGE_ONE_ENDS)[0]


def test_memo_has_at_most_three_pages_and_twins(memo, generated_run):
    n_pages, _, _ = _pdf_text(memo)
    assert 1 <= n_pages <= MAX_PAGES
    for twin in ("memo.md", "memo.html", "sensitivity.json"):
        assert (generated_run / twin).is_file()


def test_page_one_has_no_statistics_jargon(memo, real_data_run):
    """The decision page is for an operations lead: none of the word list, in either memo."""
    for pdf in (memo, write_memo(real_data_run)):
        _, page1, _ = _pdf_text(pdf)
        plain = _page_one(page1)
        assert "Decision" in plain and "Does it double" in plain and "what to do next" in plain
        found = [w for w in JARGON if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])",
                                                 plain)]
        assert found == [], f"statistics words on page 1 of {pdf}: {found}"


def test_page_one_answers_the_brief_in_days_with_ranges(memo, generated_run):
    """Page 1: the doubling answer, and the reordering's effect on both kinds of study, each with
    its study-bootstrap range (formatted here, independently, from metrics.json)."""
    m = json.loads((generated_run / "metrics.json").read_text())
    unc, pm = m["uncertainty"]["pile"], m["pile"]["simulation"]["metrics"]
    _, page1, _ = _pdf_text(memo)
    plain = _page_one(page1)

    def ranged(key: str, scale: float = 1 / 24, digits: int = 1, prefix: str = "") -> str:
        v, lo, hi = pm[key]["mean"] * scale, unc[key]["ci_low"] * scale, unc[key]["ci_high"] * scale
        return f"{prefix}{v:,.{digits}f} (range {prefix}{lo:,.{digits}f} to {prefix}{hi:,.{digits}f})"

    for text in (ranged("throughput_multiplier", 1, 2), ranged("abnormal_ttr_median_hours"),
                 ranged("abnormal_ttr_median_hours_no_ai"), ranged("abnormal_ttr_p90_hours"),
                 ranged("normal_wait_median_hours"), ranged("normal_wait_max_hours_no_ai")):
        assert text in plain, text
    later, share = unc["abnormal_read_later_share"], pm["abnormal_read_later_share"]["mean"]
    assert f"{100 * share:.0f}% (range {100 * later['ci_low']:.0f}%" in plain
    assert re.search(r"(Yes|No|Not shown)\. On this", plain)
    assert "read LATER than in arrival order" in plain


def test_study_intervals_are_wider_than_replication_intervals(generated_run):
    """Before: replications of reading only; after: studies resampled and cut-offs re-fitted."""
    m = json.loads((generated_run / "metrics.json").read_text())
    for key in ("throughput_multiplier", "abnormal_ttr_median_ratio"):
        rep, boot = m["pile"]["simulation"]["metrics"][key], m["uncertainty"]["pile"][key]
        assert boot["ci_high"] - boot["ci_low"] > rep["ci_high"] - rep["ci_low"], key


def test_generated_run_says_so_on_page_one(memo):
    _, page1, _ = _pdf_text(memo)
    assert "NOT A CLINICAL RESULT" in page1 and "GENERATED DATA" in page1


def test_memo_numbers_are_the_runs_numbers(memo, generated_run):
    """Numbers formatted here, independently, from metrics.json must appear in the PDF text."""
    m = json.loads((generated_run / "metrics.json").read_text())
    pm = m["pile"]["simulation"]["metrics"]
    unc = m["uncertainty"]
    sens = json.loads((generated_run / "sensitivity.json").read_text())
    _, _, text = _pdf_text(memo)
    tl = unc["thresholds"]["t_low"]
    expected = [
        f"factor of {pm['throughput_multiplier']['mean']:.2f} (range",
        f"{sens['base']['throughput_multiplier']:.2f} ({sens['base']['throughput_multiplier_ci_low']:.2f}-",
        f"{pm['days_to_clear']['mean']:.1f}",
        f"{1000 * m['pile']['policy']['bound']:.1f} per 1,000",
        f"{m['pile']['n_studies']:,}",
        f"p = {m['pile']['policy']['t_low']:.3f} (95% CI {tl['ci_low']:.3f}-{tl['ci_high']:.3f})",
        f"{m['calibration']['after']['auroc']['value']:.3f}",
        f"held in {100 * unc['feasible_share']:.0f}% of them",
        m["best"]["backbone"],
    ]
    missing = [e for e in expected if e not in text]
    assert missing == [], f"not in the memo: {missing}"
    md = (generated_run / "memo.md").read_text()
    html = (generated_run / "memo.html").read_text()
    assert expected[1] in md and expected[1] in html  # the twins carry the same figures
    assert "http" not in html.split("<body>")[1]  # self-contained: no network request


def test_sensitivity_base_row_reproduces_the_runs_pile_simulation(memo, generated_run):
    sens = json.loads((generated_run / "sensitivity.json").read_text())
    pm = json.loads((generated_run / "metrics.json").read_text())["pile"]["simulation"]["metrics"]
    for name in ("throughput_multiplier", "days_to_clear", "days_to_clear_no_ai"):
        assert sens["base"][name] == pytest.approx(pm[name]["mean"], rel=1e-12)
    axes = {r["axis"] for r in sens["rows"]}
    assert {"Radiologists", "Reads per hour", "Abnormal prevalence*",
            "Reading days per week", "New studies arriving daily"} <= axes
    prev = [r for r in sens["rows"] if r["resampled_prevalence"]]
    assert prev and all(r["missed_per_1000_auto_cleared"] is not None for r in prev)
    # every row carries waiting times (model-based truth), and the inflow states its horizon
    assert all(r["normal_wait_max_hours"] is not None for r in sens["rows"])
    inflow = next(r for r in sens["rows"] if r["key"] == "inflow_per_day")
    assert re.search(r"/day for [\d,]+ days, then none", inflow["setting"])
    # prevalence rows keep the thresholds: more abnormal studies -> more misses among auto-normal
    misses = [r["missed_per_1000_auto_cleared"] for r in sorted(prev, key=lambda r: r["value"])]
    assert misses[0] < misses[-1]


def test_scenario_table_has_at_most_eight_rows_with_waits(memo):
    _, _, text = _pdf_text(memo)
    section = text.split("How the conclusion moves")[1].split("Results by patient group")[0]
    assert "longest wait" in section and "median days to report" in section
    assert "As run:" in section
    assert section.count("(run:") + section.count("(run est.:") <= MAX_SCENARIO_ROWS - 1
    # the caption explains the run's own verdict (it once defined 'no gain' as a gain)
    said = re.search(r"Conclusion: '(no gain|gain)' means (.*?)[.]", section)
    assert said, section[-400:]
    assert ("lies above 1" in said.group(2)) == (said.group(1) == "gain")


def test_real_data_memo_has_no_generated_banner_and_says_where_waits_come_from(real_data_run):
    pdf = write_memo(real_data_run, sensitivity=False)
    n_pages, page1, text = _pdf_text(pdf)
    assert n_pages <= MAX_PAGES
    assert "GENERATED" not in page1 and "Real data: training data real (nih at" in page1
    # the real pile has no labels: the waiting times are simulated on a test-drawn pile, said so
    assert "drawn from the" in page1 and "true status is unknown" in page1


def _run_with(run_dir: Path, tmp: Path, edit) -> RunArtifacts:
    dst = tmp / run_dir.name
    shutil.copytree(run_dir, dst)
    m = json.loads((dst / "metrics.json").read_text())
    edit(m)
    (dst / "metrics.json").write_text(json.dumps(m))
    return RunArtifacts.load(dst)


def _robust_gain(m):
    """The fixture's gain with a study-bootstrap interval wholly above 1 (a strong model)."""
    tm = m["uncertainty"]["pile"]["throughput_multiplier"]
    tm["ci_low"], tm["ci_high"] = 1.5, 2.5
    r = m["uncertainty"]["pile"]["abnormal_ttr_median_ratio"]
    r["ci_low"], r["ci_high"] = 0.4, 0.8
    m["pile"]["prevalence"].update(in_validated_range=True, methods_agree=True,
                                   untrusted_because=[])


def test_decision_follows_the_bound_prevalence_and_gain(generated_run, tmp_path):
    base = verdict_on_numbers(_run_with(generated_run, tmp_path / "base", _robust_gain))
    assert base.proceed and base.alarm is None

    def no_bound(m):
        _robust_gain(m)
        m["pile"]["policy"]["feasible"] = False

    def shifted(m):
        _robust_gain(m)
        m["pile"]["prevalence"]["in_validated_range"] = False

    def disagree(m):
        _robust_gain(m)
        m["pile"]["prevalence"]["methods_agree"] = False

    def no_gain(m):
        _robust_gain(m)
        m["uncertainty"]["pile"]["throughput_multiplier"]["ci_low"] = 0.97

    for edit, word in ((no_bound, "miss-rate guarantee"), (shifted, "checked for"),
                       (disagree, "disagree"), (no_gain, "throughput gain")):
        d = verdict_on_numbers(_run_with(generated_run, tmp_path / edit.__name__, edit))
        assert not d.proceed and len(d.reasons) == 1 and word in d.reasons[0], d.reasons
        if edit in (shifted, disagree):  # the alarm changes the advice: nothing is trusted
            assert d.alarm and d.headline.startswith("Do not use the model on this pile yet")
            assert not d.order_helps
        else:
            assert d.alarm is None and d.headline.startswith(("Do not clear", "Do not use"))


def test_the_memo_says_which_shifts_the_gate_was_shown_to_catch(memo):
    _, _, text = _pdf_text(memo)
    assert "Shown to catch (share of probe films): site LUT: gamma 0.6 82%" in text
    assert "caught fewer than half: children aged 2-8 (generated) 12%" in text
    assert "not tested: lateral views" in text


def test_a_model_trained_on_generated_data_never_gets_proceed(generated_run, real_data_run,
                                                              tmp_path):
    """Numbers that would clear a pilot on a real run read 'validates the pipeline only' on a
    generated one, with what a site must bring; the same numbers on real data proceed, and a real
    model on a generated pile is sent back to the site's own pile."""
    generated = decide(_run_with(generated_run, tmp_path / "gen", _robust_gain))
    assert not generated.proceed and not generated.order_helps
    assert generated.headline.startswith("This run validates the pipeline only")
    assert "labelled studies" in generated.headline and "reference reads" in generated.headline
    assert generated.reasons[0].startswith("on these generated data the numbers alone would say: "
                                           "proceed to a supervised pilot")
    real = decide(_run_with(real_data_run, tmp_path / "real", _robust_gain))
    assert real.proceed and real.headline.startswith("Proceed")

    def mixed(m):  # a real model whose pile was generated: its numbers are about generated studies
        _robust_gain(m)
        m["provenance"]["pile"] = {"generated": True, "what": "triage-ray's generator"}

    on_generated_pile = decide(_run_with(real_data_run, tmp_path / "mixed", mixed))
    assert not on_generated_pile.proceed and "--pile-root" in on_generated_pile.headline


def test_alarm_and_weaker_groups_reach_page_one(generated_run, tmp_path):
    def edit(m):
        m["pile"]["prevalence"]["methods_agree"] = False
        m["subgroups"]["flagged"] = ["view AP"]

    run = _run_with(generated_run, tmp_path, edit)
    _, page1, _ = _pdf_text(write_memo(run.run_dir, sensitivity=False))
    plain = _page_one(page1)
    assert "CASE-MIX ALARM" in plain and "Someone has to investigate" in plain
    assert "weaker than overall: view AP" in plain


def test_one_rules_list_that_matches_the_operating_point(memo, generated_run, tmp_path):
    """Nothing cleared: the first rule is 'never clear without a read' and no audit rule; with
    clearing on, the audit and its stop rule are listed instead. Each rule names an owner."""
    from triage_ray.report.memo_tables import rules

    def none_cleared(m):
        m["pile"]["policy"]["feasible"] = False
        m["pile"]["bucket_counts"]["auto_normal"] = 0

    off = rules(_run_with(generated_run, tmp_path / "off", none_cleared))
    assert off[0][0].startswith("**Never clear a study without a read**")
    assert not any("audit" in r[0] for r in off)
    on = rules(RunArtifacts.load(generated_run))
    if RunArtifacts.load(generated_run).get("pile.policy.feasible"):
        assert "daily audit" in on[0][0] and "Stop rule" in on[0][2]
    assert all(owner and how for _, owner, how in off + on)
    _, _, text = _pdf_text(memo)
    assert text.count("What it must NOT be used for") == 1  # one list, not two


def test_stop_rule_is_the_smallest_count_unlikely_at_the_target_rate(generated_run):
    run = RunArtifacts.load(generated_run)
    k, n = stop_rule(run)
    alpha, delta = run.get("abstention.alpha"), run.get("abstention.delta")

    def tail(j: int) -> float:  # P(X >= j), X ~ Binomial(n, alpha)
        return sum(math.comb(n, i) * alpha**i * (1 - alpha) ** (n - i) for i in range(j, n + 1))

    assert n == round(run.get("pile.simulation.assumptions.audit_fraction")
                      * run.get("pile.bucket_counts.auto_normal"))
    assert tail(k) <= delta < tail(k - 1)


def test_missing_field_fails_naming_file_and_field(generated_run, tmp_path):
    def drop(m):
        del m["pile"]["prevalence"]["em"]

    run = _run_with(generated_run, tmp_path, drop)
    with pytest.raises(KeyError, match=r"metrics\.json: missing field 'pile\.prevalence\.em'"):
        write_memo(run.run_dir, sensitivity=False)


def test_overflowing_memo_fails_loudly_and_writes_no_pdf(generated_run, tmp_path):
    def long_note(m):
        m["data_note"] += " A very long provenance note." * 600

    run = _run_with(generated_run, tmp_path, long_note)
    from triage_ray.report.pdf import PageLimitError

    with pytest.raises(PageLimitError, match="limit is 3"):
        write_memo(run.run_dir, sensitivity=False)
    assert (generated_run / "memo.pdf").is_file()  # the copy had one: a stale memo ...
    assert not any((run.run_dir / f).exists() for f in ("memo.pdf", "memo.md", "memo.html"))


def test_a_pile_with_nothing_in_scope_finishes_and_says_why(nothing_in_scope_run):
    """An export that states no age: the run finishes, every study is listed as not triaged with
    its reason, and the memo and summary say plainly that the model may not be used on it."""
    import pandas as pd

    from triage_ray.report.summary import render_summary

    run = RunArtifacts.load(nothing_in_scope_run)
    worklist = pd.read_parquet(nothing_in_scope_run / "worklist.parquet")
    assert (worklist["bucket_name"] == "not_triaged").all()
    assert worklist["gate_reason"].str.contains("age not stated").all()
    gate = run.get("pile.gate")
    assert gate["nothing_in_scope"] and gate["top_reasons"][0]["reason"] == "age not stated"
    assert run.get("pile.bucket_counts.auto_normal") == 0
    dec = decide(run)
    assert not dec.proceed and not dec.order_helps
    assert "none of its" in dec.headline and "age not stated for 100% of studies" in dec.headline
    _, page1, _ = _pdf_text(write_memo(nothing_in_scope_run))
    assert "Do not use the model on this pile" in page1 and "age not stated" in page1
    assert "No. On this" in page1 and "factor of 1.00 (range 1.00 to 1.00)" in page1
    summary = render_summary(run.metrics)
    assert "may not be used on this pile" in summary


def test_a_memo_too_long_for_its_pages_falls_back_to_its_compact_tables(generated_run, tmp_path):
    """How long a memo is depends on the run: a finished run must not fail at its last step
    because its memo needs a fourth page. Here 80 groups too small to score make the full memo
    overflow; the compact one leaves them out of the table, names them in the caption, and fits."""
    from triage_ray.report.memo import build_memo
    from triage_ray.report.pdf import PageLimitError, write_pdf

    def many_small_groups(m):
        m["subgroups"]["groups"]["site"] = [{"group": f"S{i}", "n": 3, "too_small": True}
                                            for i in range(80)]

    run = _run_with(generated_run, tmp_path, many_small_groups)
    with pytest.raises(PageLimitError):
        write_pdf(build_memo(run, None), tmp_path / "full.pdf", max_pages=MAX_PAGES)
    pages, _, text = _pdf_text(write_memo(run.run_dir, sensitivity=False))
    assert pages <= MAX_PAGES
    assert "Too few studies to score, left out here: site S0, site S1" in text
    assert "site S79" in (run.run_dir / "memo.md").read_text()
