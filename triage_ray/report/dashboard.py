"""Turn a Ray Tune experiment directory into one self-contained HTML page, once or while it runs.

    python -m triage_ray.report.dashboard reports/xray/<run-id>/tune              # -> tune/dashboard.html
    python -m triage_ray.report.dashboard reports/xray/<run-id>/tune --watch 15   # rewrite every 15 s

The page has a sortable trials table, metric-vs-hyperparameter plots, the throughput-vs-miss-rate
Pareto front, learning curves, and per-trial details (params, every reported row, errors). It makes
no network request (figures are embedded PNGs, the sorting script is inline), so it opens from a
laptop's disk. With --watch the page carries a meta refresh and is rewritten atomically until
every trial has finished. TensorBoard reads the event files Tune already writes per trial:
`tensorboard --logdir <experiment dir>`.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from triage_ray.report.experiment import Experiment, Trial, flatten, load_experiment, pareto_front
from triage_ray.report.figures import new_figure, report_style

X_METRIC = "throughput_multiplier"  # triage_ray.xray.sweep.METRIC: higher is better
Y_METRIC = "missed_per_1000_auto_cleared"  # lower is better
FEASIBLE = "feasible"  # 1.0 when the miss-rate bound holds (sweep's final row)
# Shown first, in this order, when present; any other reported metric follows.
FOCUS = (X_METRIC, Y_METRIC, "bound", FEASIBLE, "test_auroc", "val_auroc", "ece_after",
         "days_to_clear", "coverage_auto_normal", "normal_wait_max_hours")
PLOT_METRICS = (X_METRIC, Y_METRIC, "test_auroc", "val_auroc")
CURVE_METRICS = ("val_auroc", "val_loss", "train_loss")
MAX_PLOT_PARAMS = 4
DEFAULT_NAME = "dashboard.html"


# ----------------------------------------------------------------------------- figures
# The reports' style (figures.report_style) at screen size; applied per figure, never globally.
STYLE = {"font.size": 8, "axes.titlesize": "large"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def short_id(trial_id: str) -> str:
    return trial_id.rsplit("_", 1)[-1]


def pareto_figure(trials: Sequence[Trial], x: str, y: str) -> tuple[str | None, list[str]]:
    """(PNG data URI or None when no trial has both metrics, trial ids on the front)."""
    pts = [(t, t.metric(x), t.metric(y)) for t in trials]
    pts = [(t, a, b) for t, a, b in pts if a is not None and b is not None]
    if not pts:
        return None, []
    front = [pts[i][0].trial_id for i in pareto_front([(a, b) for _, a, b in pts])]
    with report_style(STYLE):
        fig = new_figure((6.2, 4.0))
        ax = fig.subplots()
        for t, a, b in pts:
            ok = t.metric(FEASIBLE)
            ax.scatter(a, b, s=46, marker="o" if ok != 0.0 else "X",
                       color="#1f5fa8" if ok != 0.0 else "#c0392b", zorder=3)
            ax.annotate(short_id(t.trial_id), (a, b), xytext=(4, 3), textcoords="offset points",
                        fontsize=7)
        fx = [next(a for t, a, _ in pts if t.trial_id == i) for i in front]
        fy = [next(b for t, _, b in pts if t.trial_id == i) for i in front]
        ax.plot(fx, fy, color="#2e8b57", lw=1.5, zorder=2, label="Pareto front")
        ax.scatter([], [], marker="o", color="#1f5fa8", label="bound holds")
        ax.scatter([], [], marker="X", color="#c0392b", label="bound fails")
        ax.set(xlabel=f"{x} (higher is better)", ylabel=f"{y} (lower is better)",
               title="Throughput vs missed abnormals")
        ax.legend(fontsize=7, frameon=False)
        return _png(fig), front


def _param_axis(values: list[Any]) -> tuple[list[float], list[str] | None, bool]:
    """Positions for a hyperparameter's values: numbers as they are (log if they span >= 3x),
    anything else as categories."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        pos = [float(v) for v in values]
        log = min(pos) > 0 and max(pos) / min(pos) >= 3
        return pos, None, log
    cats = sorted({json.dumps(v) if not isinstance(v, str) else v for v in values})
    key = [json.dumps(v) if not isinstance(v, str) else v for v in values]
    return [float(cats.index(k)) for k in key], cats, False


