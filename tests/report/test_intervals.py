"""The interval check itself: it finds the figures readers found outside their own range."""

from __future__ import annotations

from report_intervals import interval_violations, run_interval_violations


def test_figures_outside_their_own_interval_are_found():
    text = ("ECE 0.126 (95% CI 0.137-0.267); 10.1 (range 9.2 to 9.2) days; "
            "<td>77.4% (95% CI 79.7%-82.7%)</td>; fine 17.1% (95% CI 16.3%-20.3%), "
            "a gain x1.02 (95% CI 0.97-1.08), a drop -0.030 (95% CI -0.050--0.010), "
            "1,234 (95% CI 1,100-1,300), rounded 0.13 (95% CI 0.126-0.2), "
            "a rate 16.5 per 1,000 (95% CI 6.7-33.7)")
    assert interval_violations(text) == ["0.126 (95% CI 0.137-0.267)",
                                         "10.1 (range 9.2 to 9.2)",
                                         "77.4% (95% CI 79.7%-82.7%)"]


def test_the_report_fixtures_print_every_figure_inside_its_interval(generated_run, real_data_run):
    from triage_ray.report.memo import write_memo
    from triage_ray.report.model_card import write_model_card

    for run in (generated_run, real_data_run):
        write_model_card(run)
        write_memo(run)
        assert (run / "memo.md").is_file() and (run / "model_card.md").is_file()
        assert run_interval_violations(run) == {}, run
