"""The Tune dashboard: built from a real sweep, self-contained, and checked in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from triage_ray.report.dashboard import main, watch, write_dashboard
from triage_ray.report.experiment import load_experiment

pytestmark = pytest.mark.ray

# Injected after the page's own script: clicks a header twice and records the resulting order.
SORT_PROBE = """
<script>
(function () {
  var t = document.getElementById("trials");
  var heads = Array.prototype.map.call(t.tHead.rows[0].cells,
                                       function (c) { return c.textContent; });
  var col = heads.indexOf("throughput_multiplier");
  function column() {
    return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
      return r.cells[col].getAttribute("data-v"); }).join(",");
  }
  t.tHead.rows[0].cells[col].click();
  var asc = column();
  t.tHead.rows[0].cells[col].click();
  var desc = column();
  var out = document.createElement("pre");
  out.id = "probe"; out.textContent = "asc=" + asc + "|desc=" + desc;
  document.body.appendChild(out);
})();
</script>
"""


def _browser(chromium: list[str], tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([*chromium, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def page(tune_experiment, tmp_path_factory) -> Path:
    return write_dashboard(tune_experiment, tmp_path_factory.mktemp("dash") / "dashboard.html")


def test_page_is_self_contained_and_lists_every_trial(page, tune_experiment):
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # no network fetches
    assert "<script src" not in text and "<link" not in text
    exp = load_experiment(tune_experiment)
    for t in exp.trials:
        assert f'id="trial-{t.trial_id}"' in text
    assert text.count('<tr class="front">') == 2  # two trials on the front (see conftest)
    assert "deliberate failure" in text  # the errored trial's error.txt is shown
    assert f"tensorboard --logdir {tune_experiment.resolve()}" in text
    assert 'http-equiv="refresh"' not in text  # a one-off page does not reload itself


def test_dashboard_renders_in_headless_chromium_without_errors(page, chromium, tmp_path):
    shot = tmp_path / "dashboard.png"
    res = _browser(chromium, tmp_path, "--window-size=1280,2000", f"--screenshot={shot}",
                   page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real, non-blank capture
    dom = _browser(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to the end
    assert re.search(r'<ol id="js-errors"[^>]*hidden[^>]*></ol>', dom.stdout), dom.stdout[-3000:]
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console == [], console
    assert "ERR_" not in dom.stderr  # no failed (network) resource load


def test_table_sorts_numerically_in_the_browser(page, chromium, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", SORT_PROBE + "</body>"))
    dom = _browser(chromium, tmp_path, "--dump-dom", probe.as_uri())
    m = re.search(r'<pre id="probe">asc=([^|]*)\|desc=([^<]*)</pre>', dom.stdout)
    assert m, dom.stdout[-3000:]
    asc, desc = m.group(1).split(","), m.group(2).split(",")
    nums = [float(v) for v in asc if v]
    assert nums == sorted(nums) and len(nums) == 3
    assert asc[-1] == ""  # the errored trial has no value: blanks sort last both ways
    assert [float(v) for v in desc if v] == sorted(nums, reverse=True) and desc[-1] == ""


def test_watch_refreshes_until_the_last_write(tune_experiment, tmp_path):
    out = tmp_path / "live.html"
    seen = []
    watch(tune_experiment, out, every_s=5, until_done=False, max_updates=2, log=lambda _: None,
          sleep=lambda s: seen.append((s, out.read_text())))
    assert len(seen) == 1 and seen[0][0] == 5
    assert '<meta http-equiv="refresh" content="5">' in seen[0][1] and "Live:" in seen[0][1]
    assert 'http-equiv="refresh"' not in out.read_text()  # the final write stops reloading
    # a finished experiment ends the watch after one write
    calls = []
    watch(tune_experiment, out, every_s=5, log=lambda _: None, sleep=calls.append)
    assert calls == []


def test_command_line_writes_default_location(tune_experiment, capsys):
    out = main([str(tune_experiment)])
    assert out == tune_experiment / "dashboard.html" and out.is_file()
    assert str(out) in capsys.readouterr().out
