"""BVH -> SMPL fit: per-clip time and fit error.

    python benchmarks/bench_fit.py                      # bundled samples
    python benchmarks/bench_fit.py --n 40               # + 40 clips of ../shared dataset-1 (spread evenly)
    python benchmarks/bench_fit.py --n 0 --all          # + every dataset-1 clip
    python benchmarks/bench_fit.py --body fitted --iters 40 --workers 2

Prints one line per clip (frames, seconds, fit error mm, lowest foot height of
the fit and of the source) and a summary: median / p95 / max fit error and
time per clip and per 300 frames. Clips run in a process pool (one torch
thread per worker), as ingest does.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples" / "bandai"
SHARED_D1 = Path(os.environ.get("MOTIONLIB_SHARED", REPO.parent / "shared")) / "data" / "bandai" / "dataset-1"


def _one(job: tuple[str, str, int, str]) -> dict:
    path, mapping, iters, body = job
    from motionlib.motion.clip import fit_details
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion

    t0 = time.perf_counter()
    m = bvh_to_motion(path, mapping=mapping, iters=iters, threads=1, body=body)
    dt = time.perf_counter() - t0
    r = fit_details(m.meta)
    return {"clip": Path(path).name, "frames": m.num_frames, "seconds": dt, "fit_error_mm": m.meta["fit_error_mm"],
            "analytic_error_mm": r["analytic_error_mm"], "foot_z": r["lowest_foot_z_m"],
            "source_foot_z": r["source_lowest_foot_z_m"], "body_scale": m.body_scale}


def _summary(rows: list[dict], title: str) -> dict:
    fit = np.array([r["fit_error_mm"] for r in rows])
    sec = np.array([r["seconds"] for r in rows])
    frames = np.array([r["frames"] for r in rows])
    foot = np.array([abs(r["foot_z"] - r["source_foot_z"]) * 1000 for r in rows])
    s = {"set": title, "clips": len(rows), "fit_error_mm_median": float(np.median(fit)),
         "fit_error_mm_p95": float(np.percentile(fit, 95)), "fit_error_mm_max": float(fit.max()),
         "seconds_per_clip_median": float(np.median(sec)), "seconds_total": float(sec.sum()),
         "seconds_per_300_frames": float(sec.sum() / frames.sum() * 300),
         "foot_height_diff_mm_max": float(foot.max())}
    print(f"== {title}: {len(rows)} clips  fit error mm median {s['fit_error_mm_median']:.1f}  "
          f"p95 {s['fit_error_mm_p95']:.1f}  max {s['fit_error_mm_max']:.1f}  |  "
          f"{s['seconds_per_clip_median']:.2f} s/clip median, {s['seconds_per_300_frames']:.2f} s per 300 frames  "
          f"|  lowest-foot height vs source: max diff {s['foot_height_diff_mm_max']:.1f} mm")
    return s


def run(paths: list[Path], title: str, args: argparse.Namespace) -> dict:
    jobs = [(str(p), args.mapping, args.iters, args.body) for p in paths]
    rows = []
    with ProcessPoolExecutor(max_workers=args.workers) as ex:
        for r in tqdm(ex.map(_one, jobs), total=len(jobs), desc=title, disable=not args.progress):
            rows.append(r)
            if args.verbose:
                tqdm.write(f"{r['clip']:48s} {r['frames']:5d} fr  {r['seconds']:6.2f} s  fit {r['fit_error_mm']:6.1f} mm  "
                           f"(analytic {r['analytic_error_mm']:6.1f})  foot z {r['foot_z']:.3f} (src {r['source_foot_z']:.3f})")
    return {"summary": _summary(rows, title), "clips": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=0, help="also run this many dataset-1 clips (spread evenly)")
    ap.add_argument("--all", action="store_true", help="run every dataset-1 clip")
    ap.add_argument("--iters", type=int, default=None, help="fit optimisation steps (default: the library's)")
    ap.add_argument("--body", choices=("scaled", "fitted"), default="scaled")
    ap.add_argument("--mapping", default="bandai")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write all rows and summaries here")
    ap.add_argument("--quiet", dest="verbose", action="store_false")
    ap.add_argument("--no-progress", dest="progress", action="store_false")
    args = ap.parse_args()
    if args.iters is None:
        from motionlib.motion.ingest.bvh_fit import DEFAULT_ITERS

        args.iters = DEFAULT_ITERS

    results = [run(sorted(SAMPLES.glob("*.bvh")), "samples", args)]
    if (args.n > 0 or args.all) and SHARED_D1.is_dir():
        clips = sorted(SHARED_D1.glob("*.bvh"))
        if not args.all:
            clips = clips[:: max(1, len(clips) // args.n)][: args.n]
        results.append(run(clips, "dataset-1", args))
    elif args.n > 0 or args.all:
        print(f"(no {SHARED_D1}; dataset-1 skipped)")
    if args.json:
        from motionlib.motion.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
