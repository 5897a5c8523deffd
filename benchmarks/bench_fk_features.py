"""FK and SMPL-D135 throughput, and the worst D135 round trip over a dataset.

    python benchmarks/bench_fk_features.py                      # bundled samples
    python benchmarks/bench_fk_features.py --clips out/bandai   # every ingested clip (worst round trip)

Prints frames/s of numpy FK, torch FK (batched), D135 encode and decode, and
the largest decode(encode(clip)) joint-position and rotation error found.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _timing import best_rate
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, default=None, help="folder of motionlib clips (default: ingest the samples)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from motionlib.motion.features import decode, encode, roundtrip_error
    from motionlib.motion.fk import fk, fk_t
    from motionlib.motion.io import find_clips, load_motion

    if args.clips is None:
        import tempfile

        from motionlib.motion.ingest.dataset import IngestConfig, build_dataset

        out = Path(tempfile.mkdtemp(prefix="bench-fk-"))
        build_dataset([REPO / "data" / "samples" / "bandai"], IngestConfig(out=out, workers=1, progress=False))
        args.clips = out / "clips"
    files = find_clips(args.clips)
    if not files:
        raise SystemExit(f"no clips in {args.clips}")

    # throughput on one long batch (all frames of up to the first 20 clips)
    clips = [load_motion(f) for f in files[:20]]
    rot = np.concatenate([c.rotmats() for c in clips])
    trans = np.concatenate([c.trans for c in clips])
    off = clips[0].skeleton().offsets
    n = len(rot)
    rot_t, trans_t, off_t = (torch.as_tensor(x, dtype=torch.float32) for x in (rot, trans, off))
    fk_np = best_rate(lambda: fk(rot, trans, off), n)
    fk_torch = best_rate(lambda: fk_t(rot_t, trans_t, off_t), n)
    enc = best_rate(lambda: [encode(c) for c in clips], n)
    coded = [encode(c) for c in clips]
    dec = best_rate(lambda: [decode(f, c.fps, o, c.offsets, c.body_scale) for c, (f, o) in zip(clips, coded)], n)
    print(f"FK / D135 throughput ({n} frames, {args.threads} threads)")
    print(f"  FK numpy float64 : {fk_np:12,.0f} frames/s")
    print(f"  FK torch float32 : {fk_torch:12,.0f} frames/s")
    print(f"  D135 encode      : {enc:12,.0f} frames/s")
    print(f"  D135 decode      : {dec:12,.0f} frames/s")

    worst_p, worst_r, worst_clip, total = 0.0, 0.0, None, 0
    for f in tqdm(files, desc="D135 round trip", unit="clip"):
        e = roundtrip_error(load_motion(f))
        total += e["frames"]
        if e["max_joint_err_m"] > worst_p:
            worst_p, worst_clip = e["max_joint_err_m"], f.name
        worst_r = max(worst_r, e["max_rot_err_rad"])
    print(f"D135 round trip over {len(files)} clips ({total} frames)")
    print(f"  worst joint position error : {worst_p:.3e} m  ({worst_clip})  target <= 1e-4 m")
    print(f"  worst rotation error       : {worst_r:.3e} rad  target <= 1e-5")


if __name__ == "__main__":
    main()
