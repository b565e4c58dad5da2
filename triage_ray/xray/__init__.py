"""The chest X-ray triage study: configuration, pipeline, scoring, model selection, sweep, pile.

Stages in order (each module's docstring says its input and output; docs/architecture.md lists
them with their types): `config` (XrayConfig) -> `sources` (labelled studies) -> `reference` (the
reference standard the bound is certified against) -> `sweep` (Tune over models; each trial
trains with `triage_ray.train` and is judged by `score`) -> `select` (the chosen trial) ->
`operating` (Tune over operating points of it) -> `predict` + `pile` (the scored worklist) ->
`brief` + `doubling` (does it double throughput?) -> `results` (metrics.json) ->
`triage_ray.report`. Import stays light: stages import torch and Ray when they run.
"""
