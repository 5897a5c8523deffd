"""motionlib.policies (see the open issues for what lands here)."""
