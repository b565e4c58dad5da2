"""The X-ray study from a plain shell, the README's way: the three runs whose run directories the
end-to-end tests read. Each takes the folders it writes to and returns what its tests need; the
session starts them in the background lane (tests/background.py, tests/conftest.py).

- `dicom_job_run`: the full smoke sweep as a `ray job submit` job on two nodes, a DICOM pile, the
  driver killed after 3 of 4 trials and the run resumed by a second job (slow tier).
- `real_layout_run`: one trial on a CheXpert tree of real train.csv rows with a PACS export of
  real RSNA headers carrying planted identifiers (slow tier).
- `quick_study_run`: one trial on the generated default, every stage to the memo (fast tier).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
from shell_runs import (
    BIN,
    PLACEMENT,
    REPO,
    ResumedRun,
    finished_trials,
    kill_driver_when,
    plain_shell_env,
    readme_job,
    run_logged,
    submit_logged,
    trial_footprint,
    two_node_cluster,
)

from triage_ray.common.paths import DATA_DIR_ENV

# identifiers a PACS export carries that no output may repeat (each unlikely anywhere by chance)
SENTINELS = {"PatientName": "Zyxwv^Sentinel^Q", "PatientBirthDate": "18991231",
             "InstitutionName": "Sentinel Qvist General", "AccessionNumber": "ACCQ7X9SENT",
             "ReferringPhysicianName": "Refz^Sentinel"}
REAL_LAYOUT_SETTINGS = [
    "n_trials=1", 'backbones=["resnet10t"]', "image_sizes=null", "learning_curve_sizes=[150]",
    # ~90 calibration studies: a 1% false-flag threshold needs 99 (the run says so); 5% needs 19
    'intended_use={"ood_false_flag_rate": 0.05}']
# one trial from scratch at one size, one operating point, a 300-study pile: every stage runs
QUICK_SETTINGS = ["n_trials=1", 'backbones=["resnet10t"]', "image_sizes=null", 'inits=["scratch"]',
                  "learning_curve_sizes=[150]", "pile_size=300", "op_alphas=[0.05]",
                  "op_aging_caps_days=[null]"]


def dicom_job_run(base: Path, node2_tmp: Path, data_dir: Path) -> ResumedRun:
    """The README's full smoke sweep on a generated PACS-style DICOM export (made with the
    project's CLI), submitted from a plain shell with `ray job submit` to a two-node cluster
    started the README's way; its driver SIGKILLed once three of its four trials are scored, then
    the run continued by a second job, `sweeps/xray.py --resume <run dir>`. The cluster is stopped
    before the tests read the run."""
    export, reports = base / "pacs-export", base / "shared" / "reports"  # shared: both nodes' disk
    run_logged([str(BIN / "python"), "-m", "triage_ray.data.synth.dicom", "--n", "240", "--size",
                "64", "--out", str(export), "--out-of-scope", "--broken"], base / "export.log",
               plain_shell_env(), 600)
    args = ["--smoke", "--pile-source", "dicom", "--pile-root", str(export), "--reports-dir",
            str(reports), *PLACEMENT]

    def three_scored() -> bool:
        tune_dirs = list(reports.glob("*/tune"))
        return bool(tune_dirs) and len(finished_trials(tune_dirs[0])) >= 3

    job_log, resume_log = base / "job.log", base / "resume.log"
    with two_node_cluster(node2_tmp) as cluster:
        client = submit_logged(readme_job(cluster.address, data_dir, args), cluster.env, job_log)
        kill_driver_when(str(reports), three_scored, client, timeout_s=1200, log=job_log)
        (run_dir,) = list(reports.iterdir())
        assert not (run_dir / "metrics.json").exists()  # killed mid-sweep, not after
        before = {name: trial_footprint(run_dir, d) for name, d in
                  finished_trials(run_dir / "tune").items()}
        with resume_log.open("w") as out:
            resumed = subprocess.run(readme_job(cluster.address, data_dir,
                                                ["--resume", str(run_dir)]),
                                     env=cluster.env, cwd=REPO, stdout=out,
                                     stderr=subprocess.STDOUT, timeout=1500, check=False)
        text = resume_log.read_text()
        assert resumed.returncode == 0 and "succeeded" in text, text[-4000:]
        head_id, worker_id = cluster.head_id, cluster.worker_id
    return ResumedRun(run_dir, export, pd.read_csv(export / "manifest.csv"), before, job_log,
                      resume_log, head_id, worker_id)


# writes the CheXpert tree and the RSNA-header export in a process of its own (PNG and DICOM
# encoding would otherwise hold the test process's GIL while its other tests run)
_WRITE_LAYOUTS = """
import json, sys
from pathlib import Path
sys.path.insert(0, "tests")
from real_layouts import write_chexpert_tree, write_rsna_pile
base, sentinels = Path(sys.argv[1]), json.loads(sys.argv[2])
write_chexpert_tree(base / "chexpert", 1200, 64)
write_rsna_pile(base / "pacs", n_adults=60, size=80, extra=sentinels).to_csv(
    base / "pacs-headers.csv", index=False)
"""


def real_layout_run(base: Path) -> tuple[Path, Path, pd.DataFrame]:
    """One smoke trial from a plain shell on a CheXpert copy (the real train.csv rows) with a PACS
    export of the RSNA challenge's real DICOM headers as the pile: its run directory, its log and
    the export's header rows."""
    run_logged([str(BIN / "python"), "-c", _WRITE_LAYOUTS, str(base), json.dumps(SENTINELS)],
               base / "layouts.log", plain_shell_env(), 600)
    headers = pd.read_csv(base / "pacs-headers.csv", dtype=str)
    log = base / "run.log"
    env = {**plain_shell_env(), DATA_DIR_ENV: str(base / "data")}
    run_logged([str(BIN / "python"), "sweeps/xray.py", "--smoke", "--source", "chexpert",
                "--data-root", str(base / "chexpert" / "CheXpert-v1.0-small"),
                "--pile-root", str(base / "pacs"), "--pile-source", "dicom",
                "--reports-dir", str(base / "reports"), "--set", *REAL_LAYOUT_SETTINGS],
               log, env, 1800)
    (run_dir,) = list((base / "reports").iterdir())
    return run_dir, log, headers


def quick_study_run(base: Path) -> Path:
    """`sweeps/xray.py --smoke` with one trial (QUICK_SETTINGS) from a plain shell on the generated
    default: its run directory."""
    env = {**plain_shell_env(), DATA_DIR_ENV: str(base / "data")}
    run_logged([str(BIN / "python"), "sweeps/xray.py", "--smoke", "--reports-dir",
                str(base / "reports"), "--set", *QUICK_SETTINGS], base / "run.log", env, 1200)
    (run_dir,) = list((base / "reports").iterdir())
    return run_dir
