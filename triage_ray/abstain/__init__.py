"""Abstention: three worklist buckets with a finite-sample bound, worklist order, prior shift.

Pipeline position: calibrate -> **abstain** -> simulate. numpy / scipy only; bucket codes are
`triage_ray.abstain.buckets.Bucket`.
"""

from triage_ray.abstain.guarantees import GUARANTEES, ReadStudies, certify
from triage_ray.abstain.policy import AbstentionPolicy, assign_buckets
from triage_ray.abstain.rules import (
    T_HIGH_RULES,
    T_LOW_RULES,
    register_t_high_rule,
    register_t_low_rule,
)
from triage_ray.abstain.shift import (
    adjust_posteriors,
    estimate_prior_bbse,
    estimate_prior_em,
    prior_shift_report,
)
from triage_ray.abstain.worklist import (
    UNCERTAIN_ORDERS,
    read_priority,
    read_value,
    register_uncertain_order,
    uncertain_order_key,
    worklist_order,
)

__all__ = [
    "GUARANTEES", "ReadStudies", "certify",
    "T_HIGH_RULES", "T_LOW_RULES", "UNCERTAIN_ORDERS", "AbstentionPolicy", "adjust_posteriors",
    "assign_buckets",
    "estimate_prior_bbse", "estimate_prior_em", "prior_shift_report", "read_value",
    "read_priority", "register_t_high_rule", "register_t_low_rule", "register_uncertain_order",
    "uncertain_order_key",
    "worklist_order",
]
