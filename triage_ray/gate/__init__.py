"""The intended-use gate: what the model may triage (`scope`) and whether an image looks like the
training data (`ood`). A study that fails goes to the NOT_TRIAGED bucket: read as usual."""

from triage_ray.gate.ood import FeatureDistance
from triage_ray.gate.scope import IntendedUse, image_reasons, image_stats, scope_reasons

__all__ = ["FeatureDistance", "IntendedUse", "image_reasons", "image_stats", "scope_reasons"]
