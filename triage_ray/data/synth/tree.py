"""Write a generated set in the NIH ChestX-ray14 layout, so the NIH loader reads it like the real one.

out_dir/images/<Image Index>.png   8-bit grayscale radiographs
out_dir/Data_Entry_2017.csv        NIH's columns exactly; labels are NIH-style (noisy)
out_dir/ground_truth.csv           per study: true findings, conspicuity, true/noisy label
out_dir/reference.csv              per study: a simulated radiologist panel's reads and majority
out_dir/GENERATED.md               says plainly that these are generated images, not patients
out_dir/generated_set.json         the parameters and measured properties (GeneratedSet)
"""

from __future__ import annotations

import json
import logging
import os
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from triage_ray.data.synth.ceiling import CeilingEstimate, estimate_ceiling
from triage_ray.data.synth.metadata import draw_studies
from triage_ray.data.synth.panel import REFERENCE_CSV, PanelConfig, draw_panel, panel_summary
from triage_ray.data.synth.render import StudySpec, render_chunk

log = logging.getLogger(__name__)

CHUNK = 256  # studies per Ray task / pool job: ~1-3 s of work, small enough to balance 2-16 cores
MIN_PARALLEL = 2 * CHUNK  # below this, starting workers costs more than it saves
DATA_ENTRY = "Data_Entry_2017.csv"
GROUND_TRUTH = "ground_truth.csv"
SET_JSON = "generated_set.json"
# Bumped whenever a tree's files change meaning or a file is added, so a cached tree written by an
# older generator is regenerated rather than reused. 1: before reference.csv; 2: reference.csv.
TREE_FORMAT = 2


@dataclass(frozen=True)
class GeneratedSet:
    """What was generated, and what it is like. `prevalence` is the realised NIH-style abnormal rate."""

    root: Path
    n_studies: int
    image_size: int
    seed: int
    prevalence: float
    requested_prevalence: float | None
    difficulty: float
    label_noise: bool
    true_abnormal_rate: float
    n_patients: int
    bayes_ceiling_auroc: float  # vs the written labels (nan when not estimated)
    bayes_ceiling_auroc_ci: tuple[float, float]
    bayes_ceiling_auroc_true: float  # vs the true labels
    label_noise_auroc: float  # a reader who sees only truly-abnormal-or-not, vs the written labels
    backend: str  # "ray" | "process" | "serial" | "cached"
    seconds: float  # rendering + writing, excluding the ceiling estimate
    images_per_s: float
    ceiling: dict = field(default_factory=dict)
    reference_panel: dict = field(default_factory=dict)  # panel.panel_summary: params, measured

    def to_dict(self) -> dict:
        d = asdict(self)
        d["root"] = str(self.root)
        return d


