"""The shared PDF writer: Unicode text survives a round trip, and the page limit is enforced."""

from __future__ import annotations

import pytest
from pypdf import PdfReader

from triage_ray.report.doc import Bullets, Callout, Document, Heading, Para, Table
from triage_ray.report.pdf import PageLimitError, write_pdf


def test_round_trip_text_tables_and_unicode(tmp_path):
    doc = Document("Weekly audit ≤ 3 pages", "subtitle – with an en dash").add(
        Callout("Generated data: not a clinical result."),
        Heading("Numbers"), Para("Throughput **1.87×** (95% CI 1.80–1.95)."),
        Bullets(("first point", "second point µ")),
        Table(("metric", "value"), (("AUROC", "0.912"), ("ECE", "0.031"))),
    )
    path = write_pdf(doc, tmp_path / "a.pdf")
    reader = PdfReader(path)
    text = " ".join(p.extract_text() for p in reader.pages)
    for s in ("Weekly audit ≤ 3 pages", "1.87×", "1.80–1.95", "0.912", "second point µ"):
        assert s in text
    assert len(reader.pages) == 1


def test_page_limit_raises_and_writes_nothing(tmp_path):
    doc = Document("Too long").add(*(Para(f"Paragraph {i}. " + "word " * 100) for i in range(20)))
    target = tmp_path / "long.pdf"
    with pytest.raises(PageLimitError, match=r"needs \d+ pages, the limit is 1"):
        write_pdf(doc, target, max_pages=1)
    assert not target.exists()
    assert len(PdfReader(write_pdf(doc, target, max_pages=None)).pages) > 1


def test_table_rows_must_match_header():
    with pytest.raises(ValueError, match="row 1 has 1 cells, header has 2"):
        Table(("a", "b"), (("1", "2"), ("3",)))
