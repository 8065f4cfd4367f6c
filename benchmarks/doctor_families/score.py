"""Run a split's families under the doctor and score them: per-kind precision and recall with 95% Wilson
intervals, false alarms on forbidden pairs, healthy runs flagged, the post-hoc CSV-log view, crashes.

A finding counts at warning or error severity. For kind k: a hit is a run labelled k where the doctor reports k;
a false alarm is a run where k is verified absent (a forbidden pair) and the doctor reports k. Reports of a kind
that is neither a label nor verified absent are *unjudged* and counted apart. The CSV view diagnoses, post hoc,
only what a scalar log holds (loss, lr, validation loss) of the same run's trace.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field

from doctor_families.core import FAMILIES, Family, RunSpec
from ravine.diagnose import KINDS, Trace, diagnose
from ravine.diagnose.errors import NoActivationsWarning

LOG_COLUMNS = ("loss", "lr", "val_loss", "val_acc", "train_loss", "train_acc")
# What a log of scalars can show at all; the others need gradients or activations (the live doctor).
SCALAR_KINDS = ("divergence", "plateau", "lr_too_low", "oscillation", "overfitting", "saddle")
VIEWS = ("live", "csv")


def bare_log(trace: Trace) -> Trace:
    """The part of a trace that a typical CSV log holds."""
    t = Trace(meta={"source": "csv"})
    for name in LOG_COLUMNS:
        if trace.has(name):
            s, v = trace.get(name)
            t.extend(name, s.tolist(), v.tolist())
    return t


@dataclass
class Result:
    """One run: its verified labels and forbidden kinds, what the doctor reported live and from the CSV view."""

    name: str
    family: str
    split: str
    labels: list[str]
    absent: list[str]
    dropped: str | None = None
    live: list[str] = field(default_factory=list)
    csv: list[str] = field(default_factory=list)
    crash: str | None = None
    seconds: float = 0.0
    evidence: dict[str, str] = field(default_factory=dict)
    log: dict = field(default_factory=dict)  # the CSV view's input: bare_log(trace).to_json()

    @property
    def healthy(self) -> bool:
        return not self.labels


def execute(fam: Family, spec: RunSpec) -> Result:
    """Train and verify one run under the doctor; a doctor crash is recorded and the run verified without it."""
    t0 = time.perf_counter()
    res = Result(spec.name, fam.name, fam.split, [], [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoActivationsWarning)
        try:
            v = fam.build(spec, True)
        except Exception:
            res.crash = traceback.format_exc(limit=3).strip().splitlines()[-1]
            try:
                v = fam.build(spec, False)
            except Exception as e:
                res.dropped = f"benchmark error without the doctor too: {type(e).__name__}: {e}"
                res.crash = None
                return res
    res.seconds = time.perf_counter() - t0
    res.evidence = {
        **{k: f"holds: {w}" for k, w in v.labels.items()},
        **{k: f"absent: {w}" for k, w in v.absent.items()},
    }
    if v.failed:
        res.dropped = "; ".join(f"{k} not verified ({w})" for k, w in v.failed.items())
        return res
    res.labels = sorted(k for k in v.labels if k in KINDS)
    res.absent = sorted(v.absent)
    if res.crash is None and v.run.report is not None and v.run.trace is not None:
        res.live = v.run.report.kinds("warning")
        log = bare_log(v.run.trace)
        res.log = log.to_json()
        try:
            res.csv = diagnose(log).report.kinds("warning")
        except Exception:
            res.crash = "csv view: " + traceback.format_exc(limit=3).strip().splitlines()[-1]
    return res


def rediagnose_csv(results: list[Result]) -> list[Result]:
    """The CSV view again, from each run's saved log, with the doctor now imported (no training)."""
    for r in results:
        if r.log:
            r.csv = diagnose(Trace.from_json(r.log)).report.kinds("warning")
    return results


