"""Data for a study run: records per setting (generated, loaded or a control) -> splits -> one
Parquet file of the rows the study reads, and a tokenizer per training set. Returns the index Ray
Data reads, with each setting's role ("headline", "map" or "control") and training sizes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.controls import control_records
from triage_ray.intake.generate import generate_records
from triage_ray.intake.ingest import assign_splits, in_training_set, study_rows
from triage_ray.intake.load import load_records
from triage_ray.intake.schema import TASKS
from triage_ray.intake.tokenize import record_texts, train_tokenizer

HEADLINE, MAP, CONTROL = "headline", "map", "control"
CONTROL_PREFIX = "control_"


def setting_key(relatedness: float | None) -> str:
    return "real" if relatedness is None else f"rel{relatedness:g}"


def _prevalence(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {t: {names[i]: float((df[t] == i).mean()) for i in range(len(names))}
            for t, names in TASKS.items()}


def _records(cfg: IntakeConfig, key: str, rel: float | None) -> tuple[pd.DataFrame, dict]:
    if key.startswith(CONTROL_PREFIX):
        n = cfg.control_size + cfg.n_val + cfg.n_test
        return control_records(key.removeprefix(CONTROL_PREFIX), n, cfg.data_seed)
    if rel is None:
        df, rep = load_records(cfg.data_path, cfg.column_map,  # type: ignore[arg-type]
                               value_maps=cfg.value_maps, absent=cfg.absent,
                               on_invalid=cfg.on_invalid)
        return df, {"source": f"real file {cfg.data_path}", "load_report": dataclasses.asdict(rep)}
    return generate_records(cfg.n_records, rel, cfg.data_seed)


def plan_settings(cfg: IntakeConfig) -> list[tuple[str, float | None, str]]:
    """(key, relatedness, role) of every data setting the study runs."""
    head = cfg.headline_setting()
    out = [(setting_key(r), r, HEADLINE if r == head else MAP) for r in cfg.settings()]
    return out + [(CONTROL_PREFIX + c, None, CONTROL) for c in cfg.controls]


def seed_count(cfg: IntakeConfig, role: str) -> int:
    """Seeds each setup trains per size: a control's verdict gates the study, so it gets more."""
    return cfg.control_seeds if role == CONTROL else cfg.seeds


def _sizes(cfg: IntakeConfig, role: str, pool: int) -> list[int]:
    if role == CONTROL:
        return [cfg.control_size]
    sizes = list(cfg.train_sizes)
    if role == HEADLINE and cfg.full_size and pool > sizes[-1]:
        sizes.append(pool)
    return sizes


def _tokenizer(rows: pd.DataFrame, size: int, vocab_size: int, path: Path) -> int:
    tok = train_tokenizer(record_texts(rows[in_training_set(rows, size)]), vocab_size)
    tok.save(str(path))  # trained on that training set only
    return tok.get_vocab_size()


def prepare_data(cfg: IntakeConfig, run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """({setting: paths, role, sizes, vocab sizes}, {setting: data card}) for every setting."""
    index: dict[str, Any] = {}
    cards: dict[str, Any] = {}
    for key, rel, role in plan_settings(cfg):
        df, card = _records(cfg, key, rel)
        df = assign_splits(df, cfg.n_val, cfg.n_test, seed=cfg.data_seed)
        pool = int((df["split"] == "train").sum())
        sizes = _sizes(cfg, role, pool)
        tune = [cfg.tune_size] if role == HEADLINE and cfg.tune_size not in sizes else []
        rows = study_rows(df, sizes + tune).assign(setting=key)
        data_dir = run_dir / "data" / key
        data_dir.mkdir(parents=True, exist_ok=True)
        entry: dict[str, Any] = {"records": str((data_dir / "records.parquet").resolve()),
                                 "role": role, "relatedness": rel, "sizes": sizes,
                                 "tokenizer": {}, "vocab": {}}
        rows.to_parquet(entry["records"], index=False)
        for size in sorted(set(sizes + tune)):
            path = data_dir / f"tokenizer_n{size}.json"
            entry["vocab"][str(size)] = _tokenizer(rows, size, cfg.vocab_size, path)
            entry["tokenizer"][str(size)] = str(path.resolve())
        card |= {"role": role, "splits": {s: int((df["split"] == s).sum())
                                          for s in ("train", "val", "test")},
                 "train_sizes": sizes, "label_prevalence": _prevalence(df),
                 "missing_fraction": {c: float(v) for c, v in df.isna().mean().items() if v > 0}}
        index[key], cards[key] = entry, card
    return index, cards


def headline_key(data_index: dict[str, Any]) -> str:
    return next(k for k, v in data_index.items() if v["role"] == HEADLINE)
