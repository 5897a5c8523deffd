"""``motionlib ingest SRC... --out DIR``: build a clip dataset from BVH / AMASS / WHAM files."""

from __future__ import annotations

import sys
from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("ingest", help="convert files, folders or archives into motionlib clips + manifest",
                       description="Convert BVH (fitted to SMPL), AMASS .npz and WHAM .pkl files - given as files, "
                                   "folders or tar archives (.tar.xz read directly) - into motionlib clips under "
                                   "OUT/clips with OUT/manifest.json. Parallel over files, resumable, atomic per clip.")
    p.add_argument("sources", nargs="+", help="files, folders or archives")
    p.add_argument("--out", required=True, type=Path, help="output dataset folder")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of WHAM inputs (required for WHAM; WHAM does not store it); "
                        "for other formats, resample to this rate")
    p.add_argument("--mapping", default="auto", help="BVH joint mapping name or JSON file (default: detect)")
    p.add_argument("--body", choices=["scaled", "fitted"], default="scaled",
                   help="BVH body: the mean SMPL body scaled to the source's size (default), or SMPL's tree with "
                        "the source's bone lengths (near-exact joint positions, not expressible in betas)")
    p.add_argument("--smpl-model", default=None,
                   help="your SMPL model file (.pkl/.npz, read safely): per-subject skeletons from betas")
    p.add_argument("--iters", type=int, default=None, help="optimisation steps of the BVH -> SMPL fit")
    p.add_argument("--limit", type=int, default=None, help="convert at most N sources")
    p.add_argument("--no-resume", action="store_true", help="reconvert sources that are already done")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from motionlib.motion.ingest.dataset import IngestConfig, build_dataset

    cfg = IngestConfig(out=args.out, workers=max(1, args.workers), fps=args.fps, mapping=args.mapping, body=args.body, smpl_model=args.smpl_model,
                       fit_iters=args.iters, resume=not args.no_resume, limit=args.limit,
                       progress=not args.quiet and not args.json)
    summary, records = build_dataset(args.sources, cfg)
    failures = [r for r in records if r["status"] != "ok"]
    result = {
        "out": str(args.out), "manifest": str(Path(args.out) / "manifest.json"),
        "sources": summary.sources, "converted": summary.converted, "skipped_done": summary.skipped,
        "failed": summary.failed, "clips": summary.clips, "frames": summary.frames,
        "seconds": round(summary.seconds, 2), "clips_per_s": round(summary.clips_per_s, 3),
        "frames_per_s": round(sum(r["frames"] for r in records if r["status"] == "ok" and
                                  r.get("seconds") is not None) / summary.seconds, 1) if summary.seconds else 0.0,
        "fit_error_mm_median": summary.fit_error_mm_median, "fit_error_mm_p95": summary.fit_error_mm_p95,
        "fit_error_mm_max": summary.fit_error_mm_max,
        "failures": [{"source": r["source"], "error": r["error"]} for r in failures[:50]],
    }
    if args.json:
        print_json(result)
    else:
        print(f"ingest: {summary.sources} sources -> {summary.clips} clips ({summary.frames} frames) in "
              f"{summary.seconds:.1f} s; converted {summary.converted}, resumed {summary.skipped}, failed {summary.failed}")
        if summary.fit_error_mm_median is not None:
            print(f"fit error (mm): median {summary.fit_error_mm_median:.2f}, p95 {summary.fit_error_mm_p95:.2f}, "
                  f"max {summary.fit_error_mm_max:.2f}")
        for r in failures[:20]:
            print(f"FAILED {r['error']}", file=sys.stderr)
        print(f"manifest: {result['manifest']}")
    return 0 if summary.clips > 0 or summary.sources == 0 else 1
