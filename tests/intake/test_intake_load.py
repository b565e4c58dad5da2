import numpy as np
import pandas as pd
import pytest

from triage_ray.intake.load import load_records
from triage_ray.intake.schema import RECORD_COLUMNS, UNKNOWN_LABEL

ESI = {"urgency": {"1": "immediate", "2": "emergent", "3": "urgent", "4": "non_urgent",
                   "5": "non_urgent"}}


@pytest.fixture
def real_csv(records, tmp_path):
    """A 'hospital export': other column names, ESI 1-5 codes, one bad HR, one unknown label."""
    df = records[0].head(60).drop(columns=["record_id", "source"]).copy()
    df = df.rename(columns={"hr": "heart_rate", "urgency": "esi", "chief_complaint": "cc"})
    df["esi"] = df["esi"] + 1
    df.loc[4, "heart_rate"] = 400.0  # out of range
    df.loc[9, "esi"] = 7  # unknown level
    df.loc[12, "specialty"] = 33  # unknown service code
    path = tmp_path / "export.csv"
    df.to_csv(path, index=False)
    return path


MAP = {"hr": "heart_rate", "urgency": "esi", "chief_complaint": "cc"}


def test_missing_columns_name_file_and_column(real_csv):
    with pytest.raises(ValueError, match=r"export\.csv: missing column\(s\).*hr \(column 'hr'\)"):
        load_records(real_csv)


def test_unknown_schema_field_in_mapping(real_csv):
    with pytest.raises(ValueError, match="unknown schema field.*'heartrate'"):
        load_records(real_csv, {"heartrate": "heart_rate"})


def test_out_of_range_raises_with_row_field_value(real_csv):
    with pytest.raises(ValueError, match=r"row 4 .*field 'hr'.*400.*outside \[20, 250\]"):
        load_records(real_csv, MAP, value_maps=ESI)


def test_unknown_label_raises(real_csv):
    df = pd.read_csv(real_csv)
    df.loc[4, "heart_rate"] = 90
    df.to_csv(real_csv, index=False)
    with pytest.raises(ValueError, match=r"row 9 .*field 'urgency'.*unknown label"):
        load_records(real_csv, MAP, value_maps=ESI)


def test_skip_counts_every_row(real_csv):
    out, rep = load_records(real_csv, MAP, value_maps=ESI, on_invalid="skip")
    assert rep.n_in == 60 and rep.n_out == len(out) == 57
    assert rep.n_in == rep.n_out + sum(rep.skipped.values())
    assert rep.skipped == {"hr: outside [20, 250]": 1, "urgency: unknown label": 1,
                           "specialty: unknown label": 1}
    assert not {4, 9, 12} & set(out.record_id)  # record_id = row in the file
    assert list(out.columns) == list(RECORD_COLUMNS)
    assert (out.source == "export.csv").all()
    assert any("row 4: hr=" in e for e in rep.examples)


def test_null_keeps_rows_and_blanks_values(real_csv, records):
    out, rep = load_records(real_csv, MAP, value_maps=ESI, on_invalid="null")
    assert len(out) == 60 and rep.nulled["hr: outside [20, 250]"] == 1
    assert np.isnan(out.loc[4, "hr"]) and out.loc[9, "urgency"] == UNKNOWN_LABEL
    assert rep.unlabelled == {"urgency": 1, "specialty": 1}
    # ESI 1-5 mapped back onto the tiers the generator wrote
    want = records[0].head(60).urgency.to_numpy()
    keep = out.urgency.to_numpy() != UNKNOWN_LABEL
    np.testing.assert_array_equal(out.urgency.to_numpy()[keep], want[keep])


def test_absent_label_column_and_parquet(records, tmp_path):
    df = records[0].head(20).drop(columns=["record_id", "source", "specialty"])
    path = tmp_path / "one_label.parquet"
    df.to_parquet(path)
    with pytest.raises(ValueError, match="missing column.*specialty"):
        load_records(path)
    out, rep = load_records(path, absent=["specialty"])
    assert (out.specialty == UNKNOWN_LABEL).all() and rep.unlabelled["specialty"] == 20
    with pytest.raises(ValueError, match="both labels are absent"):
        load_records(path, absent=["specialty", "urgency"])


def test_bad_comorbidity_and_policy_name(records, tmp_path):
    df = records[0].head(5).drop(columns=["record_id", "source"]).copy()
    df.loc[2, "comorbidities"] = "diabetes|gout"
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match="row 2 .*comorbidities.*gout"):
        load_records(path)
    out, rep = load_records(path, on_invalid="null")
    assert out.loc[2, "comorbidities"] == "diabetes" and len(rep.nulled) == 1
    with pytest.raises(ValueError, match="on_invalid"):
        load_records(path, on_invalid="ignore")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_records(tmp_path / "x.xlsx")
