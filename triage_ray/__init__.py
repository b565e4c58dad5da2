"""triage-ray: train clinical triage models on Ray and choose them by their effect on the workflow.

Import stays light on purpose (no torch, no Ray at import time): stages import what they need.
"""

__version__ = "0.1.0"
