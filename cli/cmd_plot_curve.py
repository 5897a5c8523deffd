"""``motionlib plot-curve RUN --out PNG [--segment M:LABEL] [--log-x]``: a tracker run's learning curve."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("plot-curve", help="plot a tracker run's learning curve (success and G-MPJPE vs env steps)",
                       description="Plot RUN/curve.csv (the deterministic evaluations of train-tracker: success "
                                   "rate and G-MPJPE against env steps) and, when RUN has TensorBoard event files, "
                                   "the training success rate (all event files under RUN, merged by step) into a "
                                   "PNG.")
    p.add_argument("run", type=Path, help="train-tracker output folder (holds curve.csv)")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument("--segment", action="append", default=[], metavar="M:LABEL",
                   help="from M million env steps on, the curve was trained as LABEL, e.g. the device a resumed "
                        "run moved to: shaded and named (repeatable)")
    p.add_argument("--log-x", action="store_true", help="logarithmic env-step axis (for curves that span decades)")
    p.add_argument("--title", default=None, help="figure title (default: the run folder)")
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.policies.curve_plot import parse_segment, plot_curve

    segments = [parse_segment(s) for s in args.segment]
    out = plot_curve(args.run, args.out, segments, log_x=args.log_x, title=args.title)
    print(f"wrote {out}")
    return 0
