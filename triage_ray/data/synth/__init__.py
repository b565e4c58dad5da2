"""Generated chest radiographs in the NIH ChestX-ray14 layout (the embedded default data set).

The images are drawn by a program; the metadata and labels are real NIH rows; reference.csv holds
a simulated radiologist panel's reads (synth/panel.py). See GENERATED.md
in any generated folder and docs/data.md.
"""

from triage_ray.data.synth.panel import PanelConfig
from triage_ray.data.synth.tree import GeneratedSet, generate_nih_tree

__all__ = ["GeneratedSet", "PanelConfig", "generate_nih_tree"]
