"""The decision memo: <= 3 pages, the run's own numbers (read back from the PDF), honest page 1."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from triage_ray.report.memo import MAX_PAGES, decide, stop_rule, write_memo
from triage_ray.report.run import RunArtifacts


def _pdf_text(path: Path) -> tuple[int, str, str]:
    """(pages, page-1 text, all text) with whitespace runs collapsed (lines wrap anywhere)."""
    pages = PdfReader(path).pages
    norm = [re.sub(r"\s+", " ", p.extract_text()) for p in pages]
    return len(pages), norm[0], " ".join(norm)


@pytest.fixture(scope="module")
def memo(generated_run) -> Path:
    return write_memo(generated_run)


def test_memo_has_at_most_three_pages_and_twins(memo, generated_run):
    n_pages, _, _ = _pdf_text(memo)
    assert 1 <= n_pages <= MAX_PAGES
    for twin in ("memo.md", "memo.html", "sensitivity.json"):
        assert (generated_run / twin).is_file()
    for fig in ("reliability.png", "frontier.png", "backlog.png"):
        assert (generated_run / "figures" / fig).stat().st_size > 5_000


def test_generated_run_says_so_on_page_one(memo):
    _, page1, _ = _pdf_text(memo)
    assert "NOT A CLINICAL RESULT" in page1 and "GENERATED DATA" in page1


def test_memo_numbers_are_the_runs_numbers(memo, generated_run):
    """Numbers formatted here, independently, from metrics.json must appear in the PDF text."""
    m = json.loads((generated_run / "metrics.json").read_text())
    pm = m["pile"]["simulation"]["metrics"]
    tm = m["simulation"]["metrics"]
    _, _, text = _pdf_text(memo)
    expected = [
        f"{pm['throughput_multiplier']['mean']:.2f} (95% CI "
        f"{pm['throughput_multiplier']['ci_low']:.2f}-{pm['throughput_multiplier']['ci_high']:.2f})",
        f"{pm['days_to_clear']['mean']:.1f}",
        f"{tm['missed_per_1000_auto_cleared']['mean']:.1f}",
        f"{tm['normal_wait_max_hours']['mean']:.1f}",
        f"{tm['abnormal_ttr_median_hours']['mean']:.1f}",
        f"{1000 * m['pile']['policy']['bound']:.1f} per 1,000",
        f"{m['pile']['n_studies']:,}",
        f"{m['pile']['policy']['t_low']:.3f}",
        f"{m['calibration']['after']['auroc']['value']:.3f}",
        m["best"]["backbone"],
    ]
    missing = [e for e in expected if e not in text]
    assert missing == [], f"not in the memo: {missing}"
    md = (generated_run / "memo.md").read_text()
    html = (generated_run / "memo.html").read_text()
    assert expected[0] in md and expected[0] in html  # the twins carry the same figures
    assert "<img src=\"data:image/png;base64," in html and "http" not in html.split("<body>")[1]


def test_sensitivity_base_row_reproduces_the_runs_pile_simulation(memo, generated_run):
    sens = json.loads((generated_run / "sensitivity.json").read_text())
    pm = json.loads((generated_run / "metrics.json").read_text())["pile"]["simulation"]["metrics"]
    for name in ("throughput_multiplier", "days_to_clear", "days_to_clear_no_ai"):
        assert sens["base"][name] == pytest.approx(pm[name]["mean"], rel=1e-12)
    axes = {r["axis"] for r in sens["rows"]}
    assert {"Radiologists", "Reads per hour", "Abnormal prevalence*"} <= axes
    prev = [r for r in sens["rows"] if r["model_based_truth"]]
    assert prev and all(r["missed_per_1000_auto_cleared"] is not None for r in prev)
    # prevalence rows keep the thresholds: more abnormal studies -> more misses among auto-normal
    misses = [r["missed_per_1000_auto_cleared"] for r in sorted(prev, key=lambda r: r["value"])]
    assert misses[0] < misses[-1]


def test_real_data_memo_has_no_generated_banner_and_marks_unknown_pile_truth(real_data_run):
    pdf = write_memo(real_data_run, sensitivity=False)
    n_pages, page1, text = _pdf_text(pdf)
    assert n_pages <= MAX_PAGES
    assert "GENERATED" not in page1 and "data source: nih" in page1
    assert "n/a (pile unlabeled)" in text


def _run_with(run_dir: Path, tmp: Path, edit) -> RunArtifacts:
    dst = tmp / run_dir.name
    shutil.copytree(run_dir, dst)
    m = json.loads((dst / "metrics.json").read_text())
    edit(m)
    (dst / "metrics.json").write_text(json.dumps(m))
    return RunArtifacts.load(dst)


def test_decision_follows_the_bound_prevalence_and_gain(generated_run, tmp_path):
    base = RunArtifacts.load(generated_run)
    assert decide(base).proceed  # the fixture's model is good enough (see conftest)

    def no_bound(m):
        m["pile"]["policy"]["feasible"] = False

    def shifted(m):
        m["pile"]["prevalence"]["in_validated_range"] = False

    def no_gain(m):
        m["pile"]["simulation"]["metrics"]["throughput_multiplier"]["ci_low"] = 0.97

    for edit, word in ((no_bound, "miss-rate bound"), (shifted, "validated range"),
                       (no_gain, "throughput gain")):
        d = decide(_run_with(generated_run, tmp_path / edit.__name__, edit))
        assert not d.proceed and len(d.reasons) == 1 and word in d.reasons[0]
        assert d.headline.startswith("Do not auto-clear")


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
