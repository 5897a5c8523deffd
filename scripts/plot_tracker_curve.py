"""Plot a tracker run's learning curve (evaluation success and G-MPJPE vs env steps).

    python scripts/plot_tracker_curve.py runs/default_tracker --out docs/tracker_curve.png

Reads RUN/curve.csv (written by the deterministic evaluations during training) and,
when present, the TensorBoard training success rate.
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
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(args.run / "curve.csv")))
    steps = [int(r["env_steps"]) / 1e6 for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(steps, [100 * float(r["success_rate"]) for r in rows], "o-", label="eval (unseen dataset-1 clips)")
    events = sorted(glob.glob(str(args.run / "**" / "events.out.tfevents.*"), recursive=True))
    if events:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        ea = EventAccumulator(events[-1], size_guidance={"scalars": 0})
        ea.Reload()
        if "episodes/train_success_rate" in ea.Tags()["scalars"]:
            ev = ea.Scalars("episodes/train_success_rate")
            k = max(1, len(ev) // 200)
            ax[0].plot([e.step / 1e6 for e in ev[::k]], [100 * e.value for e in ev[::k]], alpha=0.5,
                       label="training episodes not terminated")
    ax[0].set_xlabel("env steps (millions)")
    ax[0].set_ylabel("success %")
    ax[0].legend(fontsize=8)
    ax[1].plot(steps, [float(r["g_mpjpe_mm"]) for r in rows], "o-")
    ax[1].set_xlabel("env steps (millions)")
    ax[1].set_ylabel("eval G-MPJPE (mm)")
    fig.suptitle(f"tracker learning curve: {args.run}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
