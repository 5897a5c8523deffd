"""Readers that turn external motion files (BVH, AMASS, WHAM) into Motion clips."""
