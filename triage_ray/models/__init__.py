"""Vision backbones for the X-ray study: one registry of vetted timm names, one factory."""

from triage_ray.models.registry import BACKBONES, create_backbone, grayscale_normalisation

__all__ = ["BACKBONES", "create_backbone", "grayscale_normalisation"]
