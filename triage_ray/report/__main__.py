"""`python -m triage_ray.report <run_dir>`: (re)build the memo, model card and sweep dashboard;
with `--export-deidentified DIR`, write a shareable copy of the run instead (report.export)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from triage_ray.report.build import REPORTS, ReportError, write_reports


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m triage_ray.report", description=__doc__)
    p.add_argument("run_dir", type=Path, help="reports/xray/<run-id>")
    p.add_argument("--only", nargs="+", choices=REPORTS, default=list(REPORTS))
    p.add_argument("--no-sensitivity", action="store_true",
                   help="skip the memo's assumption table (no re-simulation)")
    p.add_argument("--recompute-sensitivity", action="store_true",
                   help="re-simulate sensitivity.json even if the run has one")
    p.add_argument("--export-deidentified", type=Path, metavar="DIR",
                   help="write a copy without patient identifiers to DIR (docs/privacy.md)")
    p.add_argument("--with-pixels", action="store_true",
                   help="with --export-deidentified: include the review page (it shows images)")
    args = p.parse_args(argv)
    if args.export_deidentified:
        from triage_ray.report.export import ExportLeak, export_deidentified

        try:
            out = export_deidentified(args.run_dir, args.export_deidentified,
                                      pixels=args.with_pixels)
        except (ExportLeak, FileExistsError, FileNotFoundError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"de-identified copy: {out}")
        return 0
    try:
        write_reports(args.run_dir, only=tuple(args.only), sensitivity=not args.no_sensitivity,
                      recompute_sensitivity=args.recompute_sensitivity)
    except (ReportError, FileNotFoundError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
