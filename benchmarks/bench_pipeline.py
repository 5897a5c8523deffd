"""Pipeline throughput on Ray: per stage clips/s and frames/s with 1 and 2 workers, and the scaling efficiency.

    python benchmarks/bench_pipeline.py                  # 40 dataset-1 clips of out/d1_v2/clips, else the samples
    python benchmarks/bench_pipeline.py --src DIR --n 20 --workers 1 2 4 --stages ingest,features

Each worker count is a fresh run (an embedded Ray of that many CPUs, an empty run folder) of
``motionlib pipeline run``'s driver over the same clips. The efficiency of N workers is
throughput_N / (N x throughput_1), per stage. Prints one JSON object. With motionlib clips as sources the
ingest stage only reads, checks and rewrites each clip; the BVH fit's own rate is benchmarks/bench_ingest.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
D1_CLIPS = REPO / "out" / "d1_v2" / "clips"
SAMPLES = REPO / "data" / "samples" / "bandai"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=None, help="clips or source files (default: see above)")
    ap.add_argument("--n", type=int, default=40, help="the first N files of the source folder")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--stages", default="ingest,refine,features,tokenize")
    ap.add_argument("--refine-batch", type=int, default=4, help="clips per refine task")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run folders here (default: a temp folder)")
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from motionlib.pipeline.config import PipelineConfig, RefineOptions, parse_stages
    from motionlib.pipeline.runner import run_pipeline

    src = args.src or (D1_CLIPS if D1_CLIPS.is_dir() else SAMPLES)
    files = sorted(p for p in src.iterdir() if p.suffix in (".npz", ".bvh") and not p.name.startswith("."))
    files = [p for p in files if not p.name.endswith(".tokens.npz")][: args.n]
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    result: dict = {"source": str(src), "clips": len(files), "stages": args.stages, "cpus": os.cpu_count(),
                    "load_average_start": os.getloadavg()[0], "runs": {}}
    try:
        for w in args.workers:
            out = root / f"workers{w}"
            shutil.rmtree(out, ignore_errors=True)
            cfg = PipelineConfig(out=out, stages=parse_stages(args.stages), workers=w, progress=False,
                                 refine=RefineOptions(batch=args.refine_batch))
            s = run_pipeline([str(f) for f in files], cfg)
            result["runs"][str(w)] = {"wall_s": s["wall_s"], "failed": s["failed"], "stages": {
                k: {f: v[f] for f in ("done", "failed", "frames", "motion_s", "wall_s", "task_s", "clips_per_s",
                                      "frames_per_s", "task_s_per_motion_h")} for k, v in s["stages"].items()}}
        base = result["runs"].get("1")
        if base:
            result["efficiency"] = {
                str(w): {k: (round(r["stages"][k]["clips_per_s"] / (w * base["stages"][k]["clips_per_s"]), 3)
                             if base["stages"][k]["clips_per_s"] else None) for k in r["stages"]}
                for w, r in ((int(w), r) for w, r in result["runs"].items()) if w != 1}
        result["load_average_end"] = os.getloadavg()[0]
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
