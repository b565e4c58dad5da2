"""Data for a study run: records per setting (generated or loaded) -> splits -> one Parquet file of
the rows the study reads, and a tokenizer per training split. Returns the index Ray Data reads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from triage_ray.intake.config import IntakeConfig
from triage_ray.intake.generate import generate_records
from triage_ray.intake.ingest import assign_splits, in_training_set, study_rows
from triage_ray.intake.load import load_records
from triage_ray.intake.schema import TASKS
from triage_ray.intake.tokenize import record_texts, train_tokenizer


def setting_key(relatedness: float | None) -> str:
    return "real" if relatedness is None else f"rel{relatedness:g}"


def _prevalence(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {t: {names[i]: float((df[t] == i).mean()) for i in range(len(names))}
            for t, names in TASKS.items()}


def prepare_data(cfg: IntakeConfig, run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """({setting: paths and vocab sizes}, {setting: data card}) for every data setting."""
    index: dict[str, Any] = {}
    cards: dict[str, Any] = {}
    for rel in cfg.settings():
        key = setting_key(rel)
        if rel is None:
            df, rep = load_records(cfg.data_path, cfg.column_map,  # type: ignore[arg-type]
                                   value_maps=cfg.value_maps, absent=cfg.absent,
                                   on_invalid=cfg.on_invalid)
            card = {"source": f"real file {cfg.data_path}", "load_report": dataclasses.asdict(rep)}
        else:
            df, card = generate_records(cfg.n_records, rel, cfg.data_seed)
        df = assign_splits(df, cfg.n_val, cfg.n_test, seed=cfg.data_seed)
        rows = study_rows(df, cfg.train_sizes).assign(setting=key)
        data_dir = run_dir / "data" / key
        data_dir.mkdir(parents=True, exist_ok=True)
        entry: dict[str, Any] = {"records": str((data_dir / "records.parquet").resolve()),
                                 "tokenizer": {}, "vocab": {}}
        rows.to_parquet(entry["records"], index=False)
        for size in cfg.train_sizes:
            train = rows[in_training_set(rows, size)]
            tok = train_tokenizer(record_texts(train), cfg.vocab_size)  # training split only
            tok_path = data_dir / f"tokenizer_n{size}.json"
            tok.save(str(tok_path))
            entry["tokenizer"][str(size)] = str(tok_path.resolve())
            entry["vocab"][str(size)] = tok.get_vocab_size()
        card["splits"] = {s: int((df["split"] == s).sum()) for s in ("train", "val", "test")}
        card["train_sizes"] = list(cfg.train_sizes)
        card["label_prevalence"] = _prevalence(df)
        card["missing_fraction"] = {c: float(v) for c, v in df.isna().mean().items() if v > 0}
        index[key], cards[key] = entry, card
    return index, cards
