"""The worklist review page: what the model did to the pile, one study at a time, with the image.

    python -m triage_ray.report.review reports/xray/<run-id>     # -> <run-id>/review.html

One self-contained HTML file (images inline, no script, no network) with a section per bucket:
cleared (auto-normal) studies first, lowest score first, for the audit; then priority, uncertain,
and the gate's not-triaged studies with the reason each was refused. Each study shows its
thumbnail as the model saw it, a Grad-CAM overlay of the abnormal logit (Selvaraju et al. 2017;
captum's LayerGradCam on the backbone's last feature stage), its calibrated p and its place in the
reading order. Generated data says so at the top.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from triage_ray.report.run import RunArtifacts

PER_BUCKET = 12
MIN_CAM_SIDE = 8  # Grad-CAM's map: at least 8 x 8 cells (see cam_layer)
THUMB_PX = 160
SECTIONS = (  # bucket name, heading, how the sample is ordered
    ("auto_normal", "Cleared without a read (auto-normal): lowest score first, for the audit", "p"),
    ("priority", "Read first (priority)", "rank"),
    ("uncertain", "The model abstains (uncertain): read in the model's order", "rank"),
    ("not_triaged", "Not triaged: outside the intended use, read as usual", "rank"),
)
CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
.banner{background:#b00020;color:#fff;padding:10px 14px;font-weight:600;border-radius:4px}
.provenance{background:#eef3fb;border-left:5px solid #2c5aa0;padding:8px 12px}
.grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ccc;border-radius:4px;
padding:6px;width:334px}.card img{width:160px;height:160px;image-rendering:pixelated}
.meta{font-size:12px;color:#444;overflow-wrap:anywhere}.reason{color:#8a4b00}h2{margin-top:28px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"""


