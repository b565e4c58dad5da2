"""The ablation's table (Markdown) and figure (AUROC per arm with 95% CIs), from its arm results."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from triage_ray.report.figures import COLORS, _save, new_figure, report_style

LABEL_SETS = (("truth", "truth"), ("written", "written labels"), ("panel", "reference panel"))


def _ci(m: Mapping[str, float]) -> str:
    return f"{m['value']:.3f} ({m['ci_low']:.3f}-{m['ci_high']:.3f})"


def ablation_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per arm: what changed, AUROC against each label set, the truly abnormal share of the
    lowest-scored 1/5/10% of test studies, and training time."""
    head = ("| arm | change | AUROC vs truth | vs written | vs panel | abnormal in lowest 1% / 5% / "
            "10% | train s |\n|---|---|---|---|---|---|---|")
    rows = [head]
    for name, r in results.items():
        low = " / ".join(f"{r[f'abnormal_in_lowest_{k}pct']['value']:.0%}" for k in (1, 5, 10))
        change = ", ".join(f"{k}={v}" for k, v in r.get("change", {}).items()) or "-"
        rows.append(f"| {name} | {change} | {_ci(r['auroc_truth'])} | {_ci(r['auroc_written'])} | "
                    f"{_ci(r['auroc_panel'])} | {low} | {r['train_seconds']:.0f} |")
    return "\n".join(rows)


def ablation_figure(results: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Horizontal AUROC bars per arm (truth, written), 95% patient-bootstrap CIs as whiskers."""
    names = list(results)
    with report_style():
        fig = new_figure((7.5, 0.32 * len(names) + 1.2))  # room for the longest arm name
        ax = fig.add_subplot()
        for j, (key, label) in enumerate(LABEL_SETS[:2]):
            vals = [results[n][f"auroc_{key}"] for n in names]
            ys = [i + (j - 0.5) * 0.38 for i in range(len(names))]
            err = [[v["value"] - v["ci_low"] for v in vals], [v["ci_high"] - v["value"] for v in vals]]
            ax.barh(ys, [v["value"] for v in vals], height=0.36, xerr=err, label=f"vs {label}",
                    color=COLORS["after" if key == "truth" else "before"], capsize=1.5)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        lo = min(results[n]["auroc_written"]["ci_low"] for n in names)
        ax.set_xlim(max(0.5, lo - 0.05), 1.0)
        ax.set_xlabel("test AUROC (95% CI, patients resampled)")
        ax.legend(loc="lower right", frameon=False)
        ax.set_title("What limits the model: one change at a time from the default's training")
        return _save(fig, path)


def per_finding_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """AUROC per true finding (studies with it vs truly normal ones), one column per arm."""
    arms = [n for n, r in results.items() if r.get("per_finding_auroc")]
    if not arms:
        return ""
    names = sorted({f for n in arms for f in results[n]["per_finding_auroc"]})
    rows = ["| true finding | test studies | " + " | ".join(arms) + " |",
            "|---|---|" + "---|" * len(arms)]
    for f in names:
        cells = [results[n]["per_finding_auroc"].get(f) for n in arms]
        count = next(c["n"] for c in cells if c)
        rows.append(f"| {f} | {count} | " + " | ".join(f"{c['auroc']:.2f}" if c else "-"
                                                   for c in cells) + " |")
    return "\n".join(rows)


def learning_curve_figure(results: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """AUROC against the truth by training-set size, one line per initialisation, for the arms
    that differ from the base only in size and init (95% CI band). None if fewer than two sizes."""
    lines: dict[str, list[tuple[int, Mapping[str, float]]]] = {}
    for r in results.values():
        extra = set(r.get("change", {})) - {"n_train", "init"}
        if extra:
            continue
        init = r["config"].get("init", "scratch")
        lines.setdefault(init, []).append((r["config"]["n_train"], r["auroc_truth"]))
    if not any(len(v) >= 2 for v in lines.values()):
        return None
    with report_style():
        fig = new_figure((4.2, 3.0))
        ax = fig.add_subplot()
        for init, pts in sorted(lines.items()):
            pts.sort(key=lambda t: t[0])
            n = [p[0] for p in pts]
            ax.plot(n, [p[1]["value"] for p in pts], marker="o",
                    color=COLORS["after" if init == "pretrained" else "before"], label=init)
            ax.fill_between(n, [p[1]["ci_low"] for p in pts], [p[1]["ci_high"] for p in pts],
                            alpha=0.2, color=COLORS["after" if init == "pretrained" else "before"])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training studies (written labels)")
        ax.set_ylabel("test AUROC vs truth (95% CI)")
        ax.set_title("Learning curve: scratch vs pretrained")
        ax.legend(frameon=False)
        return _save(fig, path)
