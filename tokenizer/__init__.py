"""motionlib.tokenizer: MotionBook motion tokens (2D lookup-free quantization over SMPL-D135).

Modules: :mod:`.parts` (body-part split of D135), :mod:`.config` (typed
configs), :mod:`.quantizers` (LFQ / EMA-VQ wrappers over
``vector_quantize_pytorch``), :mod:`.model` (2D-LFQ autoencoder and 1D
baselines), :mod:`.losses`, :mod:`.data` (windows over clip folders),
:mod:`.train`, :mod:`.checkpoint`, :mod:`.metrics`, :mod:`.tokens` (token
files next to clips), :mod:`.codec` (clip <-> tokens), :mod:`.presets` (the
benchmark models) and :mod:`.feature_cache` (D135 of a clip set, encoded once).
``data/`` holds the shipped default tokenizer. Nothing heavy is imported here.
"""