def run_split(
    split: str, families: list[str] | None = None, limit: int | None = None, echo: bool = True
) -> list[Result]:
    """Execute every run of the families of ``split`` (or only ``families``), at most ``limit`` runs each."""
    out = []
    for fam in FAMILIES.values():
        if fam.split != split or (families and fam.name not in families):
            continue
        for spec in fam.runs()[:limit]:
            r = execute(fam, spec)
            out.append(r)
            if echo:
                mark = "DROP " if r.dropped else ("CRASH" if r.crash else "     ")
                print(
                    f"{mark} {r.name:58s} labels={','.join(fam.labels) or 'healthy':28s} "
                    f"live={','.join(r.live) or '-':30s} csv={','.join(r.csv) or '-'} ({r.seconds:.1f}s)",
                    flush=True,
                )
    return out


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion k / n (Wilson 1927); (nan, nan) for n = 0.

    centre = (p + z^2/2n) / (1 + z^2/n),  half = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2).
    """
    if n == 0:
        return math.nan, math.nan
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, c - h), min(1.0, c + h)


@dataclass(frozen=True)
class KindScore:
    kind: str
    labelled: int
    hits: int
    forbidden: int
    false_alarms: int
    unjudged: int

    @property
    def recall(self) -> float:
        return self.hits / self.labelled if self.labelled else math.nan

    @property
    def precision(self) -> float:
        n = self.hits + self.false_alarms
        return self.hits / n if n else math.nan


@dataclass(frozen=True)
class Summary:
    """The scores of one view (``live`` or ``csv``) over the counted (not dropped) runs of a split."""

    view: str
    runs: int
    dropped: int
    crashes: int
    kinds: tuple[KindScore, ...]
    healthy: int
    healthy_flagged: int
    faulty: int
    all_found: int  # faulty runs whose every label the view can see was reported
    visible: tuple[str, ...] = KINDS  # the kinds this view can see at all

    @property
    def forbidden(self) -> int:
        return sum(k.forbidden for k in self.kinds)

    @property
    def false_alarms(self) -> int:
        return sum(k.false_alarms for k in self.kinds)

    @property
    def hits(self) -> int:
        return sum(k.hits for k in self.kinds)

    @property
    def labelled(self) -> int:
        return sum(k.labelled for k in self.kinds)


def summarise(results: list[Result], view: str) -> Summary:
    """Score ``view`` (``live`` or ``csv``) over ``results`` (dropped runs are counted, not scored).

    The CSV view sees only :data:`SCALAR_KINDS`: its totals and "every label found" count those alone.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}; got {view!r}")
    used = [r for r in results if r.dropped is None]
    kinds = []
    for k in KINDS:
        said = [k in getattr(r, view) for r in used]
        kinds.append(
            KindScore(
                k,
                sum(k in r.labels for r in used),
                sum(k in r.labels and s for r, s in zip(used, said, strict=True)),
                sum(k in r.absent for r in used),
                sum(k in r.absent and s for r, s in zip(used, said, strict=True)),
                sum(s and k not in r.labels and k not in r.absent for r, s in zip(used, said, strict=True)),
            )
        )
    visible = KINDS if view == "live" else SCALAR_KINDS
    healthy = [r for r in used if r.healthy]
    faulty = [r for r in used if any(k in visible for k in r.labels)]
    return Summary(
        view,
        len(used),
        len(results) - len(used),
        sum(r.crash is not None for r in results),
        tuple(kinds),
        len(healthy),
        sum(bool(getattr(r, view)) for r in healthy),
        len(faulty),
        sum(all(k in getattr(r, view) for k in r.labels if k in visible) for r in faulty),
        visible,
    )


def _pct(x: float) -> str:
    return "  n/a" if math.isnan(x) else f"{x:5.0%}"


def render(s: Summary) -> str:
    """The per-kind table (the kinds the view can see) and totals of a summary, as plain text."""
    only = s.visible
    lines = [
        f"{s.view} view: {s.runs} runs counted ({s.faulty} with a label it can see, {s.healthy} healthy), "
        f"{s.dropped} dropped "
        f"(label not verified), {s.crashes} crashes",
        f"  {'kind':20s} {'n':>4s} {'recall':>6s} {'95% CI':>13s} {'precision':>9s} {'false alarms':>13s} "
        f"{'unjudged':>8s}",
    ]
    for k in s.kinds:
        if k.kind not in only:
            continue
        lo, hi = wilson(k.hits, k.labelled)
        ci = "" if k.labelled == 0 else f"[{lo:4.0%}, {hi:4.0%}]"
        fa = f"{k.false_alarms}/{k.forbidden}"
        lines.append(
            f"  {k.kind:20s} {k.labelled:4d} {_pct(k.recall):>6s} {ci:>13s} {_pct(k.precision):>9s} {fa:>13s} "
            f"{k.unjudged:8d}"
        )
    lab = sum(k.labelled for k in s.kinds if k.kind in only)
    hits = sum(k.hits for k in s.kinds if k.kind in only)
    lo, hi = wilson(hits, lab)
    fa = sum(k.false_alarms for k in s.kinds if k.kind in only)
    fb = sum(k.forbidden for k in s.kinds if k.kind in only)
    lines.append(
        f"  overall recall {hits}/{lab} = {_pct(hits / lab if lab else math.nan).strip()} [{lo:.0%}, {hi:.0%}]; "
        f"faulty runs with every label found {s.all_found}/{s.faulty}; false alarms {fa}/{fb} forbidden pairs "
        f"({_pct(fa / fb if fb else math.nan).strip()}); healthy runs flagged {s.healthy_flagged}/{s.healthy}"
    )
    return "\n".join(lines)


def markdown(s: Summary) -> str:
    """The per-kind table of a summary as a Markdown table (the README's form)."""
    rows = ["| kind | n | recall | 95% CI | precision | false alarms |", "|---|---|---|---|---|---|"]
    for k in s.kinds:
        if k.kind not in s.visible:
            continue
        lo, hi = wilson(k.hits, k.labelled)
        ci = "" if k.labelled == 0 else f"{lo:.0%} - {hi:.0%}"
        rows.append(
            f"| `{k.kind}` | {k.labelled} | {k.hits}/{k.labelled} = {_pct(k.recall).strip()} | {ci} | "
            f"{_pct(k.precision).strip()} | {k.false_alarms}/{k.forbidden} |"
        )
    return "\n".join(rows).replace("%", " %")


def to_json(results: list[Result]) -> list[dict]:
    return [asdict(r) for r in results]
