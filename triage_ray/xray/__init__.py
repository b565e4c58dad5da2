"""The chest X-ray triage study: configuration, pipeline, scoring, model selection, sweep, pile.

Stages in order (each module's docstring says its input and output):
`config` (XrayConfig) -> `sources` (labelled studies) -> `sweep` (Tune over models; each trial
trains with `triage_ray.train` and is judged by `score`) -> `select` (the chosen trial) ->
`predict` + `pile` (the scored worklist) -> `results` (metrics.json) -> `triage_ray.report`.
Import stays light: stages import torch and Ray when they run.
"""
