"""Calibrate model scores on numpy logits: temperature / Platt / isotonic, metrics with CIs.

Pipeline position: train -> **calibrate** -> abstain. Needs numpy, scipy and scikit-learn only;
matplotlib is imported when a figure is drawn.
"""

from triage_ray.calibrate import metrics
from triage_ray.calibrate.isotonic import IsotonicCalibrator
from triage_ray.calibrate.metrics import (
    adaptive_ece,
    auroc,
    brier,
    classwise_ece,
    ece,
    nll,
    top_label_ece,
)
from triage_ray.calibrate.platt import PlattScaler
from triage_ray.calibrate.plot import plot_reliability
from triage_ray.calibrate.registry import CALIBRATORS, make_calibrator, register_calibrator
from triage_ray.calibrate.report import calibration_report, calibration_table, reliability_curve
from triage_ray.calibrate.split import calibration_split
from triage_ray.calibrate.temperature import TemperatureScaler

__all__ = [
    "CALIBRATORS", "IsotonicCalibrator", "PlattScaler", "TemperatureScaler", "adaptive_ece",
    "auroc", "brier", "calibration_report", "calibration_split", "calibration_table",
    "classwise_ece", "ece", "make_calibrator", "metrics", "nll", "plot_reliability",
    "register_calibrator", "reliability_curve", "top_label_ece",
]
