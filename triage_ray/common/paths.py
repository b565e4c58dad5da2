"""Where generated data and pretrained weights are cached.

Default: `data/` under the working directory. On a multi-node cluster every node must read the same
files (ingest tasks decode images on any node; Train workers load the pretrained weights), and a
`ray job submit --working-dir` copy is per node, so point TRIAGE_RAY_DATA_DIR at storage every node
mounts (e.g. an NFS path), as for `--reports-dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TRIAGE_RAY_DATA_DIR"


def data_dir(*parts: str) -> Path:
    """The cache root (TRIAGE_RAY_DATA_DIR, else ./data), resolved, joined with `parts`."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data").resolve().joinpath(*parts)
