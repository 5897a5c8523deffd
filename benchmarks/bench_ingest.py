"""Ingest throughput: clips/s and frames/s with a process pool.

    python benchmarks/bench_ingest.py                 # bundled samples
    python benchmarks/bench_ingest.py --n 40          # first 40 clips of ../shared dataset-1 (when present)
    python benchmarks/bench_ingest.py --src DIR --workers 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_D1 = REPO.parent / "shared" / "data" / "bandai" / "dataset-1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=None)
    ap.add_argument("--n", type=int, default=24, help="clips from ../shared dataset-1 when --src is not given")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from motionlib.motion.ingest.dataset import IngestConfig, build_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        if args.src is not None:
            src, label = args.src, str(args.src)
        elif SHARED_D1.is_dir():
            src = tmp / "src"
            src.mkdir()
            for bvh in sorted(SHARED_D1.glob("*.bvh"))[:: max(1, 174 // args.n)][: args.n]:
                shutil.copy(bvh, src / bvh.name)
                shutil.copy(bvh.with_suffix(".json"), src / bvh.with_suffix(".json").name)
            label = f"{args.n} clips of ../shared dataset-1"
        else:
            src, label = REPO / "data" / "samples" / "bandai", "bundled samples"
        summary, _ = build_dataset([src], IngestConfig(out=tmp / "out", workers=args.workers, resume=False))
        print(f"ingest benchmark ({label}, {args.workers} worker processes)")
        print(f"  clips converted : {summary.converted} (failed {summary.failed})")
        print(f"  frames          : {summary.frames}")
        print(f"  wall time       : {summary.seconds:.2f} s")
        print(f"  throughput      : {summary.clips_per_s:.3f} clips/s, {summary.frames / summary.seconds:.1f} frames/s")
        if summary.fit_error_mm_median is not None:
            print(f"  fit error (mm)  : median {summary.fit_error_mm_median:.2f}, p95 {summary.fit_error_mm_p95:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