def hyperparam_figure(exp: Experiment, metrics: Sequence[str]) -> str | None:
    params = exp.hyperparams[:MAX_PLOT_PARAMS]
    metrics = [m for m in metrics if any(t.metric(m) is not None for t in exp.trials)]
    if not params or not metrics:
        return None
    with report_style(STYLE):
        fig = new_figure((3.0 * len(params) + 0.6, 2.2 * len(metrics) + 0.4))
        axes = fig.subplots(len(metrics), len(params), squeeze=False)
        for j, p in enumerate(params):
            vals = [flatten(t.params).get(p) for t in exp.trials]
            pos, cats, log = _param_axis(vals)
            for i, m in enumerate(metrics):
                ax = axes[i][j]
                ys = [t.metric(m) for t in exp.trials]
                xs = [x for x, y in zip(pos, ys, strict=True) if y is not None]
                ax.scatter(xs, [y for y in ys if y is not None], s=28, color="#1f5fa8", alpha=0.8)
                if cats is not None:
                    ax.set_xticks(range(len(cats)), cats, rotation=20, fontsize=7)
                if log:
                    ax.set_xscale("log")
                ax.set(xlabel=p if i == len(metrics) - 1 else "", ylabel=m if j == 0 else "")
        return _png(fig)


def curves_figure(exp: Experiment, metrics: Sequence[str]) -> str | None:
    """Per-epoch metrics (reported more than once per trial) against training_iteration."""
    metrics = [m for m in metrics
               if any(sum(m in r and r[m] is not None for r in t.rows) > 1 for t in exp.trials)]
    if not metrics:
        return None
    with report_style(STYLE):
        fig = new_figure((3.4 * len(metrics), 2.7))
        axes = fig.subplots(1, len(metrics), squeeze=False)
        for ax, m in zip(axes[0], metrics, strict=True):
            for t in exp.trials:
                pts = [(r.get("training_iteration"), r[m]) for r in t.rows
                       if isinstance(r.get(m), int | float) and r.get("training_iteration") is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker=".", lw=1, label=short_id(t.trial_id))
            ax.set(xlabel="report (epoch)", title=m)
        axes[0][0].legend(fontsize=6, frameon=False)
        return _png(fig)


# ----------------------------------------------------------------------------- HTML
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"  # NaN: undefined (e.g. a miss rate with nothing auto-cleared)
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return str(v)


def _td(v: Any) -> str:
    """A cell whose data-v is the raw value the table sorts by (blank: no value, sorts last)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        sort = ""
    elif isinstance(v, int | float) and not isinstance(v, bool):
        sort = repr(v)
    else:
        sort = str(v)
    return f'<td data-v="{html.escape(sort)}">{html.escape(_fmt(v))}</td>'


def metric_columns(exp: Experiment) -> list[str]:
    names = exp.metric_names()
    return [m for m in FOCUS if m in names] + [m for m in names if m not in FOCUS]


def trials_table(exp: Experiment, front: Sequence[str]) -> str:
    cols = metric_columns(exp)
    head = ["trial", "status", *exp.hyperparams, "reports", "Pareto", *cols]
    out = ['<table id="trials" class="sortable"><thead><tr>']
    out += [f'<th scope="col" title="click to sort">{html.escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for t in exp.trials:
        flat = flatten(t.params)
        last = t.last
        tid = html.escape(t.trial_id)
        cells = [f'<td data-v="{tid}"><a href="#trial-{tid}">{tid}</a></td>',
                 f'<td data-v="{t.status}"><span class="st {t.status.lower()}">'
                 f"{t.status}</span></td>"]
        cells += [_td(flat.get(p)) for p in exp.hyperparams]
        cells.append(_td(len(t.rows)))
        cells.append(_td("yes" if t.trial_id in front else None))
        cells += [_td(last.get(m)) for m in cols]
        cls = ' class="front"' if t.trial_id in front else ""
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def trial_details(t: Trial) -> str:
    flat = flatten(t.params)
    params = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
                     for k, v in flat.items())
    keys = list(dict.fromkeys(k for r in t.rows for k in r
                              if k not in ("config", "date", "hostname", "node_ip", "pid",
                                           "timestamp", "checkpoint_dir_name")))
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k)))}</td>" for k in keys)
                   + "</tr>" for r in t.rows)
    err = f'<h4>Error</h4><pre class="err">{html.escape(t.error)}</pre>' if t.error else ""
    where = html.escape(str(t.logdir)) if t.logdir else "no trial folder yet (pending)"
    return (
        f'<details id="trial-{html.escape(t.trial_id)}"><summary><b>{html.escape(t.trial_id)}</b> '
        f"- {t.status} - {len(t.rows)} reports</summary><p class='small'>Folder: {where}</p>{err}"
        f'<h4>Parameters</h4><div class="scroll"><table class="kv">{params}</table></div>'
        f'<h4>Reported rows</h4><div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        + f"</tr></thead><tbody>{rows}</tbody></table></div></details>"
    )


CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.2rem;
 color:#1d2330} h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.1rem;margin-top:1.6rem}
.small{font-size:.82rem;color:#556} .live{background:#eaf2fb;border-left:5px solid #2c6fbb;
 padding:.4rem .7rem} .warn{background:#fdecea;border-left:5px solid #c0392b;padding:.4rem .7rem}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #d5d8e0;padding:.2rem .45rem;text-align:left;white-space:nowrap}
thead th{background:#f0f2f6;position:sticky;top:0}
table.sortable th{cursor:pointer} th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"} tr.front td{background:#eef8f1}
.scroll{overflow-x:auto;max-width:100%} .st{padding:0 .3rem;border-radius:3px}
.st.terminated{background:#dff0e3} .st.error{background:#f8d7d3} .st.running{background:#dbe9f8}
.st.pending{background:#eee} img{max-width:100%} pre.err{background:#fff4f2;padding:.5rem;
 overflow-x:auto;max-height:20rem} details{margin:.4rem 0} code{background:#f0f2f6;padding:0 .2rem}
"""

