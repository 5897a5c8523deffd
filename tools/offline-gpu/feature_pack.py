"""Pack a D135 feature cache compactly for the trip to another machine, or unpack it there.

    python tools/offline-gpu/feature_pack.py pack   CACHE.npz PACKED.npz [--bits 12]
    python tools/offline-gpu/feature_pack.py unpack PACKED.npz CACHE.npz

A thin command over :mod:`motionlib.tokenizer.feature_pack` (the same as
``python -m motionlib.tokenizer.feature_pack``); see it for the format.
"""

from __future__ import annotations

from motionlib.tokenizer.feature_pack import main

if __name__ == "__main__":
    raise SystemExit(main())
