"""A tracker run's learning curve as a figure (``motionlib plot-curve``).

Left: the evaluation success rate against env steps (``RUN/curve.csv``, written by the deterministic
evaluations during training) and, when the run has TensorBoard event files (all of them under RUN,
merged by step, later files winning), the training episodes not terminated. Right: the evaluation
G-MPJPE. Segments (:class:`Segment`) shade the part of the curve from a number of env steps on and
name it, e.g. the device a resumed run moved to. Drawn with matplotlib's Agg backend (no display).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from motionlib.motion.atomic import atomic_path
from motionlib.motion.errors import MotionError

from . import export

TRAIN_SUCCESS_TAG = "episodes/train_success_rate"


@dataclass(frozen=True)
class Segment:
    """From ``start_m`` million env steps on, the run was trained as ``label``."""

    start_m: float
    label: str


def parse_segment(spec: str) -> Segment:
    """``M:LABEL`` as a :class:`Segment`; ValueError when M is not a number."""
    start, _, label = spec.partition(":")
    try:
        return Segment(float(start), label)
    except ValueError:
        raise ValueError(f"--segment {spec!r}: expected MILLION_STEPS:LABEL") from None


def read_curve(run: str | os.PathLike) -> list[dict[str, float]]:
    """The evaluations of ``run/curve.csv`` (:func:`export.read_curve`); MotionError naming the file when it
    is missing, bad or has no evaluation yet."""
    path = Path(run) / "curve.csv"
    rows = export.read_curve(path)
    if not rows:
        raise MotionError("the learning curve has no evaluation yet", str(path))
    return rows


def train_success(run: str | os.PathLike) -> dict[int, float]:
    """{step: training success rate} from every TensorBoard event file under ``run`` ({} without them)."""
    events = sorted(Path(run).rglob("events.out.tfevents.*"))
    if not events:
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    merged: dict[int, float] = {}
    for path in events:  # one file per (resumed) run; later files win on shared steps
        ea = EventAccumulator(str(path), size_guidance={"scalars": 0})
        ea.Reload()
        if TRAIN_SUCCESS_TAG in ea.Tags()["scalars"]:
            merged.update({e.step: e.value for e in ea.Scalars(TRAIN_SUCCESS_TAG)})
    return merged


def plot_curve(run: str | os.PathLike, out: str | os.PathLike, segments: list[Segment] | tuple = (),
               log_x: bool = False, title: str | None = None) -> Path:
    """Draw ``run``'s learning curve (module text) into the PNG ``out`` (atomically); returns ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, out = Path(run), Path(out)
    rows = read_curve(run)
    segments = sorted(segments, key=lambda s: s.start_m)
    steps = [r["env_steps"] / 1e6 for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.0))
    ax[0].plot(steps, [100 * r["success_rate"] for r in rows], "o-", label="deterministic evaluation (the run's --eval-clips)")
    merged = train_success(run)
    if merged:
        ev = sorted(merged.items())[:: max(1, len(merged) // 400)]
        ax[0].plot([st / 1e6 for st, _ in ev], [100 * v for _, v in ev], alpha=0.5,
                   label="training episodes not terminated")
    ax[0].set_xlabel("env steps (millions)")
    ax[0].set_ylabel("success %")
    ax[0].legend(fontsize=8)
    ax[1].plot(steps, [r["g_mpjpe_mm"] for r in rows], "o-")
    ax[1].set_xlabel("env steps (millions)")
    ax[1].set_ylabel("eval G-MPJPE (mm)")
    end = max(steps) * 1.05
    for i, seg in enumerate(segments):
        stop = segments[i + 1].start_m if i + 1 < len(segments) else end
        for a in ax:
            if i % 2:
                a.axvspan(seg.start_m, stop, color="tab:gray", alpha=0.12, lw=0)
            if i:
                a.axvline(seg.start_m, color="tab:gray", lw=0.8, ls="--")
        x = max(seg.start_m, min(steps) * 0.9)  # a segment from 0 still gets its label on a log axis
        ax[1].text(x, 0.98, " " + seg.label, transform=ax[1].get_xaxis_transform(), fontsize=7, va="top",
                   clip_on=True)
    if log_x:
        for a in ax:
            a.set_xscale("log")
    fig.suptitle(title or f"tracker learning curve: {run}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
    return out
