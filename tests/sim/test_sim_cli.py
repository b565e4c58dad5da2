"""`python -m sim WORKLIST`: reads CSV/Parquet, reports bad rows by file/row/column, prints JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.__main__ import main
from sim.io import WorklistFileError, read_worklist


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_round_trip_and_json_output(tmp_path: Path, capsys):
    rows = [f"{b},{k:.3f},{int(a)}" for b, k, a in zip([0, 1, 2, 1] * 50, np.linspace(0, 1, 200),
                                                          [0, 0, 1, 1] * 50, strict=True)]
    path = write_csv(tmp_path / "wl.csv", "bucket,order_key,is_abnormal", rows)
    out = tmp_path / "result.json"
    assert main([str(path), "--policy", "prioritise", "--n-reps", "2", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["policy"] == "prioritise" and printed["n_studies"] == 200
    assert printed["metrics"]["abnormal_ttr_median_ratio"]["mean"] < 1.0


def test_parquet_with_bucket_names_and_unknown_labels(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "wl.parquet"
    pq.write_table(pa.table({"bucket": ["priority", "auto_normal", "uncertain"],
                             "p_adjusted": [0.9, 0.01, 0.4], "label": [-1, -1, -1]}), path)
    wl = read_worklist(path, order_key_column="p_adjusted")
    np.testing.assert_array_equal(wl.bucket, [2, 0, 1])
    assert wl.is_abnormal is None and wl.order_key is not None


@pytest.mark.parametrize(("rows", "match"), [
    (["0,0.1,1", "7,0.2,0"], r"wl.csv, row 3: bucket '7' is not one of"),
    (["0,0.1,1", "1,abc,0"], r"wl.csv, row 3: order_key 'abc' is not a finite number"),
    (["0,0.1,1", "1,0.2,-1"], r"wl.csv, row 3: label unknown in 1 of 2 rows"),
    (["0,0.1,maybe"], r"wl.csv, row 2: label 'maybe' is not a truth value"),
])
def test_bad_rows_are_named(tmp_path: Path, rows: list[str], match: str):
    path = write_csv(tmp_path / "wl.csv", "bucket,order_key,label", rows)
    with pytest.raises(WorklistFileError, match=match):
        read_worklist(path)


def test_cli_exit_code_and_message_on_bad_input(tmp_path: Path, capsys):
    path = write_csv(tmp_path / "wl.csv", "priority_bucket", ["1"])
    assert main([str(path)]) == 2
    assert "no 'bucket' column (have ['priority_bucket'])" in capsys.readouterr().err


def test_module_entry_point_lists_policies_from_the_registry():
    done = subprocess.run([sys.executable, "-m", "sim", "--help"], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], check=True)
    assert "{auto_clear,no_ai,prioritise}" in done.stdout
