"""Command-line entry point ``motionlib``."""
