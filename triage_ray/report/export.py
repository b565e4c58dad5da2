"""A shareable copy of a run, without patient identifiers: what a vendor or a committee may see.

A run directory holds what a worklist needs (patient ids, SOP Instance UIDs, file paths, the
pile's pixels in shards and on the review page; docs/privacy.md lists each file). The export
keeps the decisions and drops the identities:

- metrics.json, config.json and the small JSON files beside them, with every file-system path
  replaced by "<redacted path>" (a PACS export's folder names can carry names or dates);
- the memo, model card, summary and dashboard, with the run's and the data's folders named
  generically;
- worklist.parquet keyed by a salted hash (HMAC-SHA256) of each study and patient id, so a site
  holding the key can link a row back and nobody else can; file paths dropped;
- no pixels (no shards, no review page, no checkpoints) unless `pixels=True` adds the review page.

The key is made once per run and kept in the run directory (`EXPORT_KEY_FILE`), never exported.
After writing, every exported file is searched for every study id and every patient id of six or
more characters (shorter ones occur by chance in any text); a hit is an error and the copy is
removed, so an export that would leak is never left behind.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from triage_ray.report.run import CONFIG_FILE, METRICS_FILE, RunArtifacts
from triage_ray.xray.provenance import write_parquet

EXPORT_KEY_FILE = "deidentified_export.key"  # stays in the run directory: re-links hashed rows
TEXT_REPORTS = ("memo.md", "memo.html", "model_card.md", "model_card.html", "summary.md",
                "dashboard.html")
SMALL_JSON = ("gate_check.json", "sensitivity.json", "run_plan.json")
PDF_REPORTS = ("memo.pdf",)
PIXEL_REPORTS = ("review.html",)
MIN_SCANNED_ID = 6
REDACTED = "<redacted path>"
_ABS_PATH = re.compile(r"^(/|[A-Za-z]:\\)")


class ExportLeak(RuntimeError):
    """An identifier was found in the export (which is then removed)."""


def pseudonym(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:20]


def export_key(run_dir: Path) -> bytes:
    """The run's salt, made on first use with 32 random bytes and kept beside its results."""
    path = run_dir / EXPORT_KEY_FILE
    if not path.is_file():
        path.write_text(secrets.token_hex(32) + "\n")
        path.chmod(0o600)
    return bytes.fromhex(path.read_text().strip())


def redact_paths(node: Any) -> Any:
    """JSON with every absolute path string replaced (keys kept, structure kept)."""
    if isinstance(node, dict):
        return {k: redact_paths(v) for k, v in node.items()}
    if isinstance(node, list):
        return [redact_paths(v) for v in node]
    if isinstance(node, str) and _ABS_PATH.match(node):
        return REDACTED
    return node


def export_deidentified(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                        pixels: bool = False) -> Path:
    """Write the shareable copy of `run_dir` into `out_dir` (module doc); returns out_dir."""
    run_dir, out = Path(run_dir).resolve(), Path(out_dir)
    run = RunArtifacts.load(run_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: the export writes into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    try:
        ids = _write(run, run_dir, out, export_key(run_dir), pixels)
        _scan(out, ids)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _write(run: RunArtifacts, run_dir: Path, out: Path, key: bytes, pixels: bool) -> set[str]:
    wl = run.worklist()
    ids = {str(v) for col in ("study_id", "patient_id") if col in wl for v in wl[col]}
    shared = wl.drop(columns=[c for c in ("path",) if c in wl]).assign(
        **{c: wl[c].astype(str).map(lambda v: pseudonym(key, v)) for c in ("study_id", "patient_id")
           if c in wl})
    write_parquet(shared, out / "worklist.parquet", run.get("provenance", None))
    for name in (METRICS_FILE, CONFIG_FILE, *SMALL_JSON):
        if (run_dir / name).is_file():
            data = redact_paths(json.loads((run_dir / name).read_text()))
            (out / name).write_text(json.dumps(data, indent=2))
    folders = _folders(run)
    for name in (*TEXT_REPORTS, *(PIXEL_REPORTS if pixels else ())):
        if (run_dir / name).is_file():
            text = (run_dir / name).read_text()
            for folder, word in folders:
                text = text.replace(folder, word)
            (out / name).write_text(text)
    for name in PDF_REPORTS:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, out / name)
    manifest = {"from_run": run.get("run_id"), "pixels": pixels,
                "worklist_keys": "HMAC-SHA256 of study_id and patient_id (first 20 hex digits); "
                                 f"the key stays in the run directory ({EXPORT_KEY_FILE})",
                "paths": f"absolute paths in JSON replaced by {REDACTED!r}",
                "files": sorted(p.name for p in out.iterdir())}
    (out / "EXPORT.json").write_text(json.dumps(manifest, indent=2))
    return ids


def _folders(run: RunArtifacts) -> list[tuple[str, str]]:
    """(folder, generic name) for the run's and the data's folders, longest first."""
    pairs = [(str(run.run_dir), "<run directory>")]
    for key, word in (("data_root", "<data root>"), ("pile_root", "<pile root>"),
                      ("reports_dir", "<reports folder>")):
        value = run.cfg(key, None)
        if value:
            pairs += [(str(Path(value).resolve()), word), (str(value), word)]
    return sorted({p for p in pairs if p[0] not in ("", ".")}, key=lambda p: -len(p[0]))


def _scan(out: Path, ids: set[str]) -> None:
    """Raise ExportLeak when any exported file holds an identifier (PDF text extracted first)."""
    index = prefix_index(ids)
    if not index:
        return
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        text = _pdf_text(path) if path.suffix == ".pdf" else path.read_bytes().decode("latin-1")
        hit = first_hit(text, index)
        if hit:
            raise ExportLeak(f"{path.name} holds identifier {hit[:3]}...: export removed")


def prefix_index(ids: set[str]) -> dict[str, list[str]]:
    """The ids of MIN_SCANNED_ID or more characters, by their first MIN_SCANNED_ID characters.

    One regex alternating over 60,000 ids (a 30k-study pile's study and patient ids) did not finish
    scanning a 2 MB file in ten minutes; a prefix lookup per text position takes about a second."""
    index: dict[str, list[str]] = {}
    for i in ids:
        if len(i) >= MIN_SCANNED_ID:
            index.setdefault(i[:MIN_SCANNED_ID], []).append(i)
    return index


def first_hit(text: str, index: dict[str, list[str]]) -> str | None:
    """The first id of `index` that occurs in `text`, or None."""
    for pos in range(len(text) - MIN_SCANNED_ID + 1):
        for candidate in index.get(text[pos:pos + MIN_SCANNED_ID], ()):
            if text.startswith(candidate, pos):
                return candidate
    return None


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
    except ImportError:  # pypdf is a dev dependency; without it the PDF is not exported unread
        raise ExportLeak(f"{path.name}: cannot check a PDF without pypdf (pip install pypdf)"
                         ) from None
    return " ".join(page.extract_text() or "" for page in PdfReader(path).pages)
