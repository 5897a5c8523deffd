"""A tracker's training state kept between runs (``scripts/train_corpus_tracker.sh``).

Corpus-scale training runs as segments, each continuing the last one's state wherever it runs (a CPU, a
CUDA GPU). The state is one folder:

* ``checkpoint.pth``: the last segment's rl-games checkpoint (actor, critic, optimizer, observation
  normaliser, env steps so far), what ``train-tracker --resume`` continues;
* ``curve.csv``: every deterministic validation of every segment (:func:`motionlib.policies.export.read_curve`;
  env steps continue across segments);
* ``policy_best.pt``: the best policy on validation so far (a resumed run only replaces it with a better one);
* ``segments.csv``: one row per segment: its number, date, device, minutes and first / last env step.

:func:`save_segment` makes a finished run folder the state, each file replaced atomically, so a
segment killed half-way leaves the previous state whole.

    python -m motionlib.policies.train_state prepare STATE RUN    # prints the checkpoint to --resume
    python -m motionlib.policies.train_state save RUN STATE --minutes 9 [--threads 1] [--device "NVIDIA H100"]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import shutil
from pathlib import Path

from motionlib.motion.atomic import atomic_path
from motionlib.motion.errors import MotionError

from .export import read_curve

SEGMENT_FIELDS = ("segment", "date", "device", "minutes", "env_steps_start", "env_steps_end")


def read_segments(state: str | os.PathLike) -> list[dict]:
    """The segments of ``state`` (empty when it has none yet)."""
    path = Path(state) / "segments.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and set(SEGMENT_FIELDS) - set(rows[0]):
        raise MotionError(f"not a segments table: needs columns {list(SEGMENT_FIELDS)}", str(path))
    return rows


def last_checkpoint(run: str | os.PathLike) -> Path:
    """The newest rl-games checkpoint of the run folder ``run`` (``RUN/rl/nn/*.pth``)."""
    ckpts = sorted((Path(run) / "rl" / "nn").glob("*.pth"), key=lambda p: (p.stat().st_mtime, p.name))
    if not ckpts:
        raise MotionError("no rl-games checkpoint (rl/nn/*.pth) in this run folder", str(run))
    return ckpts[-1]


def prepare_run(state: str | os.PathLike, run: str | os.PathLike) -> Path | None:
    """Make ``run`` an empty run folder that continues ``state``: the state's curve and best policy copied in
    (the curve continues; the best is kept unless beaten). Returns the checkpoint to ``--resume``, or None
    when the state has none yet (the first segment)."""
    state, run = Path(state), Path(run)
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    if not (state / "checkpoint.pth").is_file():
        return None
    for name in ("curve.csv", "policy_best.pt"):
        shutil.copyfile(state / name, run / name)
    return state / "checkpoint.pth"


def save_segment(run: str | os.PathLike, state: str | os.PathLike, device: str, minutes: float,
                 date: str | None = None) -> dict:
    """Make the finished run folder ``run`` the training state ``state`` and add its row to the segments
    table; returns that row. The run's curve must hold the state's earlier validations (:func:`prepare_run`
    copies ``curve.csv`` and ``policy_best.pt`` into the run before resuming), so it replaces the state's."""
    run, state = Path(run), Path(state)
    ckpt = last_checkpoint(run)
    curve = read_curve(run / "curve.csv")
    if not (run / "policy_best.pt").is_file():
        raise MotionError("no policy_best.pt in this run folder", str(run))
    earlier = read_curve(state / "curve.csv") if (state / "curve.csv").is_file() else []
    if curve[:len(earlier)] != earlier:
        raise MotionError("its curve does not continue the state's: resume from the state's checkpoint with the "
                          "state's curve.csv and policy_best.pt in the run folder", str(run / "curve.csv"))
    segments = read_segments(state)
    start = int(segments[-1]["env_steps_end"]) if segments else 0
    row = {"segment": len(segments) + 1, "date": date or datetime.date.today().isoformat(), "device": device,
           "minutes": round(float(minutes), 1), "env_steps_start": start,
           "env_steps_end": curve[-1]["env_steps"] if len(curve) > len(earlier) else start}
    state.mkdir(parents=True, exist_ok=True)
    for src, name in ((ckpt, "checkpoint.pth"), (run / "curve.csv", "curve.csv"),
                      (run / "policy_best.pt", "policy_best.pt")):
        with atomic_path(state / name) as tmp:
            shutil.copyfile(src, tmp)
    with atomic_path(state / "segments.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(SEGMENT_FIELDS))
            w.writeheader()
            w.writerows([{k: r[k] for k in SEGMENT_FIELDS} for r in segments] + [row])
    return row


def describe_device(threads: int) -> str:
    """Where a segment ran, for ``segments.csv``: the CUDA GPU's name when torch sees one, else the CPU's cores and
    the physics threads the run used."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu, {os.cpu_count()} cores ({threads} physics thread{'s' if threads != 1 else ''})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m motionlib.policies.train_state", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("prepare", help="an empty run folder that continues the state; prints the checkpoint to "
                                       "--resume (nothing when the state has none yet)")
    r.add_argument("state", type=Path)
    r.add_argument("run", type=Path)
    s = sub.add_parser("save", help="make a finished run folder the training state")
    s.add_argument("run", type=Path)
    s.add_argument("state", type=Path)
    s.add_argument("--device", default=None,
                   help="where the segment ran, e.g. 'NVIDIA H100 80GB HBM3' (default: this machine's CUDA GPU, "
                        "else its CPU with --threads)")
    s.add_argument("--threads", type=int, default=1, help="physics threads of a CPU segment (default 1)")
    s.add_argument("--minutes", type=float, required=True, help="the segment's wall-clock minutes")
    args = p.parse_args(argv)
    if args.command == "prepare":
        ckpt = prepare_run(args.state, args.run)
        print(ckpt if ckpt is not None else "")
        return 0
    try:
        row = save_segment(args.run, args.state, args.device or describe_device(args.threads), args.minutes)
    except MotionError as e:
        print(f"error: {e}", flush=True)
        return 1
    print(f"state {args.state}: segment {row['segment']} on {row['device']}, env steps "
          f"{row['env_steps_start']} -> {row['env_steps_end']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
