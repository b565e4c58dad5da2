"""The recommendation for the next clinical-pilot release, computed from the study's tables.

Rule (stated in the output too): per task, the option with the highest macro-F1 leads; an option
is "not worse" on a task when the paired 95% CI of (option - leader) reaches 0. Among options not
worse on both tasks, the cheapest in training CPU-seconds is recommended; if none is, the per-task
leaders are. Transfer is called positive/negative only when its CI excludes 0. No sentence here is
fixed in advance: every claim is chosen by these comparisons.
"""

from __future__ import annotations

from typing import Any

from triage_ray.intake.evaluate import seed_interval
from triage_ray.intake.schema import GENERATED, TASKS
from triage_ray.intake.tables import TF_PAIR, StudyTables
from triage_ray.intake.transfer import paired_difference

OPTION_NAMES = {"xgb": "two XGBoost models", TF_PAIR: "two single-task Transformers",
                "mtl": "one multi-task Transformer"}


def _fmt(d: dict[str, Any]) -> str:
    return f"{d['delta']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"


def choose_option(t: StudyTables, setting: str, size: int, level: float) -> dict[str, Any]:
    """Apply the rule above at one (setting, size); returns the choice and the evidence."""
    mtl = t.selected_mtl[(setting, size)]
    res = t.results[(t.results.setting == setting) & (t.results["size"] == size)]
    cost = t.costs[(t.costs.setting == setting) & (t.costs["size"] == size)].set_index("setup")
    options = {"xgb": {task: "xgb" for task in TASKS},
               TF_PAIR: {task: f"tf_{task}" for task in TASKS},
               "mtl": {task: mtl for task in TASKS}}
    f1 = {(o, task): float(res[(res.setup == s) & (res.task == task)].f1.iloc[0])
          for o, m in options.items() for task, s in m.items()}
    evidence: dict[str, Any] = {"leader": {}, "vs_leader": {}}
    for task in TASKS:
        leader = max(options, key=lambda o: f1[(o, task)])
        evidence["leader"][task] = leader
        for o in options:
            if o == leader:
                continue
            evidence["vs_leader"][(o, task)] = paired_difference(
                f1[(o, task)], f1[(leader, task)],
                t.replicates[(setting, size, options[o][task], task)],
                t.replicates[(setting, size, options[leader][task], task)], level)
    ok = [o for o in options if all(o == evidence["leader"][task]
                                    or evidence["vs_leader"][(o, task)]["ci_high"] >= 0
                                    for task in TASKS)]
    cpu = {o: float(cost.loc[o if o != "mtl" else mtl, "fit_cpu_s"]) for o in options}
    choice = min(ok, key=lambda o: cpu[o]) if ok else None
    return {"choice": choice, "not_worse": ok, "cpu": cpu, "f1": f1, "mtl_setup": mtl,
            "options": options, **evidence}


def _transfer_lines(t: StudyTables) -> list[str]:
    lines = []
    sel = t.transfer[t.transfer.selected]
    for row in sel.itertuples():
        lines.append(f"- {row.setting}, n={row.size}, {row.task} ({row.mtl_setup}): transfer "
                     f"{_fmt(row._asdict())} -> **{row.verdict}**")
    counts = sel.verdict.value_counts().to_dict()
    lines.append(f"- Overall (selected multi-task weighting): {counts.get('positive', 0)} "
                 f"positive, {counts.get('negative', 0)} negative, "
                 f"{counts.get('inconclusive', 0)} inconclusive of {len(sel)} comparisons.")
    return lines


