"""What the shell-run tests share: a user's plain shell, process groups stopped by signal, a
two-node Ray on this machine, and reading a sweep's trials off disk.

The X-ray smoke pipeline costs minutes per run on 2 cores, so the suite runs the full smoke once
from a shell, not once per test: the README's `ray job submit` to two nodes with a DICOM pile,
its driver killed mid-sweep and the run resumed with a second job (tests/conftest.py
`dicom_job`). The DICOM, two-node, driver-kill and review-page assertions all read that one run
directory. The fast tier's quick study (tests/xray/test_quick_study.py) covers a generated pile.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from triage_ray.common.paths import DATA_DIR_ENV

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the virtualenv's bin, as `make` sets it up
NODE_LISTENERS = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port",
                  "runtime-env-agent-port", "node-manager-port", "object-manager-port")
# The README's two-node command (section "On a Ray cluster"). Each node has 2 CPUs; a trial driver
# takes 1 and its Train worker 1.5, so the two never share a node: every trial's checkpoints cross
# between nodes through the shared storage.
PLACEMENT = ["--set", "cpus_per_trial=1", "cpus_per_worker=1.5"]


def sweep_script(name: str, module_name: str):
    """sweeps/<name>.py loaded as a module, for in-process runs in the session's Ray (its
    `main(argv)` takes the command line a user would type)."""
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location(module_name, REPO / "sweeps" / f"{name}.py")
    script = module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def plain_shell_env() -> dict[str, str]:
    """A user's plain shell: the virtualenv is NOT on PATH (the README's `make ray-head` and
    `make ray-worker` must put it there for the job's `python`). Ray 2.60 turns token auth on; the
    CLI finds the head's token only with RAY_AUTH_MODE=token."""
    plain_path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                                 if Path(d).resolve() != BIN.resolve())
    env = {**os.environ, "PATH": plain_path, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token"}
    for key in ("VIRTUAL_ENV", "RAY_ADDRESS", DATA_DIR_ENV):
        env.pop(key, None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listener_flags(*names: str) -> list[str]:
    """Every listener of a node on its own free port: two nodes share this machine, and another
    Ray on it (e.g. the session's test cluster) holds the defaults."""
    return [f"--{name}={free_port()}" for name in names]


def start_group(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A process in its own group, stopped by signal (never `ray stop`, which would also kill
    other Ray instances on the machine)."""
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL: `ray start --block` may ignore the first (measured)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def kill_group_when(proc, ready, *, timeout_s: float, poll_s: float, what: str, log) -> None:
    """SIGKILL `proc`'s whole process group (a script and the Ray it started) as soon as
    `ready()` holds; fail the test if the process exits or the time runs out first. `log`: the
    file the process writes its output to (a pipe nobody reads would block it)."""
    deadline = time.time() + timeout_s
    try:
        while time.time() < deadline and proc.poll() is None:
            if ready():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
                return
            time.sleep(poll_s)
        tail = log.read_text()[-3000:] if log.is_file() else ""
        pytest.fail(f"{what} did not happen before the process ended or {timeout_s} s: {tail}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def run_logged(cmd: list[str], log: Path, env: dict[str, str], timeout: int) -> None:
    """Run `cmd` from the checkout to completion, its output in `log`; fail with its tail."""
    with log.open("w") as out:
        res = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env,
                             timeout=timeout, check=False)
    assert res.returncode == 0, log.read_text()[-4000:]


def alive_nodes(address: str, env: dict[str, str]) -> list[dict]:
    out = subprocess.run([str(BIN / "ray"), "list", "nodes", "--address", address, "--format",
                          "json"], env=env, capture_output=True, text=True)
    try:
        nodes = json.loads(out.stdout) if out.returncode == 0 else []
    except ValueError:  # the head is up but its state API not yet
        return []
    return [n for n in nodes if n["state"] == "ALIVE"]


def wait_for(ready, what: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            pytest.fail(f"{what} exited: {proc.stdout.read()[-3000:]}")
        time.sleep(2)
    pytest.fail(f"{what} did not come up in {timeout_s} s")


@dataclass
class Cluster:
    address: str  # the head's dashboard: where `ray job submit` goes
    env: dict[str, str]
    head_id: str
    worker_id: str


def finished_trials(tune_dir: Path) -> dict[str, Path]:
    """Trial folder name -> folder, for trials whose final (scored) report is on disk."""
    done = {}
    for result in tune_dir.glob("*/result.json"):
        try:
            rows = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        except ValueError:  # caught mid-write
            continue
        if any(r.get("final") for r in rows):
            done[result.parent.name] = result.parent
    return done


def trial_footprint(run_dir: Path, trial_dir: Path) -> dict:
    """What retraining a trial would change: its Train checkpoints (names and times) and its
    per-epoch rows."""
    trial_id = json.loads((trial_dir / "result.json").read_text().splitlines()[0])["trial_id"]
    ckpts = sorted((run_dir / "train" / f"train-{trial_id}").glob("checkpoint_*"))
    return {"trial_id": trial_id, "checkpoints": [(c.name, c.stat().st_mtime_ns) for c in ckpts],
            "progress_rows": len(pd.read_csv(trial_dir / "progress.csv"))}


@dataclass
class ResumedRun:
    """The smoke sweep with a DICOM pile, submitted as a job to two nodes, its driver SIGKILLed
    once three of four trials were scored and the run resumed by a second job (`--resume`): its
    run directory, the export it scored and the export's manifest, each trial scored before the
    kill with its footprint then, both jobs' logs, and the cluster's two node ids."""

    run_dir: Path
    export: Path
    manifest: pd.DataFrame
    scored_before_kill: dict[str, dict]
    job_log: Path
    resume_log: Path
    head_id: str
    worker_id: str


def _forget_head(gcs_port: int) -> None:
    """A head stopped by signal leaves Ray's "current cluster" file naming it; a later bare
    `ray.init()` on this machine would try to join the dead head. Remove the file if it is ours."""
    from triage_ray.common.ray_session import CLUSTER_POINTER

    if CLUSTER_POINTER.exists() and CLUSTER_POINTER.read_text().strip().endswith(f":{gcs_port}"):
        CLUSTER_POINTER.unlink()


@contextmanager
def two_node_cluster(node2_tmp: Path) -> Iterator[Cluster]:
    """A head and a second node on this machine, 2 CPUs each, started the README's way from a plain
    shell and stopped by signal on exit. The second node keeps its own Ray temp folder
    (`node2_tmp`), as a separate machine would (sharing the head's also races on unpacking the
    job's working directory: measured, the job then fails to import the package)."""
    env = plain_shell_env()
    gcs, dash = free_port(), free_port()
    head_flags = [f"--port={gcs}", "--num-cpus=2", "--include-dashboard=true",
                  f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1",
                  *listener_flags(*NODE_LISTENERS, "ray-client-server-port"), "--block"]
    head = start_group(["make", "-s", "ray-head", f"RAY_HEAD_ARGS={' '.join(head_flags)}"], env)
    address = f"http://127.0.0.1:{dash}"
    worker = None
    try:
        wait_for(lambda: len(alive_nodes(address, env)) == 1, "the head node", head)
        worker_flags = ["--num-cpus=2", f"--temp-dir={node2_tmp}",
                        *listener_flags(*NODE_LISTENERS), "--block"]
        worker = start_group(["make", "-s", "ray-worker", f"RAY_HEAD=127.0.0.1:{gcs}",
                              f"RAY_WORKER_ARGS={' '.join(worker_flags)}"], env)
        wait_for(lambda: len(alive_nodes(address, env)) == 2, "the second node", worker)
        nodes = alive_nodes(address, env)
        yield Cluster(address, env, next(n["node_id"] for n in nodes if n["is_head_node"]),
                      next(n["node_id"] for n in nodes if not n["is_head_node"]))
    finally:
        for proc in (worker, head):
            if proc is not None:
                stop_group(proc)
        _forget_head(gcs)


def readme_job(address: str, data: Path, script_args: list[str]) -> list[str]:
    """The README's `ray job submit` of `sweeps/xray.py`, the data cache given as an env var."""
    env_json = json.dumps({"env_vars": {DATA_DIR_ENV: str(data)}})
    return [str(BIN / "ray"), "job", "submit", "--address", address, "--working-dir", str(REPO),
            "--runtime-env-json", env_json, "--", "python", "sweeps/xray.py", *script_args]


def submit_logged(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`ray job submit` in the background, its output (the job's log, tailed) in `log`; resubmits
    while the head's job agent is not up yet (it starts a little after its HTTP server answers)."""
    for _ in range(30):
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None and "Job '" not in log.read_text():
            time.sleep(0.5)
        if "No available agent" not in log.read_text():
            return proc
        proc.wait(30)
        time.sleep(3)
    pytest.fail(f"the head's job agent never came up: {log.read_text()[-2000:]}")


def driver_pids(marker: str) -> list[int]:
    """This machine's processes whose command line holds `marker` (a job's driver, started by
    Ray's job supervisor through a shell: both the shell and the Python under it)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited while we looked
            continue
        if marker in cmdline and "sweeps/xray.py" in cmdline and " job submit " not in cmdline:
            pids.append(int(proc.name))
    return pids


def kill_driver_when(marker: str, ready, client: subprocess.Popen, *, timeout_s: float,
                     log: Path) -> None:
    """SIGKILL a job's driver (found by `marker` in its command line) as soon as `ready()` holds;
    fail if the job ends or the time runs out first. The cluster stays up, as it would when a
    driver dies on a real one."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and client.poll() is None:
        if ready():
            pids = driver_pids(marker)
            assert pids, "the job's driver process was not found"
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            client.wait(120)  # `ray job submit` returns once the job is marked failed
            return
        time.sleep(0.5)
    pytest.fail(f"the job ended or {timeout_s} s passed before the kill: {log.read_text()[-3000:]}")
