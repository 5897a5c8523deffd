"""Compact copy of a D135 feature cache, to move a training set to another machine.

A float32 cache (:mod:`.feature_cache`) of the 348k Bandai training frames is
~170 MB compressed. :func:`pack` quantises every feature dimension uniformly to
``bits`` bits over its range (12 bits: max error = range / 8190, i.e. ~2.4e-4 on
6D rotation entries, ~0.01 degree), stores the per-clip first differences along
time (motion is smooth, so they are small) feature-major, and lets zlib
compress the low and high bytes separately: ~46 MB for that set. :func:`unpack`
restores a float32 cache in the same format as :mod:`.feature_cache` with the
quantisation error only. Meant for training data; evaluation uses exact
features.

    python -m motionlib.tokenizer.feature_pack pack   CACHE.npz PACKED.npz [--bits 12]
    python -m motionlib.tokenizer.feature_pack unpack PACKED.npz CACHE.npz
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from motionlib.motion.atomic import atomic_path
from motionlib.motion.io import read_versioned_npz, write_npz_atomic

from .feature_cache import FORMAT as CACHE_FORMAT
from .feature_cache import VERSION as CACHE_VERSION

FORMAT = "motionlib.d135_cache_packed"
VERSION = 1
META_KEYS = ("signature", "names", "lengths", "fps", "offsets", "body_scale", "has_offsets", "origin_json")


def _starts(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def pack(src: str | os.PathLike, dst: str | os.PathLike, bits: int = 12) -> Path:
    """Write the packed copy of the feature cache ``src`` to ``dst`` (atomically); returns ``dst``."""
    if not 2 <= bits <= 15:
        raise ValueError(f"bits must be in 2..15, got {bits}")
    d = read_versioned_npz(src, CACHE_FORMAT, CACHE_VERSION, "feature cache")
    f = d["feats"].astype(np.float64)
    lo, hi = f.min(0), f.max(0)
    scale = np.maximum(hi - lo, 1e-12) / (2**bits - 1)
    q = np.round((f - lo) / scale).astype(np.int16)
    delta = q.copy()
    delta[1:] -= q[:-1]
    delta[_starts(d["lengths"])] = q[_starts(d["lengths"])]  # each clip starts from its absolute values
    u = np.ascontiguousarray(delta.T).view(np.uint16)
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION), "bits": np.array(bits),
              "lo": lo, "scale": scale, "shape": np.array(f.shape), "low": (u & 255).astype(np.uint8),
              "high": (u >> 8).astype(np.uint8), **{k: d[k] for k in META_KEYS}}
    return Path(write_npz_atomic(dst, arrays))


def unpack(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Restore the float32 feature cache packed in ``src`` to ``dst`` (atomically); returns ``dst``."""
    d = read_versioned_npz(src, FORMAT, VERSION, "packed feature cache")
    u = d["low"].astype(np.uint16) | (d["high"].astype(np.uint16) << 8)
    delta = u.view(np.int16).T.astype(np.int64)
    starts = _starts(d["lengths"])
    seg = np.repeat(np.arange(len(starts)), d["lengths"])
    q = np.cumsum(delta, axis=0)
    q -= np.concatenate([np.zeros((1, q.shape[1]), np.int64), q[:-1]])[starts][seg]  # restart sums per clip
    feats = (q * d["scale"] + d["lo"]).astype(np.float32)
    arrays = {"format": np.array(CACHE_FORMAT), "version": np.array(CACHE_VERSION), "feats": feats,
              **{k: d[k] for k in META_KEYS}}
    with atomic_path(dst) as tmp:  # uncompressed: a working copy, fast to write and to read
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(dst)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " pack: 12-bit packed copy of a feature "
                                "cache; unpack: the float32 cache back.")
    p.add_argument("command", choices=["pack", "unpack"])
    p.add_argument("src", type=Path, help="pack: a feature cache; unpack: a packed cache")
    p.add_argument("dst", type=Path, help="the file to write")
    p.add_argument("--bits", type=int, default=12, help="pack: bits per feature value (2..15)")
    a = p.parse_args(argv)
    try:
        out = pack(a.src, a.dst, a.bits) if a.command == "pack" else unpack(a.src, a.dst)
    except (ValueError, OSError) as e:  # MotionError is a ValueError naming the file
        p.exit(2, f"feature_pack {a.command}: error: {e}\n")
    print(f"{a.command}: {a.src} -> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