def generate_nih_tree(out_dir: str | os.PathLike, n_studies: int, *, image_size: int = 64,
                      seed: int = 0, prevalence: float | None = None, difficulty: float = 1.0,
                      label_noise: bool = True, parallel: bool = True, ceiling_sample: int = 400,
                      overwrite: bool = False, panel: PanelConfig | None = None) -> GeneratedSet:
    """Generate `n_studies` chest radiographs with NIH metadata/labels into `out_dir`.

    Deterministic for a seed whatever the backend: Ray tasks when Ray is initialised and
    `parallel`, else a process pool (large sets on multi-core machines), else serial. A tree
    already generated with the same arguments is reused; a different one raises unless
    `overwrite`; one written by an older generator (TREE_FORMAT) is regenerated, with a warning.
    `ceiling_sample` studies are re-rendered for the Bayes-ceiling estimate (0: skip). `panel`
    configures the simulated reference panel written to reference.csv (default PanelConfig():
    3 readers); it draws from its own random streams, so images and labels do not depend on it.
    """
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16 pixels, got {image_size}")
    root = Path(out_dir)
    panel = panel or PanelConfig()
    params = dict(n_studies=int(n_studies), image_size=int(image_size), seed=int(seed),
                  requested_prevalence=prevalence, difficulty=float(difficulty),
                  label_noise=bool(label_noise), tree_format=TREE_FORMAT,
                  reference_panel=panel.to_dict())
    if _outdated(root) and not overwrite:
        log.warning("%s was written by an older generator (tree format %s, current %d: no %s); "
                    "regenerating it", root, _saved_format(root), TREE_FORMAT, REFERENCE_CSV)
        overwrite = True
    cached = _reuse(root, params, overwrite)
    if cached is not None:
        return cached
    drawn = draw_studies(int(n_studies), seed=seed, prevalence=prevalence, difficulty=difficulty,
                         label_noise=label_noise, image_size=image_size)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    for stale in images.glob("*.png") if overwrite else ():
        stale.unlink()  # a smaller set must not inherit a larger one's images
    t0 = time.perf_counter()
    backend = _backend(parallel, len(drawn.specs))
    names = drawn.entries["Image Index"].tolist()
    for first, pngs in _render(drawn.specs, image_size, seed, backend):
        for name, png in zip(names[first:first + len(pngs)], pngs, strict=True):
            (images / name).write_bytes(png)
    drawn.entries.to_csv(root / DATA_ENTRY, index=False)
    drawn.truth.to_csv(root / GROUND_TRUTH, index=False)
    reference = draw_panel(drawn.truth, seed=seed, config=panel)
    reference.to_csv(root / REFERENCE_CSV, index=False)
    seconds = time.perf_counter() - t0

    truth = drawn.truth
    ceiling: CeilingEstimate | None = None
    if ceiling_sample > 0:
        ceiling = estimate_ceiling(drawn.specs, truth["true_abnormal"].to_numpy(),
                                   truth["noisy_label"].to_numpy(), size=image_size, seed=seed,
                                   n_sample=ceiling_sample)
    nan = float("nan")
    gen = GeneratedSet(
        root=root, n_studies=len(names), image_size=image_size, seed=seed,
        prevalence=float(truth["noisy_label"].mean()), requested_prevalence=prevalence,
        difficulty=float(difficulty), label_noise=bool(label_noise),
        true_abnormal_rate=float(truth["true_abnormal"].mean()),
        n_patients=int(drawn.entries["Patient ID"].nunique()),
        bayes_ceiling_auroc=ceiling.auroc_noisy if ceiling else nan,
        bayes_ceiling_auroc_ci=ceiling.auroc_noisy_ci if ceiling else (nan, nan),
        bayes_ceiling_auroc_true=ceiling.auroc_true if ceiling else nan,
        label_noise_auroc=ceiling.label_noise_auroc if ceiling else nan,
        backend=backend, seconds=seconds, images_per_s=len(names) / max(seconds, 1e-9),
        ceiling=ceiling.to_dict() if ceiling else {},
        reference_panel=panel_summary(reference, truth, panel),
    )
    (root / SET_JSON).write_text(json.dumps({"params": params, "set": gen.to_dict()}, indent=2))
    (root / "GENERATED.md").write_text(generated_notice(gen))
    log.info("generated %d studies at %d px in %.1f s (%s, %.0f img/s)", gen.n_studies,
             image_size, seconds, backend, gen.images_per_s)
    return gen


def _saved_format(root: Path) -> int | None:
    meta = root / SET_JSON
    if not meta.is_file():
        return None
    try:
        return int(json.loads(meta.read_text())["params"].get("tree_format", 1))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable: _reuse reports it


def _outdated(root: Path) -> bool:
    """A generated tree (it has generated_set.json) from an older generator version."""
    fmt = _saved_format(root)
    return fmt is not None and fmt < TREE_FORMAT


def _reuse(root: Path, params: dict, overwrite: bool) -> GeneratedSet | None:
    meta = root / SET_JSON
    if not meta.is_file() or overwrite:
        if (root / DATA_ENTRY).exists() and not overwrite:
            raise FileExistsError(f"{root} already holds {DATA_ENTRY} (not a generated set); "
                                  "choose another directory or pass overwrite=True")
        return None
    saved = json.loads(meta.read_text())
    n_png = sum(1 for _ in (root / "images").glob("*.png")) if (root / "images").is_dir() else 0
    if saved["params"] != params or n_png != params["n_studies"]:
        raise FileExistsError(
            f"{root} holds a different generated set ({saved['params']}, {n_png} PNGs); choose "
            "another directory or pass overwrite=True")
    if not (root / REFERENCE_CSV).is_file():
        raise FileExistsError(f"{root} is an incomplete generated set: {REFERENCE_CSV} is missing; "
                              "pass overwrite=True to regenerate it")
    s = dict(saved["set"], root=root, backend="cached")
    s["bayes_ceiling_auroc_ci"] = tuple(s["bayes_ceiling_auroc_ci"])
    return GeneratedSet(**s)


def _backend(parallel: bool, n: int) -> str:
    if not parallel or n < MIN_PARALLEL:
        return "serial"
    try:
        import ray

        if ray.is_initialized():
            return "ray"
    except ImportError:
        pass
    return "process" if (os.cpu_count() or 1) > 1 else "serial"


def _chunks(specs: list[StudySpec]) -> list[tuple[int, list[StudySpec]]]:
    return [(i, specs[i:i + CHUNK]) for i in range(0, len(specs), CHUNK)]


