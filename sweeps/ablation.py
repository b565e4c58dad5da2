"""Locate the model's gap: one-factor-at-a-time training ablation on generated data.

    python sweeps/ablation.py                 # every arm, ~35 min on 2 cores (plain PyTorch)
    python sweeps/ablation.py --smoke         # two tiny arms, ~1 min
    python sweeps/ablation.py --arms base "128 px"

Writes reports/ablation/<run>/: arms/*.json (one per arm, written as it finishes; rerunning the
same --out skips finished arms), ablation.json, ablation.md (the table), ablation.png and
learning_curve.png (AUROC by training size, scratch vs pretrained). The pretrained arms need
`python sweeps/pretrain.py` first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout or a job dir

from triage_ray.common.preflight import check_dependencies  # noqa: E402

check_dependencies()  # a clear message, not a ModuleNotFoundError, under the wrong Python

from triage_ray.xray.ablation import ARMS, BASE, SMOKE_ARMS, run_ablation  # noqa: E402

NOTE = ("GENERATED DATA: every image was synthesised by triage-ray's generator; truth, written "
        "labels and the reference panel are the generator's. Training on truth is a diagnostic.")


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arms", nargs="+", choices=list(ARMS), help="default: all")
    p.add_argument("--out", type=Path, help="default reports/ablation/full (or /smoke)")
    p.add_argument("--n-studies", type=int, default=22_000, help="generated tree size (80%% train)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="2 arms, 1,000 studies, 1 epoch")
    args = p.parse_args(argv)

    from triage_ray.report.ablation import (
        ablation_figure,
        ablation_table,
        learning_curve_figure,
        per_finding_table,
    )

    out = (args.out or Path("reports/ablation") / ("smoke" if args.smoke else "full")).resolve()
    base = {"n_train": 600, "epochs": 1} if args.smoke else {}
    arms = args.arms or (list(SMOKE_ARMS) if args.smoke else list(ARMS))
    n = 1000 if args.smoke else args.n_studies
    results = run_ablation(out, arms=arms, n_studies=n, seed=args.seed, base=base)
    for r in results.values():
        r["change"] = {k: v for k, v in r["config"].items() if BASE.get(k) != v}
    (out / "ablation.json").write_text(json.dumps({"note": NOTE, "base": {**BASE, **base},
                                                   "arms": results}, indent=2))
    findings = per_finding_table(results)
    (out / "ablation.md").write_text(
        f"{NOTE}\n\n{ablation_table(results)}\n\n"
        + (f"AUROC per true finding (its studies vs truly normal ones):\n\n{findings}\n" if findings
           else ""))
    ablation_figure(results, out / "ablation.png")
    learning_curve_figure(results, out / "learning_curve.png")
    print(ablation_table(results))
    print(f"\n{NOTE}\nwrote {out}/ablation.md, ablation.png, ablation.json")
    return out


if __name__ == "__main__":
    main()
