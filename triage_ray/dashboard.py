"""`python -m triage_ray.dashboard <experiment dir> [--watch SECONDS]`: a sweep as one HTML page.

A thin entry point; the work is in `triage_ray.report.dashboard` (imported only when run, so
`import triage_ray` stays light).
"""

from __future__ import annotations

if __name__ == "__main__":
    from triage_ray.report.dashboard import main

    main()