def _render(specs: list[StudySpec], size: int, seed: int,
            backend: str) -> Iterator[tuple[int, list[bytes]]]:
    """(first study index, PNG bytes) per chunk, as chunks finish. Workers return bytes rather
    than writing files, so a Ray cluster without a shared filesystem works too."""
    chunks = _chunks(specs)
    if backend == "ray":
        import ray

        task = ray.remote(num_cpus=1)(render_chunk)
        pending = {task.remote(c, size, seed): first for first, c in chunks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            yield pending.pop(done[0]), ray.get(done[0])
    elif backend == "process":
        workers = min(os.cpu_count() or 1, len(chunks))
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            futures = [(first, pool.submit(render_chunk, c, size, seed)) for first, c in chunks]
            for first, fut in futures:
                yield first, fut.result()
    else:
        for first, c in chunks:
            yield first, render_chunk(c, size, seed)


def generated_notice(gen: GeneratedSet) -> str:
    """GENERATED.md: what this folder is, and is not."""
    c = gen.ceiling
    ceiling = (
        f"- Estimated AUROC ceiling (ideal observer told each finding's shape and place, so "
        f"optimistic): {gen.bayes_ceiling_auroc:.3f} (95% CI {gen.bayes_ceiling_auroc_ci[0]:.3f}-"
        f"{gen.bayes_ceiling_auroc_ci[1]:.3f}) against the written labels, "
        f"{gen.bayes_ceiling_auroc_true:.3f} against the true labels; a reader who sees only "
        f"abnormal-or-not perfectly scores {gen.label_noise_auroc:.3f} against the written labels "
        f"({c.get('n_sample', 0)} sampled studies, {c.get('n_background', 0)} normals for the "
        "background covariance).\n"
        if c else "- AUROC ceiling: not estimated (ceiling_sample=0).\n"
    )
    panel = _panel_notice(gen.reference_panel)
    return f"""# GENERATED IMAGES: NOT PATIENTS, NOT FOR CLINICAL USE

Every image in this folder was drawn by a program (triage_ray.data.synth). None is a radiograph
of a person. Only the *metadata and labels* are real: each study copies one row of NIH
ChestX-ray14's label table (age, sex, view, follow-up structure, finding combination), read from
the label file that the torchxrayvision package ships. Patient ids are renumbered.

What it is for: exercising and comparing triage pipelines (training, calibration, abstention,
workflow simulation) end to end without patient data. What it is not: evidence about how a model
would perform on real radiographs. Findings are drawn from textbook descriptions with hand-set
contrast; real disease is more varied, and real confounders (hospital, scanner, devices) differ.

- Studies: {gen.n_studies} at {gen.image_size}x{gen.image_size} px, {gen.n_patients} patients,
  seed {gen.seed}, difficulty {gen.difficulty}, requested prevalence {gen.requested_prevalence}.
- Labels in Data_Entry_2017.csv are NIH-style: abnormal rate {gen.prevalence:.3f}. With label
  noise on ({gen.label_noise}), the true findings differ from them at the rates Google's 2019
  radiologist panel found for NIH images of the same NIH label and view; true abnormal rate
  {gen.true_abnormal_rate:.3f}. Per-study truth is in ground_truth.csv.
{ceiling}{panel}"""


def _panel_notice(summary: dict) -> str:
    """GENERATED.md's reference-standard paragraph, from panel.panel_summary."""
    if not summary:
        return ""
    cfg, m = summary["config"], summary["measured_vs_truth"]

    def pct(d: dict) -> str:
        lo, hi = d["ci95"]
        return f"{100 * d['rate']:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"

    readers = "; ".join(f"{c}: sensitivity {pct(r['sensitivity'])}, specificity "
                        f"{pct(r['specificity'])}" for c, r in m["readers"].items())
    maj = m["majority"]
    text = (
        f"- Reference standard (reference.csv): a *simulated* panel of {cfg['n_readers']} "
        "radiologists (triage_ray.data.synth.panel), drawn from each study's true findings and "
        "their conspicuity with per-finding detection rates from published reader studies; never "
        f"from a model or the images. Reader false-positive rate {cfg['false_positive_rate']:.3f} "
        f"on truly normal studies, shared per-study term sd {cfg['study_sd']}. Against the truth "
        f"(95% CI): {readers}. Majority vote: sensitivity {pct(maj['sensitivity'])}, specificity "
        f"{pct(maj['specificity'])}. Reader pairs disagree on "
        f"{100 * m['pairwise_disagreement']:.1f}% of studies (Robinson et al. 1999: 11-19%). "
        f"Cost: {summary['reads']} reads."
    )
    return textwrap.fill(text, width=98, subsequent_indent="  ", break_on_hyphens=False) + "\n"
