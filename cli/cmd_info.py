"""``motionlib info CLIP``: what a clip holds and how physically plausible it is.

Reports frames, fps, duration, source, texts, body scale and height, BVH fit
error, global joint bounding box and the plausibility metrics of
:func:`motionlib.motion.metrics.plausibility` (ground penetration, floating,
foot skating, jitter). ``--json`` prints one JSON object.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionlib.cli.common import add_json_flag, print_json

METRIC_KEYS = ("penetration_mm", "float_mm", "skate_mm", "jitter")


def register(sub) -> None:
    p = sub.add_parser("info", help="show a clip's length, texts, fit error, bounding box and plausibility metrics",
                       description="Load CLIP (a motionlib .npz clip, or any format `convert` reads) and report "
                                   "frames, fps, duration, source, texts, body scale, BVH fit error, global joint "
                                   "bounding box (metres, z-up) and plausibility metrics.")
    p.add_argument("clip", type=Path, help="clip file")
    add_json_flag(p)
    p.set_defaults(func=run)


def load_clips_arg(path: Path) -> list:
    """Clips from one file named on the command line; errors name the file."""
    from motionlib.motion.errors import MotionError
    from motionlib.motion.ingest.formats import detect_format, read_clips
    from motionlib.motion.io import load_motion

    if not path.exists():
        raise MotionError("no such file", str(path))
    if not path.is_file():
        raise MotionError("is not a file", str(path))
    fmt = detect_format(path)
    if fmt == "motionlib":
        return [load_motion(path)]
    return read_clips(path, fmt)


def clip_info(clip) -> dict:
    """The figures ``info`` reports for one clip (JSON-ready)."""
    from motionlib.motion.metrics import plausibility

    pos = clip.joints()[0]
    metrics = plausibility(clip)
    fit = clip.meta.get("fit_error_mm")
    texts = clip.meta.get("texts") or {"captions": [], "body_parts": {}}
    out = {
        "source": clip.source,
        "frames": clip.num_frames,
        "fps": clip.fps,
        "duration_s": clip.duration,
        "gender": clip.gender,
        "body_scale": clip.body_scale,
        "height_m": clip.skeleton().height(),
        "fit_error_mm": None if fit is None else float(fit),
        **{k: None if metrics.get(k) is None else float(metrics[k]) for k in METRIC_KEYS},
        "bbox_min": pos.reshape(-1, 3).min(axis=0).tolist(),
        "bbox_max": pos.reshape(-1, 3).max(axis=0).tolist(),
        "path_length_m": float(np.linalg.norm(np.diff(clip.trans[:, :2], axis=0), axis=1).sum()),
        "texts": texts,
    }
    if "labels" in clip.meta:
        out["labels"] = clip.meta["labels"]
    return out


def _fmt(v, unit: str = "", digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}{unit}"


def _print_text(info: dict) -> None:
    print(f"source:        {info['source']}")
    print(f"frames:        {info['frames']} at {info['fps']:g} fps ({info['duration_s']:.2f} s)")
    print(f"body:          {info['gender']}, scale {info['body_scale']:.3f}, height {info['height_m']:.3f} m")
    print(f"fit error:     {_fmt(info['fit_error_mm'], ' mm')}")
    lo, hi = info["bbox_min"], info["bbox_max"]
    print("bbox (m):      min (" + ", ".join(f"{v:.3f}" for v in lo) + ")  max (" + ", ".join(f"{v:.3f}" for v in hi) + ")")
    print(f"path length:   {info['path_length_m']:.2f} m")
    print(f"penetration:   {_fmt(info['penetration_mm'], ' mm')}")
    print(f"floating:      {_fmt(info['float_mm'], ' mm')}")
    print(f"foot skating:  {_fmt(info['skate_mm'], ' mm')}")
    print(f"jitter:        {_fmt(info['jitter'], '', 3)}")
    if "labels" in info:
        print(f"labels:        {info['labels']}")
    caps = info["texts"].get("captions") or []
    print(f"captions:      {len(caps)}")
    for c in caps:
        print(f"  - {c}")
    for part, phrases in (info["texts"].get("body_parts") or {}).items():
        print(f"  {part}: {'; '.join(phrases)}")


def run(args) -> int:
    clips = load_clips_arg(args.clip)
    infos = [clip_info(c) for c in clips]
    if args.json:
        print_json(infos[0] if len(infos) == 1 else {"source": str(args.clip), "clips": infos})
    else:
        for i, info in enumerate(infos):
            if len(infos) > 1:
                print(f"== track {i}")
            _print_text(info)
    return 0
