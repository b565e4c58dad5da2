"""A tiny document model, so one memo's content renders to Markdown, HTML and PDF alike.

The memo and model card are built once as a list of blocks; `render.py` and `pdf.py` turn the same
blocks into each format, so the three twins cannot disagree on a number. Inline markup is limited
to **bold**, which all three formats support.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2  # 1 is the title; sections are 2, subsections 3


@dataclass(frozen=True)
class Para:
    text: str
    small: bool = False  # footnote-sized (sources, provenance)


@dataclass(frozen=True)
class Callout:
    """A boxed notice (e.g. "generated data"); `tone` is "warning" or "note"."""

    text: str
    tone: str = "warning"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] | None = None  # relative column widths (PDF); None: equal
    caption: str = ""

    def __post_init__(self) -> None:
        n = len(self.header)
        for i, row in enumerate(self.rows):
            if len(row) != n:
                raise ValueError(f"Table row {i} has {len(row)} cells, header has {n}: {row!r}")
        if self.widths is not None and len(self.widths) != n:
            raise ValueError(f"Table widths has {len(self.widths)} entries, header has {n}")


@dataclass(frozen=True)
class Figure:
    path: Path  # a PNG written by figures.py
    caption: str


@dataclass(frozen=True)
class FigureRow:
    """Figures side by side (one row in the PDF, one after another in Markdown)."""

    figures: tuple[Figure, ...]


Block = Heading | Para | Callout | Bullets | Table | FigureRow


@dataclass
class Document:
    title: str
    subtitle: str = ""
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self

    def figures(self) -> list[Figure]:
        return [f for b in self.blocks if isinstance(b, FigureRow) for f in b.figures]
