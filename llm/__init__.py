"""motionlib.llm: a language model that reads and writes MotionBook tokens (see README.md in this folder)."""