def _cosine_lines(t: StudyTables, level: float) -> list[str]:
    if t.grad_cosine.empty:
        return ["- No gradient cosines were logged."]
    lines = []
    for (setting, size), mtl in sorted(t.selected_mtl.items()):
        g = t.grad_cosine[(t.grad_cosine.setting == setting) & (t.grad_cosine["size"] == size)
                          & (t.grad_cosine.setup == mtl)]
        per_seed = g.groupby("seed").cosine.mean().to_numpy()
        if per_seed.size == 0:
            continue
        lo, hi = seed_interval(per_seed, level)
        lo, hi = max(lo, -1.0), min(hi, 1.0)  # a t-interval over few seeds can leave [-1, 1]
        sign = "aligned" if lo > 0 else "conflicting" if hi < 0 else "neither aligned nor opposed"
        lines.append(f"- {setting}, n={size} ({mtl}): mean cosine {per_seed.mean():+.3f} "
                     f"[{lo:+.3f}, {hi:+.3f}] over seeds -> task gradients {sign}")
    return lines


def recommendation(t: StudyTables, sizes: list[int], level: float, source: str,
                   calibration: dict[tuple[str, str], dict[str, Any]] | None = None) -> str:
    """Markdown text; `calibration` maps (setting, task) to calibration_report output for the
    recommended option (after temperature scaling) at the largest training size."""
    size = max(sizes)
    out = [f"# Recommendation for the next clinical-pilot release ({source} records)", ""]
    if source == GENERATED:
        out += ["All records in this run are **generated** by triage_ray.intake.generate; the "
                "conclusions hold for the simulator and must be confirmed on real intake data "
                "before any clinical use.", ""]
    out += ["Decision rule: per task the option with the highest macro-F1 leads; an option is "
            f"not worse when the paired {level:.0%} CI of its difference to the leader reaches 0; "
            "among options not worse on both tasks the cheapest in training CPU-seconds is "
            "chosen, otherwise the per-task leaders.", ""]
    picks = {}
    for setting in sorted({s for s, _ in t.selected_mtl}):
        c = choose_option(t, setting, size, level)
        picks[setting] = c["choice"]
        out.append(f"## {setting}, training size {size}")
        for task in TASKS:
            lead = c["leader"][task]
            out.append(f"- {task}: leader {OPTION_NAMES[lead]} (F1 {c['f1'][(lead, task)]:.3f}); "
                       + "; ".join(f"{OPTION_NAMES[o]} {_fmt(c['vs_leader'][(o, task)])}"
                                   for o in c["options"] if o != lead))
        out.append("- training CPU-seconds (all seeds): " + ", ".join(
            f"{OPTION_NAMES[o]} {v:.0f}" for o, v in c["cpu"].items()))
        if c["choice"] is None:
            out.append("- **Recommendation:** no single option is not-worse on both tasks: use "
                       + " and ".join(f"{OPTION_NAMES[c['leader'][task]]} for {task}"
                                      for task in TASKS) + ".")
        else:
            name = OPTION_NAMES[c["choice"]]
            extra = f" ({c['mtl_setup']})" if c["choice"] == "mtl" else ""
            out.append(f"- **Recommendation:** {name}{extra}: not worse on both tasks and the "
                       "cheapest such option.")
        for task in TASKS:
            cal = (calibration or {}).get((setting, task))
            if cal:
                e = cal["top_label_ece"]
                out.append(f"- {task} calibration after temperature scaling: top-label ECE "
                           f"{e['value']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]")
        out.append("")
    if len(set(picks.values())) > 1:
        out += ["The choice depends on how related the two labels are "
                f"({', '.join(f'{k}: {v}' for k, v in picks.items())}): measure the relatedness "
                "on real data (e.g. the gradient cosine below) before fixing the release.", ""]
    elif picks:
        out += [f"The choice is the same in every data setting ({next(iter(picks.values()))}).",
                ""]
    out += ["## Transfer (multi-task minus single-task Transformer)", *_transfer_lines(t), "",
            "## Gradient cosine between the tasks on the shared encoder", *_cosine_lines(t, level),
            ""]
    return "\n".join(out)


def headline_options(t: StudyTables, size: int, level: float) -> dict[str, str | None]:
    """{setting: chosen option} at one training size (used by the report's summary line)."""
    return {s: choose_option(t, s, size, level)["choice"]
            for s in sorted({s for s, _ in t.selected_mtl})}

