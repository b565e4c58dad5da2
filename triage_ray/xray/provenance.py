"""Where every input of a run came from, generated or real, in one record that drives every banner.

A run has three inputs that can each be generated or a site's own: the labelled studies the model
is trained on, the reference standard its miss-rate bound is certified against, and the unlabeled
pile it triages. A banner derived from the training source alone said "no patient images were
used" over a real pile, and said nothing over a generated pile behind a real model. Here each
input is stated, and the banner, the worklist's metadata and the memo's decision rule all read the
same record: a run whose model was trained or certified on generated data validates the pipeline,
never a decision about patients.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from triage_ray.xray.config import XrayConfig

GENERATOR = "triage-ray's generator"
WORKLIST_META_KEY = b"triage_ray.provenance"  # Parquet key-value metadata of worklist.parquet


@dataclass(frozen=True)
class Origin:
    """One input: generated or real, and what it is in words ("CheXpert at /data/chexpert")."""

    generated: bool
    what: str

    def words(self) -> str:
        return f"GENERATED ({self.what})" if self.generated else f"real ({self.what})"


@dataclass(frozen=True)
class Provenance:
    training: Origin
    reference: Origin
    pile: Origin

    @classmethod
    def of(cls, *, source: str, data_root: str | None, reference_source: str,
           label_source: str, pile_root: str | None, pile_layout: str,
           pile_generated: bool | None = None) -> Provenance:
        """From the run's configuration (`XrayConfig` fields, resolved reference); once the pile
        is read, `pile_generated` says whether a --pile-root folder held only files the
        generator marked as its own."""
        trained_on_generated = source == "generated"
        training = Origin(trained_on_generated,
                          f"{GENERATOR}, NIH layout" if trained_on_generated
                          else f"{source} at {data_root}")
        # the simulated panel exists only for generated studies; any reference over generated
        # studies (written labels, a CSV) certifies generated images, whoever labelled them
        reference = Origin(reference_source == "panel" or trained_on_generated, label_source)
        if not pile_root:
            pile = Origin(True, f"{GENERATOR}, NIH layout")
        elif pile_generated:
            pile = Origin(True, f"{pile_layout} export at {pile_root}, every file made by {GENERATOR}")
        else:
            pile = Origin(False, f"{pile_layout} export at {pile_root}")
        return cls(training, reference, pile)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        return cls(**{k: Origin(**d[k]) for k in ("training", "reference", "pile")})

    @classmethod
    def from_metrics(cls, metrics: dict[str, Any]) -> Provenance:
        """A run's record; a run from before the record existed gets one derived from the flags
        it kept (its training source, its pile's `generated`, its reference source)."""
        if metrics.get("provenance"):
            return cls.from_dict(metrics["provenance"])
        trained = bool(metrics.get("generated_data"))
        pile = metrics.get("pile") or {}
        ref = metrics.get("reference") or {}
        return cls(Origin(trained, str((metrics.get("data") or {}).get("source", "?"))),
                   Origin(trained or ref.get("source") == "panel", str(ref.get("label_source"))),
                   Origin(bool(pile.get("generated", trained)), str(pile.get("root", "?"))))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "any_generated": self.any_generated,
                "pipeline_only": self.pipeline_only, "banner": self.banner()}

    @property
    def any_generated(self) -> bool:
        return self.training.generated or self.reference.generated or self.pile.generated

    @property
    def pipeline_only(self) -> bool:
        """True when the model was trained or certified on generated data: such a run shows
        that the pipeline works, and no decision about patients may follow from it."""
        return self.training.generated or self.reference.generated

    def opening(self, pile_read: bool) -> str:
        """The run's first statement of its inputs: the banner, except that a --pile-root folder
        not yet read is neither called real nor generated (every file could be the generator's)."""
        if pile_read or self.pile.generated:
            return self.banner()
        return (f"Inputs: training data {self.training.words()}; reference standard "
                f"{self.reference.words()}; pile at {self.pile.what}: real unless every file is "
                f"marked as made by {GENERATOR}, decided when it is read.")

    def banner(self) -> str:
        """The one sentence every output carries at its top."""
        inputs = (f"training data {self.training.words()}; reference standard "
                  f"{self.reference.words()}; pile {self.pile.words()}.")
        if self.training.generated and self.pile.generated:  # the reference is then generated too
            return ("GENERATED DATA: every image in this run was synthesised by triage-ray's "
                    "generator (metadata drawn from the real NIH ChestX-ray14 label table). No "
                    "patient images were used; the figures describe the pipeline, not clinical "
                    "performance.")
        if self.pipeline_only:
            return ("MIXED DATA, NOT A CLINICAL RESULT: the model was trained or certified on "
                    "generated images, so it has not been shown to work on patients; the pile "
                    "holds real studies, ordered here only to test the pipeline on this site's "
                    f"files. Inputs: {inputs}")
        if self.pile.generated:
            return ("MIXED DATA: the model was trained and certified on real studies, but the pile "
                    "is GENERATED: its worklist, throughput and waiting times describe generated "
                    f"studies, not this site's backlog. Inputs: {inputs}")
        return f"Real data: {inputs}"


def provenance_of(cfg: XrayConfig, label_source: str,
                  pile_generated: bool | None = None) -> Provenance:
    """The record of a run configured by `cfg` (see `Provenance.of`)."""
    return Provenance.of(source=cfg.source, data_root=cfg.data_root,
                         reference_source=cfg.reference_source, label_source=label_source,
                         pile_root=cfg.pile_root, pile_layout=cfg.pile_source,
                         pile_generated=pile_generated)


def write_parquet(frame: pd.DataFrame, path: Path, provenance: dict[str, Any] | None) -> Path:
    """`frame` as Parquet with the run's provenance (banner included) in its key-value metadata,
    so a worklist says where its scores came from wherever the file travels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if provenance is not None:
        meta = {**(table.schema.metadata or {}), WORKLIST_META_KEY: json.dumps(provenance).encode()}
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, path)
    return path
