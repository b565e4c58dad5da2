"""Text the Transformers read: structured fields as tokens, then the chief complaint.

A record becomes e.g. "[AGE_6] [SEX_F] [ARR_AMBULANCE] [HR_HIGH] [SPO2_LOW] [TEMP_NA] [PAIN_SEV]
[DUR_LT6H] [HX_COPD] [PRIOR_1] sob w/ wheezing x 2 days". Field tokens are a fixed vocabulary
registered as special tokens (never split, never lower-cased); only normal values emit no token, so
sequences stay short. Bins follow the adult ESI danger-zone and common fever/pain cut points.
The WordPiece vocabulary is trained on the training split only (`train_tokenizer`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import WordPieceTrainer

from triage_ray.intake.schema import ARRIVAL_MODES, COMORBIDITIES, COMORBIDITY_SEP, SEXES, TASKS

BASE_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# (field, [(upper bound exclusive, token suffix or "" for normal)], last suffix): value < bound
BINS: dict[str, tuple[list[tuple[float, str]], str]] = {
    "hr": ([(40, "CRIT_LOW"), (50, "LOW"), (101, ""), (131, "HIGH"), (151, "VHIGH")], "CRIT_HIGH"),
    "sbp": ([(80, "CRIT_LOW"), (90, "LOW"), (181, ""), (221, "HIGH")], "VHIGH"),
    "dbp": ([(50, "LOW"), (111, "")], "HIGH"),
    "rr": ([(8, "CRIT_LOW"), (10, "LOW"), (21, ""), (29, "HIGH"), (36, "VHIGH")], "CRIT_HIGH"),
    "spo2": ([(85, "CRIT"), (92, "LOW"), (95, "BORDER")], ""),
    "temp_c": ([(35.5, "LOW"), (38.05, ""), (38.55, "FEVER"), (39.55, "HIGH")], "VHIGH"),
    "pain": ([(0.5, "0"), (3.5, "MILD"), (6.5, "MOD")], "SEV"),
    "symptom_duration_h": ([(1, "LT1H"), (6, "LT6H"), (24, "LT24H"), (168, "LT1W")], "GT1W"),
    "prior_visits": ([(0.5, ""), (1.5, "1"), (3.5, "2_3")], "4P"),
}
PREFIX = {"symptom_duration_h": "DUR", "temp_c": "TEMP", "prior_visits": "PRIOR"}


def _tok(field: str, suffix: str) -> str:
    return f"[{PREFIX.get(field, field.upper())}_{suffix}]"


def field_tokens() -> list[str]:
    """Every structured token, in a fixed order (added to every tokenizer's vocabulary)."""
    toks = [f"[AGE_{d}]" for d in range(10)] + [f"[SEX_{s}]" for s in SEXES]
    toks += [f"[ARR_{a.upper()}]" for a in ARRIVAL_MODES] + ["[ARR_NA]"]
    for f, (bins, last) in BINS.items():
        toks += [_tok(f, s) for _, s in bins if s] + ([_tok(f, last)] if last else [])
        toks.append(_tok(f, "NA"))
    toks += [f"[HX_{c.upper()}]" for c in COMORBIDITIES]
    return toks


def _binned(values: np.ndarray, field: str) -> np.ndarray:
    bins, last = BINS[field]
    edges = np.array([b for b, _ in bins])
    names = np.array([_tok(field, s) if s else "" for _, s in bins]
                     + [_tok(field, last) if last else ""], dtype=object)
    out = names[np.searchsorted(edges, values, side="right")]
    return np.where(np.isnan(values), _tok(field, "NA"), out)


def record_texts(df: pd.DataFrame) -> list[str]:
    """One input string per record: field tokens, then the chief complaint as typed."""
    age = np.clip(np.nan_to_num(df["age"].to_numpy(float), nan=0.0) // 10, 0, 9).astype(int)
    cols = [np.array([f"[AGE_{d}]" for d in age], dtype=object),
            ("[SEX_" + df["sex"].astype(str) + "]").to_numpy(object),
            df["arrival_mode"].map(lambda a: f"[ARR_{a.upper()}]" if a else "[ARR_NA]")
            .to_numpy(object)]
    cols += [_binned(df[f].to_numpy(float), f) for f in BINS]
    hx = df["comorbidities"].map(
        lambda s: " ".join(f"[HX_{c.upper()}]" for c in s.split(COMORBIDITY_SEP) if c))
    cols += [hx.to_numpy(object), df["chief_complaint"].astype(str).to_numpy(object)]
    return [" ".join(p for p in parts if p) for parts in zip(*cols, strict=True)]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1000) -> Tokenizer:
    """A WordPiece tokenizer (BERT-style normalisation) trained on `texts` (training split only)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    special = list(BASE_SPECIAL) + field_tokens()
    trainer = WordPieceTrainer(vocab_size=vocab_size + len(special), special_tokens=special,
                               min_frequency=2, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def encode(tok: Tokenizer, texts: list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), both (n, max_len) int32, right-padded with [PAD]."""
    tok = Tokenizer.from_str(tok.to_str())  # a copy: padding settings must not leak to callers
    tok.enable_truncation(max_len)
    tok.enable_padding(length=max_len, pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int32)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int32)
    return ids, mask


def encode_records(batch: pd.DataFrame, tokenizer_json: str, max_len: int) -> dict[str, np.ndarray]:
    """Ray Data `map_batches` function: a batch of records -> model inputs and labels."""
    ids, mask = encode(Tokenizer.from_str(tokenizer_json), record_texts(batch), max_len)
    out = {"input_ids": ids, "attention_mask": mask,
           "record_id": batch["record_id"].to_numpy(np.int64)}
    for task in TASKS:
        out[task] = batch[task].to_numpy(np.int64)
    if "split" in batch:  # evaluation datasets mix val and test records
        out["is_test"] = (batch["split"] == "test").to_numpy(np.int64)
    return out
