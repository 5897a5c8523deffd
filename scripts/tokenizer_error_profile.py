"""Where a tokenizer's reconstruction error sits: by style, by joint, by clip, and slow vs fast.

    python scripts/tokenizer_error_profile.py CLIPS_OR_CACHE [--tokenizer CKPT] [--smooth-s 1.0] [--json]

``CLIPS_OR_CACHE`` is a folder of clips (or clip files) or a feature cache written by
``tokenizer_sweep.py`` (``*.npz`` from ``--cache-dir``). Each clip is tokenized whole, as
``motionlib eval-tokenizer`` does, and the root-aligned joint error (SMPL joints 0..21 by FK
with the clip's own skeleton, pelvis subtracted per frame) is split into

* slow: the error vectors averaged over a centred ``--smooth-s`` window (edges repeated), i.e.
  held postures the model reproduces wrongly for a second or more;
* fast: what is left, the error in the motion around that posture.

Both are reported as mean joint distances (mm), so slow + fast is at least the full error.
Styles are read from Bandai-style names ``dataset-N_CONTENT_STYLE_NNN``; other names count as
style "-".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from motionlib.tokenizer.checkpoint import load_tokenizer, resolve_tokenizer
from motionlib.tokenizer.data import list_clips, load_clip_features
from motionlib.tokenizer.feature_cache import is_feature_cache, load_cache
from motionlib.tokenizer.losses import BODY_JOINTS, FeatureDenormalizer
from motionlib.tokenizer.metrics import joint_errors, reconstruct_clip


def style_of(name: str) -> str:
    parts = Path(name).stem.split("_")
    return parts[2] if len(parts) >= 4 and parts[0].startswith("dataset-") else "-"


def smooth(err: torch.Tensor, frames: int) -> torch.Tensor:
    """Centred moving average over time of (T, J, 3) with the edges repeated."""
    if frames <= 1:
        return err
    t, j, _ = err.shape
    x = err.permute(1, 2, 0).reshape(1, j * 3, t)
    x = torch.nn.functional.pad(x, (frames // 2, frames - 1 - frames // 2), mode="replicate")
    return torch.nn.functional.avg_pool1d(x, frames, 1).reshape(j, 3, t).permute(2, 0, 1)


@torch.no_grad()
def profile(clips, model, denorm: FeatureDenormalizer, smooth_s: float) -> dict:
    fps = float(model.cfg.fps)
    per_joint = np.zeros(BODY_JOINTS)
    slow_sum = fast_sum = 0.0
    styles: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    rows = []
    for c in clips:
        x = denorm.normalize(torch.as_tensor(c.feats, dtype=torch.float32))
        _, rec = reconstruct_clip(model, x)
        diff = joint_errors(x[None], rec[None], denorm, torch.as_tensor(c.offsets, dtype=torch.float32), fps)[0]
        err = diff - diff[:, :1]  # (T, 22, 3) metres, root-aligned as eval-tokenizer's
        slow = smooth(err, max(1, round(smooth_s * fps)))
        dist = err.norm(dim=-1) * 1000.0
        per_joint += dist.sum(0).numpy()
        slow_sum += float(slow.norm(dim=-1).sum()) * 1000.0
        fast_sum += float((err - slow).norm(dim=-1).sum()) * 1000.0
        st = styles[style_of(c.path.name)]
        st[0] += float(dist.sum())
        st[1] += dist.numel()
        rows.append({"clip": c.path.name, "frames": int(dist.shape[0]), "mpjpe_root_aligned_mm": float(dist.mean())})
    cells = sum(r["frames"] for r in rows) * BODY_JOINTS
    if not cells:
        raise SystemExit("no clips to profile")
    return {"clips": len(rows), "mpjpe_root_aligned_mm": float(per_joint.sum() / cells),
            "slow_mm": slow_sum / cells, "fast_mm": fast_sum / cells, "smooth_s": smooth_s,
            "per_style_mm": {k: v[0] / v[1] for k, v in sorted(styles.items())},
            "per_joint_mm": (per_joint / (cells / BODY_JOINTS)).round(1).tolist(),
            "worst_clips": sorted(rows, key=lambda r: -r["mpjpe_root_aligned_mm"])[:10]}


def load_inputs(path: Path, fps: float, min_frames: int):
    if path.is_file() and is_feature_cache(path):
        return load_cache(path)[0]
    return [load_clip_features(p, fps, min_frames) for p in list_clips(path)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", type=Path, help="folder of clips, a clip file or a tokenizer_sweep feature cache")
    p.add_argument("--tokenizer", default=None, help="checkpoint (default: the shipped tokenizer)")
    p.add_argument("--smooth-s", type=float, default=1.0, help="window of the slow part of the error, seconds")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, ck = load_tokenizer(resolve_tokenizer(args.tokenizer))
    res = profile(load_inputs(args.inputs, ck.config.fps, ck.config.alpha), model,
                  FeatureDenormalizer(ck.stats), args.smooth_s)
    if args.json:
        json.dump(res, sys.stdout, indent=1)
        print()
        return
    print(f"{res['clips']} clips: root-aligned MPJPE {res['mpjpe_root_aligned_mm']:.1f} mm; slow (over "
          f"{args.smooth_s:g} s) {res['slow_mm']:.1f} mm, fast {res['fast_mm']:.1f} mm")
    print("by style: " + ", ".join(f"{k} {v:.1f}" for k, v in res["per_style_mm"].items()))
    print("by joint (SMPL 0..21): " + " ".join(f"{v:.0f}" for v in res["per_joint_mm"]))
    for r in res["worst_clips"]:
        print(f"  {r['mpjpe_root_aligned_mm']:7.1f} mm  {r['frames']:5d} frames  {r['clip']}")


if __name__ == "__main__":
    main()
