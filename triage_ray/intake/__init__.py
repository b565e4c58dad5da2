"""Intake-record triage study: urgency tier (4) and routed sub-specialty (12) from intake forms.

Pipeline, one module per step: schema -> generate (or load) -> ingest (Parquet splits) -> tokenize /
features -> models (XGBoost, single-task and multi-task Transformers) + weighting -> train (Ray Train
loops) -> trials (Ray Tune) -> evaluate -> transfer -> report. `study.run_intake_study` runs it all.
Import stays light: the heavy modules import torch / Ray / XGBoost themselves.
"""
