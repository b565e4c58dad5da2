"""How fast one configuration is judged: `simulate` (fast engine) vs a per-study SimPy model.

One configuration = one policy + the no_ai baseline on a 30k-study pile, 10 replications.
The baseline is the straightforward SimPy model: a process per study holding a `Resource` of
radiologists (`with readers.request() as req: yield req`), on the same draws, policies and order
(requests made at hour 0 in policy order, so the FIFO request queue reads in policy order); it
must give the same read end times (checked here). `PriorityResource` would be the textbook
choice but re-sorts its queue on every request (SimPy 4.1 `SortedQueue.append`), quadratic in
the pile: ~0.9 s per replication already at 3k studies, so it would flatter the ratio.

    .venv/bin/python benchmarks/sim_speed.py            # ~30 s; writes reports/benchmarks/sim_speed.json
    .venv/bin/python benchmarks/sim_speed.py --smoke    # seconds, small piles

Times are CPU seconds of this process (`time.process_time`; both engines are single-threaded),
so other work on a shared machine does not inflate them; wall seconds are recorded too. Prints
studies simulated per second and, last, the speed-up over the baseline.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's `sim`, not an install
from sim import POLICIES, Staffing, simulate, synthetic_worklist  # noqa: E402
from sim.draws import Scenario, draw_replication  # noqa: E402
from sim.ready import total_order  # noqa: E402
from sim.replication import run_policy  # noqa: E402

OUT = Path(__file__).parents[1] / "reports" / "benchmarks" / "sim_speed.json"
POLICY = "auto_clear"


def study(env, readers, read_time: float, end: np.ndarray, i: int):
    with readers.request() as req:
        yield req
        yield env.timeout(read_time)
    end[i] = env.now


def per_study_simpy(read_time: np.ndarray, pos: np.ndarray, radiologists: int) -> np.ndarray:
    """The baseline: one SimPy process per study; static pile, no aging cap."""
    env = simpy.Environment()
    readers = simpy.Resource(env, capacity=radiologists)
    end = np.full(read_time.size, np.nan)
    for i in np.argsort(pos):  # all request at hour 0, queued in creation (= policy) order
        env.process(study(env, readers, float(read_time[i]), end, int(i)))
    env.run()
    return end


def baseline_config(worklist, staffing: Staffing, n_reps: int, seed: int) -> tuple[float, float]:
    """Seconds per replication for the baseline (policy + no_ai), and the largest difference
    between its end times and the fast engine's on the same draws."""
    scenario, diff, cpu = Scenario(), 0.0, 0.0
    for s in np.random.SeedSequence(seed).spawn(n_reps):
        d = draw_replication(worklist, staffing, scenario, s)
        for name in (POLICY, "no_ai"):
            pol = POLICIES[name]
            plan = pol.plan(d.studies.bucket, d.studies.order_key, d.audit_u < 0.05)
            idx = np.flatnonzero(plan.read)
            pos = total_order(plan.rank[idx], plan.key[idx], d.arrival_cal[idx])
            t0 = time.process_time()
            end = per_study_simpy(d.base_read[idx], pos, staffing.radiologists)
            cpu += time.process_time() - t0
            fast = run_policy(d, pol, staffing, scenario).end_work[idx]
            diff = max(diff, float(np.max(np.abs(end - fast))))
    return cpu / n_reps, diff


def fast_config(worklist, staffing: Staffing, n_reps: int, repeats: int) -> tuple[float, float]:
    """Median (CPU, wall) seconds of one `simulate` call (n_reps replications, policy + no_ai)."""
    cpu, wall = [], []
    for r in range(repeats):
        t0, w0 = time.process_time(), time.perf_counter()
        simulate(worklist, POLICY, staffing, n_reps=n_reps, seed=r)
        cpu.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
    return float(np.median(cpu)), float(np.median(wall))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="small piles, for CI")
    ap.add_argument("--baseline-reps", type=int, default=2,
                    help="baseline replications timed (each ~1-2 s at 30k studies)")
    args = ap.parse_args()
    n, sizes, reps, repeats = 30_000, [10_000, 30_000, 100_000], 10, 3
    if args.smoke:
        n, sizes, reps, repeats = 3_000, [1_000, 3_000, 10_000], 3, 1
    staffing = Staffing()
    worklist = synthetic_worklist(n, seed=0)
    studies_per_config = 2 * reps * n  # policy + no_ai, each replication
    fast_s, fast_wall = fast_config(worklist, staffing, reps, repeats)
    base_rep_s, max_diff = baseline_config(worklist, staffing, args.baseline_reps, seed=0)
    base_s = base_rep_s * reps
    scaling = []
    for size in sizes:
        s, _ = fast_config(synthetic_worklist(size, seed=1), staffing, reps, repeats)
        scaling.append({"n_studies": size, "seconds_per_config": s,
                        "us_per_study": 1e6 * s / (2 * reps * size)})
    result = {
        "config": {"policy": POLICY, "baseline_policy": "no_ai", "n_studies": n, "n_reps": reps,
                   "staffing": staffing.to_dict(), "smoke": args.smoke},
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "timer": "time.process_time (CPU s)"},
        "fast_seconds_per_config": fast_s,
        "fast_wall_seconds_per_config": fast_wall,
        "fast_studies_per_second": studies_per_config / fast_s,
        "baseline_seconds_per_replication": base_rep_s,
        "baseline_seconds_per_config_extrapolated": base_s,
        "baseline_reps_timed": args.baseline_reps,
        "baseline_studies_per_second": 2 * n / base_rep_s,
        "baseline_max_end_time_difference_hours": max_diff,
        "scaling": scaling,
        "scaling_us_per_study_ratio_largest_to_smallest":
            scaling[-1]["us_per_study"] / scaling[0]["us_per_study"],
        "speedup": base_s / fast_s,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for row in scaling:
        print(f"fast, {row['n_studies']:>7,} studies x {reps} reps: "
              f"{row['seconds_per_config']:.3f} CPU s/config, {row['us_per_study']:.2f} us/study")
    print(f"baseline per-study SimPy: {base_rep_s:.2f} CPU s/replication, "
          f"{result['baseline_studies_per_second']:,.0f} studies/s; "
          f"same end times as fast (max diff {max_diff:.1e} h)")
    print(f"fast: {fast_s:.3f} CPU s ({fast_wall:.3f} s wall) per configuration "
          f"({n:,} studies, {reps} reps), "
          f"{result['fast_studies_per_second']:,.0f} studies/s")
    print(f"speedup vs per-study SimPy baseline: {result['speedup']:.1f}x")


if __name__ == "__main__":
    main()
