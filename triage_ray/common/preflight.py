"""Fail at once, and say why, when the Python running a sweep script lacks triage-ray's
dependencies: the usual cause is a Ray head started outside the project's virtualenv.

Why this exists: `ray job submit -- python sweeps/xray.py` runs whichever `python` the head's PATH
names. A head started as `.venv/bin/ray start --head` from a shell without the virtualenv
activated gives jobs the system Python, and the job died with `ModuleNotFoundError: pandas`
deep in an import (measured). Standard library only: it runs before anything else is imported.
"""

from __future__ import annotations

import importlib.util
import sys

REQUIRED = ("numpy", "pandas", "pyarrow", "ray", "torch", "timm", "simpy", "xgboost")


def check_dependencies(required: tuple[str, ...] = REQUIRED) -> None:
    """Exit with a plain message naming this Python and the missing packages, if any."""
    missing = [name for name in required if importlib.util.find_spec(name) is None]
    if not missing:
        return
    sys.exit(
        f"triage-ray: this Python ({sys.executable}) lacks {', '.join(missing)}.\n"
        "Run the scripts with the project's virtualenv (`make setup` makes it: .venv/bin/python).\n"
        "Under `ray job submit`, the job's `python` is the one on the head node's PATH: start the\n"
        "head with `make ray-head` (it puts .venv/bin first on PATH), or activate the virtualenv\n"
        "(`source .venv/bin/activate`) in the shell that runs `ray start --head`."
    )