# Plain JS: sortable table (the order survives auto-refreshes via window.name), #trial-<id> opens
# its details, and any script error or console.error is written into #js-errors, where a headless
# browser check can see it.
JS = """
(function () {
  var errs = document.getElementById("js-errors");
  function report(msg) {
    var li = document.createElement("li"); li.textContent = String(msg);
    errs.appendChild(li); errs.hidden = false;
  }
  window.addEventListener("error", function (e) { report(e.message); });
  var consoleError = console.error;
  console.error = function () {
    report(Array.prototype.join.call(arguments, " ")); consoleError.apply(console, arguments);
  };
  function key(td) {
    var v = td.getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortBy(table, col, dir) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === null || y === null) return (x === null) - (y === null);  // blanks last
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.setAttribute("aria-sort", i === col ? (dir > 0 ? "ascending" : "descending") : "none");
    });
    window.name = JSON.stringify({table: table.id, col: col, dir: dir});  // survives reloads
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () {
        sortBy(table, i, th.getAttribute("aria-sort") === "ascending" ? -1 : 1);
      });
    });
    var saved = null;
    try { saved = JSON.parse(window.name || "null"); } catch (e) { saved = null; }
    if (saved && saved.table === table.id && saved.col < table.tHead.rows[0].cells.length) {
      sortBy(table, saved.col, saved.dir);
    }
  });
  function openHash() {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    if (el && el.tagName === "DETAILS") el.open = true;
  }
  window.addEventListener("hashchange", openHash); openHash();
  document.body.setAttribute("data-ready", "1");
})();
"""


def render_dashboard(exp: Experiment, *, refresh_s: float | None = None, x: str = X_METRIC,
                     y: str = Y_METRIC, now: datetime | None = None, extra_html: str = "",
                     banner: str = "") -> str:
    """The complete HTML page (self-contained); `refresh_s` adds a meta refresh; `extra_html`
    (already escaped) goes after the Pareto front, e.g. a run's operating frontier; `banner`
    (plain text: a run's provenance) heads the page."""
    now = now or datetime.now()
    pareto_png, front = pareto_figure(exp.trials, x, y)
    params_png = hyperparam_figure(exp, PLOT_METRICS)
    curves_png = curves_figure(exp, CURVE_METRICS)
    counts: dict[str, int] = {}
    for t in exp.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    status = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "no trials yet"
    refresh = (f'<meta http-equiv="refresh" content="{max(1, round(refresh_s))}">'
               if refresh_s else "")
    live = (f'<p class="live">Live: this page is rewritten every {refresh_s:g} s while the sweep '
            f"runs and reloads itself; last written {now:%Y-%m-%d %H:%M:%S}.</p>"
            if refresh_s else "")
    warn = ("<div class='warn'><b>Skipped while reading the experiment</b><ul>"
            + "".join(f"<li>{html.escape(w)}</li>" for w in exp.warnings) + "</ul></div>"
            if exp.warnings else "")
    n_events = sum(1 for t in exp.trials if t.logdir
                   for _ in t.logdir.glob("events.out.tfevents*"))

    def img(uri: str | None, alt: str, missing: str) -> str:
        return (f'<img src="{uri}" alt="{html.escape(alt)}">' if uri
                else f'<p class="small">{html.escape(missing)}</p>')

    body = [
        f"<p class='warn'><b>{html.escape(banner)}</b></p>" if banner else "",
        f"<h1>Tune sweep: {html.escape(exp.path.name)}</h1>",
        f'<p class="small">{html.escape(str(exp.path.resolve()))} - {len(exp.trials)} trials '
        f"({html.escape(status)}) - written {now:%Y-%m-%d %H:%M:%S}</p>",
        live, warn,
        '<ol id="js-errors" class="warn" hidden></ol>',
        "<h2>Trials</h2><p class='small'>Click a column to sort; click a trial for its details. "
        f"Green rows are on the Pareto front of {html.escape(x)} (higher) vs {html.escape(y)} "
        "(lower).</p>",
        f'<div class="scroll">{trials_table(exp, front)}</div>',
        "<h2>Pareto front</h2>",
        img(pareto_png, "Pareto front", f"No trial has reported finite values of both {x} and "
            f"{y} yet (a miss rate is undefined when nothing is auto-cleared)."),
        extra_html,
        "<h2>Metrics vs hyperparameters</h2>",
        img(params_png, "metrics vs hyperparameters", "No finished trial metrics yet."),
        "<h2>Learning curves</h2>",
        img(curves_png, "learning curves", "No per-epoch metrics reported yet."),
        "<h2>Per-trial details</h2>", *(trial_details(t) for t in exp.trials),
        f"<h2>TensorBoard</h2><p>Tune writes TensorBoard event files in each trial folder "
        f"({n_events} found). To browse them: <code>tensorboard --logdir "
        f"{html.escape(str(exp.path.resolve()))}</code> (<code>pip install tensorboard</code> if "
        "it is missing; it is not a triage-ray dependency).</p>",
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>Tune sweep: {html.escape(exp.path.name)}</title>"
        f"<style>{CSS}</style></head><body>" + "\n".join(body)
        + f"<script>{JS}</script></body></html>\n"
    )


