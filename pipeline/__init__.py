"""The dataset pipeline: the stages of motionlib (ingest, refine, features, tokenize) over many clips on Ray.

``motionlib pipeline run SRC... --out DIR`` runs each (clip, stage) as a Ray task on an embedded Ray (the
local cores) or on a cluster (``--address``), keeps ``DIR/manifest.json`` (each clip's status per stage) and
skips the work whose outputs exist and load, so a crashed run is simply rerun. One concern per module:
``config`` (the run's settings), ``io`` (where clips come from and where outputs go), ``stages`` (what each
stage does to one clip, reusing the library functions of the other stages), ``store_sink`` (``--store``: the
outputs as clip-store shards), ``manifest``, ``runner`` (the Ray driver loop) and ``summary`` (the figures of
a run). Design and operations: docs/scale.md.
"""