def _png(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(img)
    im.resize((THUMB_PX, THUMB_PX), Image.Resampling.BILINEAR).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def overlay(gray: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """RGB: the image with the saliency map (0-1) blended in as a heat colour where it is high."""
    from matplotlib import colormaps

    heat = colormaps["inferno"](cam)[..., :3]
    base = np.repeat(gray[..., None] / 255.0, 3, axis=2)
    alpha = 0.55 * cam[..., None]
    return (255 * ((1 - alpha) * base + alpha * heat)).clip(0, 255).astype(np.uint8)


def cam_layer(feature_info: list[dict[str, Any]], input_px: int) -> str:
    """The deepest feature stage whose map is at least MIN_CAM_SIDE wide (timm's feature_info).

    Grad-CAM usually reads the last stage, but at this project's input sizes that map is 2 x 2
    (64 px at stride 32): one blob per quadrant says nothing about where in the chest the score
    came from. An 8 x 8 map (stride 8 at 64 px) does, at the cost of less semantic features."""
    fit = [f for f in feature_info if input_px // int(f["reduction"]) >= MIN_CAM_SIDE]
    return str((fit[-1] if fit else feature_info[0])["module"])


def grad_cam(checkpoint_dir: str | Path, images: np.ndarray) -> np.ndarray:
    """(N, H, W) saliency in [0, 1] of the abnormal logit for (N, H, W) uint8 images."""
    import torch
    from captum.attr import LayerAttribution, LayerGradCam

    from triage_ray.train.tensors import images_to_tensor
    from triage_ray.xray.predict import load_checkpoint_model

    model, mean, std = load_checkpoint_model(checkpoint_dir)
    layer = model.get_submodule(cam_layer(model.feature_info, images.shape[1]))
    x = images_to_tensor({"image": [im.tobytes() for im in images]}, mean, std)
    cam = LayerGradCam(lambda t: model(t)[:, 0], layer).attribute(x, relu_attributions=True)
    cam = LayerAttribution.interpolate(cam, tuple(images.shape[1:]), "bilinear")[:, 0]
    cam = cam.detach().numpy() if isinstance(cam, torch.Tensor) else np.asarray(cam)
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0)


def pile_images(shard_dir: Path, ids: list[str]) -> dict[str, np.ndarray]:
    """study_id -> (H, W) uint8 from the pile's shards, for the studies in `ids` ({} when the run
    directory no longer holds its shards: the page then says so on each card)."""
    import pyarrow.parquet as pq

    from triage_ray.data.stream import batch_to_images, shard_files

    if not shard_dir.is_dir():
        return {}
    want, out = set(ids), {}
    for f in shard_files(shard_dir):
        t = pq.read_table(f, columns=["study_id", "image"]).to_pydict()
        hits = [i for i, s in enumerate(t["study_id"]) if s in want]
        if hits:
            imgs = batch_to_images({"image": [t["image"][i] for i in hits]})
            out.update({t["study_id"][i]: img for i, img in zip(hits, imgs, strict=True)})
    return out


def sample_sections(worklist: pd.DataFrame, per_bucket: int = PER_BUCKET, seed: int = 0
                    ) -> list[tuple[str, str, pd.DataFrame, int]]:
    """(bucket, heading, sampled rows, bucket size) per section. Cleared: the lowest scores;
    others: an even spread over the bucket's reading order (first, last and between)."""
    out = []
    for name, heading, order in SECTIONS:
        rows = worklist[worklist["bucket_name"] == name]
        if order == "p":
            pick = rows.sort_values("p_calibrated").head(per_bucket)
        else:
            rows = rows.sort_values("read_rank")
            idx = np.unique(np.linspace(0, len(rows) - 1, min(per_bucket, len(rows))).astype(int))
            pick = rows.iloc[idx] if len(rows) else rows
        out.append((name, heading, pick, len(rows)))
    return out


def _card(row: Any, img: np.ndarray | None, cam: np.ndarray | None) -> str:
    e = html.escape
    if img is None:
        pics = "<div class='meta'>image not available (the run's pile shards are gone)</div>"
    else:
        pics = f"<img alt='study {e(str(row.study_id))}' src='{_png(img)}'>"
        if cam is not None:
            pics += f"<img alt='saliency' src='{_png(overlay(img, cam))}'>"
    reason = (f"<div class='reason'>Not triaged: {e(row.gate_reason)}</div>"
              if getattr(row, "gate_reason", "") else "")
    return (f"<div class='card'>{pics}<div class='meta'>study {e(str(row.study_id))} · view "
            f"{e(str(row.view) or 'unknown')}<br>calibrated p(abnormal) {row.p_calibrated:.3f} · "
            f"read #{int(row.read_rank) + 1:,}</div>{reason}</div>")


def build_review(run: RunArtifacts, per_bucket: int = PER_BUCKET) -> str:
    wl = run.worklist()
    if "gate_reason" not in wl:
        wl = wl.assign(gate_reason="")
    sections = sample_sections(wl, per_bucket)
    ids = [s for _, _, rows, _ in sections for s in rows["study_id"].astype(str)]
    images = pile_images(run.run_dir / "shards" / "pile", ids)
    ckpt = run.get("best.checkpoint_path", None)
    have = [s for s in ids if s in images]
    cams = {}
    if ckpt and Path(ckpt).is_dir() and have:
        cams = dict(zip(have, grad_cam(ckpt, np.stack([images[s] for s in have])), strict=True))
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Worklist review "
             f"- run {e(str(run.get('run_id')))}</title><style>{CSS}</style></head><body>"]
    if run.get("generated_data", False):
        parts.append(f"<p class='banner'>NOT A CLINICAL RESULT. {e(str(run.get('data_note')))}</p>")
    else:
        parts.append(f"<p class='provenance'>{e(str(run.get('data_note')))}</p>")
    counts = run.get("pile.bucket_counts")
    parts.append(f"<h1>Worklist review: run {e(str(run.get('run_id')))}</h1><p>What the model did "
                 f"to the pile: {run.get('pile.n_scored'):,} studies scored, "
                 f"{run.get('pile.n_skipped'):,} files skipped (named in metrics.json). Each card: "
                 "the image as "
                 "the model saw it, the Grad-CAM saliency of its abnormal score (bright: where the "
                 "score came from), the calibrated probability and the place in the reading order. "
                 "A sample per bucket; the full list is worklist.parquet.</p><table><tr>"
                 + "".join(f"<th>{e(k)}</th>" for k in counts) + "</tr><tr>"
                 + "".join(f"<td>{v:,}</td>" for v in counts.values()) + "</tr></table>")
    gate = run.get("pile.gate", None)
    if gate:
        parts.append("<p>Intended use (the gate enforces it): " + "; ".join(
            e(r) for r in gate["rules"]) + ".</p>")
    for _bucket, heading, rows, n in sections:
        parts.append(f"<h2>{e(heading)}: {n:,} studies</h2>")
        if not n:
            parts.append("<p>None in this run.</p>")
            continue
        parts.append(f"<p class='meta'>{len(rows)} shown.</p><div class='grid'>")
        parts += [_card(r, images.get(str(r.study_id)), cams.get(str(r.study_id)))
                  for r in rows.itertuples()]
        parts.append("</div>")
    parts.append(f"<p class='meta'>Written from {e(run.metrics_path.name)} and worklist.parquet in "
                 f"{e(str(run.run_dir))}.</p></body></html>")
    return "\n".join(parts)


def write_review(run_dir: str | Path, out: str | Path | None = None) -> Path:
    run = RunArtifacts.load(Path(run_dir))
    path = Path(out) if out else run.run_dir / "review.html"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(build_review(run), encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Write a run's worklist review page (review.html).")
    ap.add_argument("run_dir")
    print(write_review(ap.parse_args(argv).run_dir))


if __name__ == "__main__":
    main()
