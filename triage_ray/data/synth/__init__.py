"""Generated chest radiographs in the NIH ChestX-ray14 layout (the embedded default data set).

The images are drawn by a program; the metadata and labels are real NIH rows. See GENERATED.md
in any generated folder and docs/data.md.
"""

from triage_ray.data.synth.tree import GeneratedSet, generate_nih_tree

__all__ = ["GeneratedSet", "generate_nih_tree"]
