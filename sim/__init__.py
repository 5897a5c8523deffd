"""motionlib.sim (see the open issues for what lands here)."""
