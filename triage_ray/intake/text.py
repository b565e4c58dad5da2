"""Messy chief-complaint text: the way complaints are typed at a busy triage desk.

Real triage notes mix synonyms, abbreviations ("sob", "c/o", "w/"), shorthand for duration and
history, random casing and typos. The generator writes complaints through `compose` so a model
cannot key on a single clean phrase per class.
"""

from __future__ import annotations

import numpy as np

# Expansions a nurse may abbreviate; applied word-boundary-wise with probability ABBREV_P.
ABBREVIATIONS: dict[str, str] = {
    "shortness of breath": "sob", "nausea and vomiting": "n/v", "complains of": "c/o",
    "history of": "h/o", "with": "w/", "without": "w/o", "abdominal": "abd", "patient": "pt",
    "history": "hx", "days": "d", "hours": "hrs", "weeks": "wks", "yesterday": "yday",
    "and": "&", "fracture": "fx", "left": "l", "right": "r", "difficulty": "diff",
}
ABBREV_P = 0.5
HISTORY_TERMS: dict[str, tuple[str, ...]] = {
    "hypertension": ("htn", "high blood pressure", "hypertension"),
    "diabetes": ("dm", "diabetic", "t2dm", "diabetes"),
    "coronary_artery_disease": ("cad", "previous mi", "stents", "ihd"),
    "heart_failure": ("chf", "heart failure", "hf"),
    "copd": ("copd", "emphysema"),
    "asthma": ("asthma", "asthmatic"),
    "chronic_kidney_disease": ("ckd", "kidney disease", "on dialysis"),
    "cancer": ("ca", "cancer", "on chemo"),
    "pregnancy": ("pregnant", "preg", "g2p1"),
    "psychiatric_history": ("psych hx", "depression", "bipolar", "schizophrenia"),
    "immunosuppression": ("immunosuppressed", "on steroids", "transplant pt"),
}
PREFIXES: tuple[str, ...] = ("pt c/o", "c/o", "complains of", "presents with", "here for", "")
KEYBOARD_NEIGHBOURS: dict[str, str] = {
    "a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}


def typo(word: str, rng: np.random.Generator) -> str:
    """One random keystroke error: swap, drop, double or hit a neighbouring key."""
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(4))
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = KEYBOARD_NEIGHBOURS.get(word[i], word[i])
    return word[:i] + near[int(rng.integers(len(near)))] + word[i + 1:]


def abbreviate(text: str, rng: np.random.Generator) -> str:
    words = f" {text} "
    for full, short in ABBREVIATIONS.items():
        if f" {full} " in words and rng.random() < ABBREV_P:
            words = words.replace(f" {full} ", f" {short} ")
    return words.strip()


def duration_phrase(hours: float, rng: np.random.Generator) -> str:
    if hours < 1:
        return rng.choice(["just now", "started 30 min ago", "acute onset"])
    if hours < 24:
        h = max(1, round(hours))
        return str(rng.choice([f"x {h} hours", f"for {h} hrs", f"since {h}h", "since this am"]))
    days = round(hours / 24)
    if days <= 1:
        return str(rng.choice(["since yesterday", "x 1 day", "since last night"]))
    if days < 14:
        return str(rng.choice([f"x {days} days", f"for {days} days", f"{days}/7"]))
    return str(rng.choice([f"for {days // 7} weeks", "for weeks", "x several weeks", "months"]))


def compose(phrase: str, severity: str, assoc: str, duration: str, history: str, age: int,
            sex: str, rng: np.random.Generator, typo_rate: float) -> str:
    """One chief complaint from its parts (any part may be ""), then abbreviations and typos."""
    parts = []
    if rng.random() < 0.08:
        parts.append(f"{age}yo {sex.lower()}" if sex in ("F", "M") else f"{age}yo")
    prefix = str(rng.choice(PREFIXES)) if rng.random() < 0.35 else ""
    parts += [prefix, f"{severity} {phrase}".strip()]
    if assoc:
        parts.append(f"{rng.choice(['with', 'and', ','])} {assoc}")
    if duration:
        parts.append(duration)
    if history:
        parts.append(f"{rng.choice(['history of', 'hx', 'known'])} {history}")
    text = abbreviate(" ".join(p for p in parts if p).replace(" ,", ","), rng)
    words = [typo(w, rng) if rng.random() < typo_rate else w for w in text.split()]
    text = " ".join(words)
    style = rng.random()
    if style < 0.1:
        return text.upper()
    return text.capitalize() if style < 0.45 else text