def write_dashboard(experiment_dir: str | Path, out_html: str | Path | None = None, *,
                    refresh_s: float | None = None, x: str = X_METRIC,
                    y: str = Y_METRIC, extra_html: str = "", banner: str = "") -> Path:
    """Render `experiment_dir` to `out_html` (default <experiment_dir>/dashboard.html).

    Written to a temporary file and renamed, so a browser reloading mid-write never sees half a
    page."""
    exp = load_experiment(experiment_dir)
    out = Path(out_html) if out_html else Path(experiment_dir) / DEFAULT_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render_dashboard(exp, refresh_s=refresh_s, x=x, y=y, extra_html=extra_html,
                                    banner=banner))
    os.replace(tmp, out)
    return out


def watch(experiment_dir: str | Path, out_html: str | Path | None = None, *, every_s: float = 15.0,
          until_done: bool = True, max_updates: int | None = None, x: str = X_METRIC,
          y: str = Y_METRIC, log: Callable[[str], None] = print,
          sleep: Callable[[float], None] = time.sleep) -> Path:
    """Rewrite the page every `every_s` seconds; the last write (all trials finished, or
    `max_updates` reached) drops the auto-refresh."""
    n = 0
    while True:
        n += 1
        exp_done = load_experiment(experiment_dir).finished
        last = (until_done and exp_done) or (max_updates is not None and n >= max_updates)
        out = write_dashboard(experiment_dir, out_html, refresh_s=None if last else every_s,
                              x=x, y=y)
        log(f"[{datetime.now():%H:%M:%S}] wrote {out}" + (" (final)" if last else ""))
        if last:
            return out
        sleep(every_s)


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(prog="python -m triage_ray.report.dashboard", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment_dir", type=Path, help="a Ray Tune experiment directory")
    p.add_argument("--out", type=Path,
                   help=f"output HTML (default <experiment_dir>/{DEFAULT_NAME})")
    p.add_argument("--watch", type=float, metavar="SECONDS",
                   help="rewrite the page every SECONDS until every trial has finished")
    p.add_argument("--keep-watching", action="store_true",
                   help="with --watch: do not stop when all trials have finished")
    p.add_argument("--x", default=X_METRIC, help="Pareto x metric, higher is better")
    p.add_argument("--y", default=Y_METRIC, help="Pareto y metric, lower is better")
    args = p.parse_args(argv)
    if args.watch:
        try:
            return watch(args.experiment_dir, args.out, every_s=args.watch,
                         until_done=not args.keep_watching, x=args.x, y=args.y)
        except KeyboardInterrupt:
            return write_dashboard(args.experiment_dir, args.out, x=args.x, y=args.y)
    out = write_dashboard(args.experiment_dir, args.out, x=args.x, y=args.y)
    print(out)
    return out


if __name__ == "__main__":
    main()
