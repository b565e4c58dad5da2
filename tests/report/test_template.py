"""The memo's template layer: markup -> doc blocks, and no silent gaps."""

from __future__ import annotations

import pytest

from triage_ray.report.doc import Bullets, Callout, Heading, Para, Table
from triage_ray.report.template import TEMPLATE_DIR, parse_blocks, render_template

TEXT = """!! GENERATED.
## Decision
**Do not.**
- Why: one.
- Why: two,
  continued.

A paragraph
over two lines.
@table
@absent
~ small print
"""


def test_markup_maps_onto_blocks():
    table = Table(("a",), (("1",),))
    blocks = parse_blocks(TEXT, {"table": table, "absent": None})
    assert blocks == [Callout("GENERATED."), Heading("Decision"), Para("**Do not.**"),
                      Bullets(("Why: one.", "Why: two, continued.")),
                      Para("A paragraph over two lines."), table, Para("small print", small=True)]


def test_a_block_the_template_names_but_python_did_not_build_is_an_error():
    with pytest.raises(KeyError, match="@table"):
        parse_blocks("@table\n", {})


def test_a_missing_context_key_is_an_error_not_an_empty_string(tmp_path):
    import jinja2

    assert (TEMPLATE_DIR / "memo.md.j2").is_file()  # shipped as package data
    with pytest.raises(jinja2.UndefinedError):
        render_template("memo.md.j2", {"generated": True})
