"""The model card: every required section, the run's metrics with their CIs, shared scope text."""

from __future__ import annotations

import json

from triage_ray.report.memo_tables import rules
from triage_ray.report.model_card import write_model_card
from triage_ray.report.run import RunArtifacts


def test_model_card_sections_and_numbers(generated_run):
    md_path = write_model_card(generated_run)
    md = md_path.read_text()
    html = (generated_run / "model_card.html").read_text()
    for section in ("## Model details", "## Intended use", "## Out-of-scope use", "## Data",
                    "## Metrics with uncertainty", "## Limitations"):
        assert section in md
    m = json.loads((generated_run / "metrics.json").read_text())
    after = m["calibration"]["after"]
    for name in ("auroc", "ece", "brier"):
        v = after[name]
        assert f"{v['value']:.3f} (95% CI {v['ci_low']:.3f}-{v['ci_high']:.3f})" in md
    ab = m["abstention"]
    assert f"{100 * ab['bound']:.2f}%" in md and f"T = {m['calibration']['temperature']:.3f}" in md
    assert m["best"]["backbone"] in md and m["best"]["checkpoint_path"] in md
    tm = m["simulation"]["metrics"]["throughput_multiplier"]
    assert f"{tm['mean']:.3f} (95% CI {tm['ci_low']:.3f}-{tm['ci_high']:.3f})" in md
    assert "NOT A CLINICAL MODEL" in md and "NOT A CLINICAL MODEL" in html
    # out-of-scope rules are the memo's, word for word, with owner and enforcement
    for rule, owner, how in rules(RunArtifacts.load(generated_run)):
        assert f"| {rule} | {owner} | {how} |" in md
    assert "](figures/reliability.png)" in md and "](figures/backlog.png)" in md
    truth = m["model_vs_truth"]["pile"]["abnormal_in_lowest_5pct"]
    assert "Against the generator's truth" in md
    assert f"truly abnormal among its lowest-scored 5% | {100 * truth['value']:.1f}%" in md
    # every guarantee standard at every level, read from metrics.json, and today's reading
    st = m["standards"]
    assert "## Under other guarantee standards" in md or "### Under other guarantee standards" in md
    for r in st["rows"]:
        cell = f"{100 * r['cleared_select']:.1f}%"
        assert f"{100 * r['level']:.1f}% | " in md and cell in md, r
    today = st["todays_reading"]["abnormal_called_normal"]
    assert f"abnormal studies it calls normal {100 * today['rate']:.1f}%" in md
    # both feature checks, measured on the same probe films, the used one named; shifts only
    assert ("Feature checks compared on the same films: stages (used): flags 0.9% of in-scope "
            "test studies; site LUT: gamma 0.6 82%, children aged 2-8 (generated) 12%; pooled: "
            "flags 1.0% of in-scope test studies; site LUT: gamma 0.6 2%") in md


def test_model_card_on_real_source_has_no_generated_warning(real_data_run):
    md = write_model_card(real_data_run).read_text()
    assert "NOT A CLINICAL MODEL" not in md and "Source: nih" in md
    assert "No ground truth: real data" in md
    assert "true abnormal prevalence" not in md  # unknown for an unlabeled pile


def test_split_representativeness_is_in_the_card_and_the_summary(generated_run):
    from triage_ray.report.summary import render_summary

    m = json.loads((generated_run / "metrics.json").read_text())
    rep = m["data"]["representativeness"]
    md = write_model_card(generated_run).read_text()
    summary = render_summary(m)
    for text in (md, summary):
        assert "images_per_patient" in text and "ap_share" in text
        for split, row in rep["splits"].items():
            assert f"| {split} |" in text and f"{100 * row['ap_share']:.1f}%" in text
        assert "| pile |" in text  # the pile's covariates beside the splits
    assert m["pile"]["covariates"]["ap_share"] is not None


def test_subgroup_table_reads_the_runs_figures(generated_run):
    md = write_model_card(generated_run).read_text()
    sg = json.loads((generated_run / "metrics.json").read_text())["subgroups"]
    assert "### Results by subgroup" in md
    for name in ("view", "sex", "age"):
        for r in sg["groups"][name]:
            assert f"| {name}: {r['group']}" in md
    pa = next(r for r in sg["groups"]["view"] if r["group"] == "PA")
    a = pa["auroc_written"]
    assert f"{a['value']:.3f} (95% CI {a['ci_low']:.3f}-{a['ci_high']:.3f})" in md
