"""motionlib.tokenizer (see the open issues for what lands here)."""
