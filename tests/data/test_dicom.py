"""The DICOM source on files pydicom writes from generated studies: every encoding a PACS export
varies by presents the same pixels as the PNG path, tags land in the study table, and files that
are no radiograph are skips that name the file and say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from triage_ray.data.dicom import (
    dicom_age_years,
    dicom_to_uint8,
    load_dicom_gray,
    load_dicom_tree,
    normalise_view,
)
from triage_ray.data.images import load_gray
from triage_ray.data.ingest import ingest_to_shards
from triage_ray.data.nih import load_nih
from triage_ray.data.representativeness import add_nih_demographics
from triage_ray.data.synth import generate_nih_tree
from triage_ray.data.synth.dicom import GENERATED_COMMENT, dicom_dataset, write_dicom_tree


@pytest.fixture(scope="module")
def png_studies(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("png")
    generate_nih_tree(root, 12, image_size=80, seed=5, parallel=False, ceiling_sample=0)
    return add_nih_demographics(load_nih(root, labels=False), root)


@pytest.fixture(scope="module")
def export(tmp_path_factory, png_studies) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("pacs")
    return out, write_dicom_tree(png_studies, out, out_of_scope=True, broken=True, seed=1)


@pytest.fixture(scope="module")
def table(export) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    return load_dicom_tree(export[0])


def _by_file(manifest: pd.DataFrame) -> dict[str, str]:
    return {str(Path(f).resolve()): sid for f, sid in zip(manifest["file"], manifest["study_id"],
                                                          strict=True)}


def test_every_encoding_presents_the_png_pixels(export, table, png_studies):
    """MONOCHROME1/2 x VOI LUT / window / none x uncompressed / JPEG 2000 / RLE: same pixels."""
    studies, _ = table
    sid_of = _by_file(export[1])
    png = png_studies.set_index("study_id")["path"]
    seen = set()
    for row in studies.itertuples():
        sid = sid_of[row.path]
        if sid.startswith("probe"):
            continue
        for size in (80, 48):  # native, and resized the way ingest resizes
            got, want = load_gray(row.path, size), load_gray(png[sid], size)
            assert got.shape == want.shape == (size, size)
            assert np.abs(got.astype(int) - want.astype(int)).max() <= 1, (sid, row.transfer_syntax)
        seen.add((row.photometric, row.transfer_syntax))
    assert {p for p, _ in seen} == {"MONOCHROME1", "MONOCHROME2"}
    assert {"JPEG 2000 Image Compression (Lossless Only)", "RLE Lossless",
            "Explicit VR Little Endian"} <= {t for _, t in seen}


def test_tags_fill_the_study_table(export, table, png_studies):
    studies, _ = table
    sid_of = _by_file(export[1])
    studies = studies.assign(generated_id=studies["path"].map(sid_of))
    frontal = studies[~studies["generated_id"].str.startswith("probe")].set_index("generated_id")
    src = png_studies.set_index("study_id")
    assert set(frontal.index) == set(src.index)
    for sid, row in frontal.iterrows():
        assert row["view"] == src.loc[sid, "view"]
        assert row["patient_id"] == src.loc[sid, "patient_id"]
        assert row["age"] == pytest.approx(int(src.loc[sid, "age"]))
        assert row["sex"] == src.loc[sid, "sex"]
        assert row["body_part"] == "CHEST" and row["modality"] in {"CR", "DX"}
        assert (row["rows"], row["columns"]) == (80, 80)
    assert (studies["label"] == -1).all() and (studies["source"] == "dicom").all()
    assert studies["study_id"].is_unique
    probes = studies.set_index("generated_id")
    assert probes.loc["probe-0-lateral-view", "view"] == "LATERAL"
    assert probes.loc["probe-1-child", "age"] == 7
    assert probes.loc["probe-2-non-chest-body-part", "body_part"] == "HAND"
    assert probes.loc["probe-3-other-modality", "modality"] == "CT"


def test_files_that_are_no_study_are_named_skips(export, table):
    out, manifest = export
    studies, skipped = table
    reasons = {Path(p).name: r for p, r in skipped}
    assert "no pixel data" in reasons["no-pixels.dcm"]
    assert "unsupported transfer syntax" in reasons["video.dcm"]
    assert "MPEG2" in reasons["video.dcm"]
    assert "non-image SOP class" in reasons["report.dcm"]
    assert "not a DICOM" in reasons["README.txt"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == len(studies) + len(skipped)  # count in = count out


def test_ingest_writes_dicom_studies_like_pngs(table, png_studies, export, tmp_path):
    studies, _ = table
    sid_of = _by_file(export[1])
    report = ingest_to_shards(studies, tmp_path / "dcm", image_size=40, parallel=False)
    assert report.n_out == len(studies) and not report.skipped
    t = pq.read_table(tmp_path / "dcm" / report.shards[0]).to_pandas()
    png = png_studies.set_index("study_id")["path"]
    for sid, blob in zip(t["study_id"], t["image"], strict=True):
        path = studies.set_index("study_id").loc[sid, "path"]
        generated = sid_of[path]
        if generated.startswith("probe"):
            continue
        got = np.frombuffer(blob, np.uint8).reshape(40, 40).astype(int)
        assert np.abs(got - load_gray(png[generated], 40).astype(int)).max() <= 1


def test_a_file_broken_after_listing_is_an_ingest_skip(table, tmp_path):
    studies, _ = table
    victim = tmp_path / "victim.dcm"
    victim.write_bytes(Path(studies["path"].iloc[0]).read_bytes()[:400])  # header, cut pixels
    rows = pd.concat([studies.head(2), studies.head(1).assign(study_id="cut", path=str(victim))])
    report = ingest_to_shards(rows, tmp_path / "s", image_size=32, parallel=False)
    assert report.n_out == 2 and [p for p, _ in report.skipped] == [str(victim)]
    assert "cannot decode" in report.skipped[0][1]


def test_window_clips_and_monochrome1_inverts():
    """A narrow window saturates outside it (PS3.3 C.11.2.1.2); MONOCHROME1 shows low values white."""
    from triage_ray.data.synth.dicom import Encoding

    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))  # 64 x 64, 0..252
    meta = {"study_id": "ramp", "patient_id": "p", "view": "PA", "age": 40, "sex": "M"}
    ds = dicom_dataset(ramp, meta, Encoding("MONOCHROME2", "window", "1.2.840.10008.1.2.1"))
    ds.WindowCenter, ds.WindowWidth = 2048, 1024  # stored 1536..2560 -> PNG values 96..160
    shown = dicom_to_uint8(ds)[0]
    assert shown[ramp[0] < 90].max() == 0 and shown[ramp[0] > 166].min() == 255
    mid = (ramp[0] > 100) & (ramp[0] < 156)
    assert np.all(np.diff(shown[mid].astype(int)) > 0)  # strictly rising inside the window
    ds1 = dicom_dataset(ramp, meta, Encoding("MONOCHROME1", None, "1.2.840.10008.1.2.1"))
    assert int(ds1.pixel_array[0, 0]) > int(ds1.pixel_array[0, -1])  # stored inverted
    assert np.abs(dicom_to_uint8(ds1).astype(int) - ramp).max() <= 1  # presented upright
    assert ds1.ImageComments == GENERATED_COMMENT


def test_tag_parsers():
    assert dicom_age_years("045Y") == 45 and dicom_age_years("006M") == 0.5
    assert dicom_age_years("010D") == pytest.approx(10 / 365.25)
    assert dicom_age_years("45") == 45 and dicom_age_years("45.0") == 45  # RSNA's headers
    assert np.isnan(dicom_age_years("")) and np.isnan(dicom_age_years("45 years"))
    assert normalise_view("ll") == normalise_view("RL") == "LATERAL"
    assert normalise_view(" pa ") == "PA" and normalise_view("") == ""


def test_not_a_folder_and_nothing_readable(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dicom_tree(tmp_path / "absent")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="no DICOM image"):
        load_dicom_tree(tmp_path)
    with pytest.raises(Exception):  # noqa: B017 - pydicom's own error for a non-DICOM file
        load_dicom_gray(tmp_path / "a.txt", 32)


def test_real_rsna_headers_age_as_a_plain_number_stripped_or_unreadable(tmp_path):
    """Files carrying the RSNA Pneumonia Challenge's own header rows (PatientAge "43"): their ages
    are read; a stripped age is "not stated", a malformed one is named, an implausible one refused."""
    from triage_ray.data.reference import rsna_dicom_headers
    from triage_ray.data.synth.dicom import write_header_tree
    from triage_ray.gate import IntendedUse, scope_reasons

    headers = rsna_dicom_headers()
    rows = pd.concat([headers.head(6), headers[headers["PatientAge"].str.len() == 3].head(1)])
    rows = rows.reset_index(drop=True)
    rows.loc[1, "PatientAge"], rows.loc[2, "PatientAge"] = "", "4 5"
    pixels = [np.random.default_rng(i).integers(0, 255, (40, 40), dtype=np.uint8) for i in
              range(len(rows))]
    write_header_tree(rows, tmp_path, pixels)
    studies, skipped = load_dicom_tree(tmp_path)
    assert not skipped and len(studies) == len(rows)
    by_patient = studies.set_index("patient_id").loc[rows["PatientID"]]
    want = pd.to_numeric(rows["PatientAge"].where(~rows.index.isin([1, 2])), errors="coerce")
    np.testing.assert_array_equal(by_patient["age"].to_numpy(), want.to_numpy())
    assert by_patient["view"].tolist() == rows["ViewPosition"].tolist()
    reasons, _ = scope_reasons(by_patient.reset_index(), IntendedUse(), input_px=32)
    ages = [[r for r in rs if r.startswith("age")] for rs in reasons]
    assert ages[1] == ["age not stated"] and ages[2] == ["age '4 5' not readable"]
    assert ages[6] == [f"age {float(rows.loc[6, 'PatientAge']):g} is not plausible"]
    assert ages[0] == ages[3] == ages[4] == ages[5] == []  # plain-number adult ages pass
    declared, checked = scope_reasons(by_patient.reset_index(),
                                      IntendedUse(site_declares_adults=True), input_px=32)
    assert [r for r in declared[1] if r.startswith("age")] == []  # the declaration covers a gap
    assert declared[2] == reasons[2] and "declaration" in checked["age"]  # not a bad value


def test_files_the_generator_made_are_marked_and_read_as_generated(table):
    studies, _ = table
    assert studies["generated"].all()  # every file write_dicom_tree makes says so in its tags
