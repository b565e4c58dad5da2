"""`write_reports` / `python -m triage_ray.report`: every report from one run directory."""

from __future__ import annotations

import shutil

import pytest
from pypdf import PdfReader

from triage_ray.report.__main__ import main
from triage_ray.report.build import ReportError, write_reports


@pytest.mark.ray
def test_all_reports_from_a_run_directory(generated_run, tune_experiment, tmp_path):
    run_dir = tmp_path / generated_run.name
    shutil.copytree(generated_run, run_dir)
    shutil.copytree(tune_experiment, run_dir / "tune")
    written = write_reports(run_dir, log=lambda _: None)
    assert set(written) == {"memo", "model_card", "dashboard", "review"}
    assert len(PdfReader(written["memo"]).pages) <= 3
    review = written["review"].read_text()
    assert "GENERATED DATA" in review and "image not available" in review  # no shards here
    assert "Not triaged: age 9" in review  # the gate's bucket shows each study's reason
    assert written["dashboard"] == run_dir / "dashboard.html"
    assert all(p.is_file() for p in written.values())
    page = written["dashboard"].read_text()
    import json

    op = json.loads((run_dir / "metrics.json").read_text())["operating"]
    assert f"Operating frontier ({op['n_points']} operating points" in page
    assert page.count('class="recommended"') == (op["recommended"] in
                                                 [op["points"][i] for i in op["pareto"]])


def test_a_failing_report_does_not_stop_the_others(generated_run, tmp_path):
    run_dir = tmp_path / generated_run.name
    shutil.copytree(generated_run, run_dir)  # no tune/ folder: the dashboard must fail
    shutil.rmtree(run_dir / "tune", ignore_errors=True)
    with pytest.raises(ReportError, match="1 of 2 reports failed") as e:
        write_reports(run_dir, only=("model_card", "dashboard"), log=lambda _: None)
    assert "tune: Tune experiment directory not found" in str(e.value)
    assert (run_dir / "model_card.md").is_file()


def test_command_line_reports_a_bad_run_dir(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 1
    assert "nope: run directory not found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown reports"):
        write_reports(tmp_path, only=("poster",))


def test_grad_cam_reads_a_stage_with_a_usable_map(tmp_path):
    """At 64 px the last stage is 2 x 2; the review page's saliency reads the deepest stage with an
    8 x 8 map, and returns one [0, 1] map per image at the image's size."""
    import numpy as np

    from triage_ray.models import create_backbone
    from triage_ray.report.review import cam_layer, grad_cam, overlay
    from triage_ray.train.loop import untrained_checkpoint

    model = create_backbone("resnet10t", num_outputs=1)
    assert cam_layer(model.feature_info, 64) == "layer2"  # stride 8: 8 x 8
    assert cam_layer(model.feature_info, 256) == "layer4"  # stride 32: 8 x 8
    assert cam_layer(model.feature_info, 16) == model.feature_info[0]["module"]
    untrained_checkpoint(tmp_path)
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    cam = grad_cam(tmp_path, images)
    assert cam.shape == (3, 64, 64) and cam.min() >= 0 and cam.max() <= 1
    rgb = overlay(images[0], cam[0])
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8


@pytest.mark.ray
@pytest.mark.parametrize("fixture", ["generated_run", "real_data_run"])
def test_every_output_carries_the_runs_provenance_banner(fixture, tune_experiment, tmp_path,
                                                         request):
    """memo, model card, summary, dashboard, review page, metrics.json and the worklist's own
    metadata all say where the run's data came from, from one record."""
    import html
    import json

    import pyarrow.parquet as pq

    from triage_ray.report.summary import render_summary
    from triage_ray.xray.provenance import WORKLIST_META_KEY, Provenance

    src = request.getfixturevalue(fixture)
    run_dir = tmp_path / src.name
    shutil.copytree(src, run_dir)
    shutil.copytree(tune_experiment, run_dir / "tune")
    written = write_reports(run_dir, log=lambda _: None)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    prov = Provenance.from_dict(metrics["provenance"])
    banner = prov.banner()
    assert metrics["data_note"] == banner and metrics["generated_data"] == prov.any_generated
    assert banner.startswith("GENERATED DATA" if fixture == "generated_run" else "Real data")
    pages = {"memo": (run_dir / "memo.md").read_text(), "summary": render_summary(metrics),
             **{k: written[k].read_text() for k in ("model_card", "dashboard", "review")}}
    first = banner.split(". ")[0]  # the banner's first sentence: what is generated or real
    for name, text in pages.items():
        assert first in " ".join(html.unescape(text).split()), name
    meta = pq.read_schema(run_dir / "worklist.parquet").metadata[WORKLIST_META_KEY]
    assert json.loads(meta)["banner"] == banner
