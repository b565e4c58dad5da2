"""Prose from a Jinja2 template, blocks for the PDF/Markdown/HTML twins.

The memo's words live in `templates/*.md.j2`, its decisions and numbers in Python (a context of
plain strings and flags), so an editor can reword a sentence without touching the logic and the
logic cannot be bypassed by a template. The template writes a small line-based markup that maps
one-to-one onto `triage_ray.report.doc` blocks:

    ## Heading / ### Subheading     a heading
    !! text                          a boxed warning (!i: a boxed note)
    - item                           bullets (consecutive lines)
    ~ text                           a small paragraph (sources, provenance)
    @name                            a block built in Python (a table or figures), by name
    anything else                    paragraph text; a blank line ends the paragraph

Jinja2 runs with StrictUndefined: a context key the template names but Python did not supply is
an error, not an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from triage_ray.report.doc import Block, Bullets, Callout, Heading, Para

TEMPLATE_DIR = Path(__file__).parent / "templates"


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """The template `name` (in TEMPLATE_DIR) rendered with `context`."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
    )
    return env.get_template(name).render(**context)


def parse_blocks(text: str, named: Mapping[str, Block | None]) -> list[Block]:
    """The markup above as doc blocks; `named` supplies the `@name` blocks (None: left out)."""
    blocks: list[Block] = []
    para: list[str] = []
    bullets: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(Para(" ".join(para)))
            para.clear()
        if bullets:
            blocks.append(Bullets(tuple(bullets)))
            bullets.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("- "):
            if para:
                flush()
            bullets.append(line[2:].strip())
        elif bullets and raw.startswith("  "):  # a wrapped bullet continues
            bullets[-1] += " " + line
        elif line.startswith(MARKUP):
            flush()
            blocks.extend(_markup_block(line, named))
        else:
            if bullets:
                flush()
            para.append(line)
    flush()
    return blocks


MARKUP = ("## ", "### ", "!! ", "!i ", "~ ", "@")


def _markup_block(line: str, named: Mapping[str, Block | None]) -> list[Block]:
    if line.startswith("### "):
        return [Heading(line[4:], 3)]
    if line.startswith("## "):
        return [Heading(line[3:], 2)]
    if line.startswith("!! "):
        return [Callout(line[3:])]
    if line.startswith("!i "):
        return [Callout(line[3:], tone="note")]
    if line.startswith("~ "):
        return [Para(line[2:], small=True)]
    if line.startswith("@"):
        key = line[1:].strip()
        if key not in named:
            raise KeyError(f"template names block '@{key}', which Python did not build "
                           f"(have {sorted(named)})")
        block = named[key]
        return [] if block is None else [block]
    raise ValueError(f"not a markup line: {line!r}")  # pragma: no cover - MARKUP guards it
