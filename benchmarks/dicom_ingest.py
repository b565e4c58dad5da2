"""DICOM ingest against the PNG path: images/s of decode + resize into shards, same studies, same
size, one run. The DICOM files are the generated studies written as a PACS export (every encoding
`data.synth.dicom` cycles: uncompressed, RLE Lossless, JPEG 2000 Lossless; MONOCHROME1/2; VOI LUT,
window or none), so the ratio is the cost of reading hospital files instead of pre-converted PNGs.
Also times the header scan (`load_dicom_tree`) and each encoding on its own. Writes
reports/benchmarks/dicom_ingest.json; prints the headline ratio (DICOM / PNG images/s) last.

    .venv/bin/python benchmarks/dicom_ingest.py             # 2,000 studies at 256 px -> 128 px
    .venv/bin/python benchmarks/dicom_ingest.py --smoke     # seconds
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from triage_ray.data.dicom import load_dicom_tree
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.representativeness import add_nih_demographics
from triage_ray.data.synth import generate_nih_tree
from triage_ray.data.synth.dicom import write_dicom_tree

OUT = Path("reports/benchmarks/dicom_ingest.json")


def rate(studies: pd.DataFrame, out: Path, size: int, repeats: int) -> float:
    """Best-of-`repeats` images/s of ingest_to_shards (serial: a per-core figure)."""
    best = 0.0
    for k in range(repeats):
        t0 = time.perf_counter()
        report = ingest_to_shards(studies, out / f"r{k}", image_size=size, parallel=False)
        assert report.n_out == len(studies), report.summary()
        best = max(best, len(studies) / (time.perf_counter() - t0))
    return best


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--source-px", type=int, default=256)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.smoke:
        args.n, args.source_px, args.size, args.repeats = 100, 64, 32, 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        generate_nih_tree(tmp / "png", args.n, image_size=args.source_px, seed=4, ceiling_sample=0)
        png = add_nih_demographics(load_nih(tmp / "png", labels=False), tmp / "png")
        t0 = time.perf_counter()
        manifest = write_dicom_tree(png, tmp / "dicom")
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        dicom, skipped = load_dicom_tree(tmp / "dicom")
        scan_s = time.perf_counter() - t0
        assert len(dicom) == len(png), (len(dicom), skipped)
        png_rate = rate(png, tmp / "shards-png", args.size, args.repeats)
        dicom_rate = rate(dicom, tmp / "shards-dicom", args.size, args.repeats)
        enc = manifest.set_index(manifest["file"].map(lambda f: str(Path(f).resolve())))["encoding"]
        per_encoding = {name: rate(group.drop(columns="encoding"), tmp / f"enc{i}", args.size, 1)
                        for i, (name, group) in enumerate(dicom.assign(
                            encoding=dicom["path"].map(enc)).groupby("encoding"))}
    out = {
        "n_studies": args.n, "source_px": args.source_px, "image_size": args.size,
        "png_img_s": png_rate, "dicom_img_s": dicom_rate, "ratio": dicom_rate / png_rate,
        "dicom_header_scan_files_s": len(dicom) / scan_s, "dicom_write_s": write_s,
        "dicom_img_s_by_encoding": per_encoding, "serial": True,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"{args.n:,} studies, {args.source_px} px -> {args.size} px, serial (one core)")
    print(f"PNG   ingest: {png_rate:,.0f} img/s")
    print(f"DICOM ingest: {dicom_rate:,.0f} img/s; header scan {out['dicom_header_scan_files_s']:,.0f} "
          "files/s")
    for name, r in per_encoding.items():
        print(f"  {name:>62}: {r:,.0f} img/s")
    print(f"wrote {args.out}")
    print(f"DICOM / PNG ingest images/s = {out['ratio']:.2f}x")
    return out


if __name__ == "__main__":
    main()
