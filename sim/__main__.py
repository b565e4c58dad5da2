"""`python -m sim WORKLIST.{csv,parquet} --policy auto_clear ...`: simulate one scenario and print
the result JSON (the same `SimResult.to_dict()` the sweep and reports store)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.config import DEFAULT_STAFFING, READ_TIME_DISTRIBUTIONS, Staffing
from sim.io import WorklistFileError, read_worklist
from sim.policies import POLICIES
from sim.simulate import simulate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = DEFAULT_STAFFING
    p = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    p.add_argument("worklist", type=Path)
    p.add_argument("--policy", choices=sorted(POLICIES), default="auto_clear")
    p.add_argument("--radiologists", type=int, default=d.radiologists)
    p.add_argument("--hours-per-day", type=float, default=d.hours_per_day)
    p.add_argument("--reads-per-hour", type=float, default=d.reads_per_hour)
    p.add_argument("--read-time-dist", choices=sorted(READ_TIME_DISTRIBUTIONS),
                   default=d.read_time_dist)
    p.add_argument("--read-time-cv", type=float, default=d.read_time_cv)
    p.add_argument("--reading-days-per-week", type=int, default=d.reading_days_per_week)
    p.add_argument("--n-reps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--audit-fraction", type=float, default=0.05)
    p.add_argument("--aging-cap-days", type=float, default=None)
    p.add_argument("--inflow-per-day", type=float, default=0.0)
    p.add_argument("--inflow-days", type=float, default=None)
    p.add_argument("--miss-bound-failed", action="store_true",
                   help="the abstention miss-rate bound did not hold: auto_clear is infeasible")
    p.add_argument("--bucket-column", default="bucket")
    p.add_argument("--order-key-column", default="order_key")
    p.add_argument("--truth-column", default=None)
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        worklist = read_worklist(a.worklist, bucket_column=a.bucket_column,
                                 order_key_column=a.order_key_column, truth_column=a.truth_column)
        staffing = Staffing(radiologists=a.radiologists, hours_per_day=a.hours_per_day,
                            reads_per_hour=a.reads_per_hour, read_time_dist=a.read_time_dist,
                            read_time_cv=a.read_time_cv,
                            reading_days_per_week=a.reading_days_per_week)
        result = simulate(worklist, a.policy, staffing, n_reps=a.n_reps, seed=a.seed,
                          audit_fraction=a.audit_fraction, aging_cap_days=a.aging_cap_days,
                          miss_bound_ok=not a.miss_bound_failed, inflow_per_day=a.inflow_per_day,
                          inflow_days=a.inflow_days)
    except (WorklistFileError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(result.to_dict(), indent=2, allow_nan=False)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
