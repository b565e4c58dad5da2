"""The study dataset's rows and columns, checked without Ray (the map function and selection)."""

import numpy as np

from triage_ray.intake.ingest import assign_splits, in_training_set, study_rows
from triage_ray.intake.streams import PAD_ID, encode_study_batch, ids_column, select
from triage_ray.intake.tokenize import record_texts, train_tokenizer


def _rows(records):
    df = assign_splits(records[0], n_val=200, n_test=300, seed=0)
    rows = study_rows(df, [100, 400]).assign(setting="relA")
    toks = {f"relA@{n}": train_tokenizer(record_texts(rows[in_training_set(rows, n)]), 200).to_str()
            for n in (100, 400)}
    return rows, encode_study_batch(rows, toks, [100, 400, 900], max_len=24)


def test_splits_are_nested_and_disjoint(records):
    df = assign_splits(records[0], n_val=200, n_test=300, seed=0)
    assert (df.split == "val").sum() == 200 and (df.split == "test").sum() == 300
    small, large = in_training_set(df, 100), in_training_set(df, 400)
    assert small.sum() == 100 and large.sum() == 400 and (large | ~small).all()
    rows = study_rows(df, [100, 400])
    assert len(rows) == 900 and rows.record_id.is_unique


def test_encoded_columns_and_selection(records):
    rows, enc = _rows(records)
    assert enc[ids_column(100)].shape == (len(rows), 24)
    assert (enc[ids_column(400)] != PAD_ID).sum(axis=1).min() >= 3  # [CLS] ... [SEP] at least
    assert not enc[ids_column(900)].any()  # a size this setting has no tokenizer for: zeros
    train = select(enc, "relA", "train", 100)
    evals = select(enc, "relA", "eval")
    assert len(train["record_id"]) == 100 and set(evals["split"]) == {"val", "test"}
    assert not set(train["record_id"]) & set(evals["record_id"])
    assert len(select(enc, "relB", "eval")["record_id"]) == 0
    # each size has its own tokenizer, trained on its own training rows
    assert not np.array_equal(enc[ids_column(100)], enc[ids_column(400)])
