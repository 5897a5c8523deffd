"""Plot a tracker run's learning curve (evaluation success and G-MPJPE vs env steps).

    python scripts/plot_tracker_curve.py runs/default_tracker --out docs/tracker_curve.png

Reads RUN/curve.csv (written by the deterministic evaluations during training) and,
when present, the TensorBoard training success rate (all event files under RUN, merged by step).
``--segment M:LABEL`` (repeatable) shades the part of the curve from M million env steps
on and names it, e.g. the device a resumed run moved to; ``--log-x`` for curves that span decades.
"""

from __future__ import annotations

import argparse
import csv
import glob
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/tracker_curve.png"))
    ap.add_argument("--segment", action="append", default=[], metavar="M:LABEL",
                    help="from M million env steps on, the curve was trained as LABEL (repeatable)")
    ap.add_argument("--log-x", action="store_true", help="logarithmic env-step axis")
    ap.add_argument("--title", default=None)
    args = ap.parse_args()
    segments = []
    for spec in args.segment:
        start, _, label = spec.partition(":")
        try:
            segments.append((float(start), label))
        except ValueError:
            ap.error(f"--segment {spec!r}: expected MILLION_STEPS:LABEL")
    segments.sort()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(args.run / "curve.csv")))
    steps = [int(r["env_steps"]) / 1e6 for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4.0))
    ax[0].plot(steps, [100 * float(r["success_rate"]) for r in rows], "o-", label="eval (unseen dataset-1 clips)")
    events = sorted(glob.glob(str(args.run / "**" / "events.out.tfevents.*"), recursive=True))
    if events:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        merged: dict[int, float] = {}
        for path in events:  # one file per (resumed) run; later files win on shared steps
            ea = EventAccumulator(path, size_guidance={"scalars": 0})
            ea.Reload()
            if "episodes/train_success_rate" in ea.Tags()["scalars"]:
                merged.update({e.step: e.value for e in ea.Scalars("episodes/train_success_rate")})
        if merged:
            ev = sorted(merged.items())[:: max(1, len(merged) // 400)]
            ax[0].plot([st / 1e6 for st, _ in ev], [100 * v for _, v in ev], alpha=0.5,
                       label="training episodes not terminated")
    ax[0].set_xlabel("env steps (millions)")
    ax[0].set_ylabel("success %")
    ax[0].legend(fontsize=8)
    ax[1].plot(steps, [float(r["g_mpjpe_mm"]) for r in rows], "o-")
    ax[1].set_xlabel("env steps (millions)")
    ax[1].set_ylabel("eval G-MPJPE (mm)")
    end = max(steps) * 1.05
    for i, (start, label) in enumerate(segments):
        stop = segments[i + 1][0] if i + 1 < len(segments) else end
        for a in ax:
            if i % 2:
                a.axvspan(start, stop, color="tab:gray", alpha=0.12, lw=0)
            if i:
                a.axvline(start, color="tab:gray", lw=0.8, ls="--")
        x = max(start, min(steps) * 0.9)  # a segment from 0 still gets its label on a log axis
        ax[1].text(x, 0.98, " " + label, transform=ax[1].get_xaxis_transform(), fontsize=7, va="top",
                   clip_on=True)
    if args.log_x:
        for a in ax:
            a.set_xscale("log")
    fig.suptitle(args.title or f"tracker learning curve: {args.run}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
