"""SimPy model of radiologists reading a triage worklist: the judge of every configuration.

numpy + simpy only (never torch or Ray at import). Entry points:

    simulate(worklist, policy, staffing, n_reps=..., seed=...) -> SimResult
    sensitivity_table(worklist, grid={...}) -> list of rows

Definitions of every output: `sim.metrics.METRICS` and docs/simulation.md.
"""

from sim.config import READ_TIME_DISTRIBUTIONS, Staffing
from sim.metrics import METRICS
from sim.policies import POLICIES, register_policy
from sim.sensitivity import sensitivity_table
from sim.simulate import MetricSummary, SimResult, simulate
from sim.worklist import Worklist, synthetic_worklist, with_prevalence
from triage_ray.abstain.buckets import Bucket

__all__ = [
    "Bucket", "METRICS", "POLICIES", "READ_TIME_DISTRIBUTIONS", "MetricSummary", "SimResult",
    "Staffing", "Worklist", "register_policy", "sensitivity_table", "simulate",
    "synthetic_worklist", "with_prevalence",
]
