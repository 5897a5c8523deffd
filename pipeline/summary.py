"""The figures of a run: per stage, clips done / skipped / failed / pending, wall time and throughput."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageStats:
    """One stage of a run. ``done`` counts the clips this run did; ``skipped`` those whose outputs an earlier
    run had made (checked on disk); the throughput is of the clips done, over the stage's wall time."""

    stage: str
    clips: int = 0  # clips the stage was run on (those whose earlier stages succeeded)
    done: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0  # not run: an earlier stage of the clip failed
    frames: int = 0  # of the clips done
    motion_s: float = 0.0  # seconds of motion of the clips done
    task_s: float = 0.0  # the tasks' own time for the clips done (summed over workers)
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def add(self, result: dict) -> None:
        status = result["status"]
        if status == "failed":
            self.failed += 1
            self.errors.append(result["error"])
        elif status == "skipped":
            self.skipped += 1
        else:
            self.done += 1
            self.frames += int(result.get("frames") or 0)
            self.motion_s += float(result.get("motion_s") or 0.0)
            self.task_s += float(result.get("seconds") or 0.0)

    def to_dict(self) -> dict:
        w = self.wall_s
        return {"clips": self.clips, "done": self.done, "skipped": self.skipped, "failed": self.failed,
                "pending": self.pending, "frames": self.frames, "motion_s": round(self.motion_s, 2),
                "wall_s": round(w, 3), "task_s": round(self.task_s, 3),
                "clips_per_s": round(self.done / w, 4) if w > 0 else None,
                "frames_per_s": round(self.frames / w, 2) if w > 0 else None,
                # the tasks' seconds per hour of motion: what a stage costs a worker (docs/scale.md)
                "task_s_per_motion_h": round(self.task_s / self.motion_s * 3600, 1) if self.motion_s else None,
                "errors": self.errors[:20]}


def summary_dict(stats: list[StageStats], *, out: str, workers: int | float, address: str | None,
                 wall_s: float, problems: list[tuple[str, str]]) -> dict:
    """The run's summary (``motionlib pipeline run --json``); ``failed`` counts every clip that failed a
    stage, plus the sources that gave no clip (``problems``)."""
    failed = sum(s.failed for s in stats) + len(problems)
    return {"out": out, "manifest": f"{out}/manifest.json", "workers": workers, "address": address or "embedded",
            "wall_s": round(wall_s, 2), "stages": {s.stage: s.to_dict() for s in stats},
            "problems": [{"source": s, "error": e} for s, e in problems[:20]], "failed": failed}


def format_text(summary: dict) -> str:
    """The summary as a few lines of text."""
    lines = [f"pipeline: {summary['out']} ({summary['address']}, {summary['workers']} worker CPU(s)), "
             f"{summary['wall_s']:.1f} s"]
    lines.append(f"  {'stage':9s} {'clips':>6s} {'done':>6s} {'skipped':>7s} {'failed':>6s} {'pending':>7s} "
                 f"{'wall s':>8s} {'clips/s':>8s} {'frames/s':>9s}")
    for name, s in summary["stages"].items():
        cps = "-" if s["clips_per_s"] is None else f"{s['clips_per_s']:.3f}"
        fps = "-" if s["frames_per_s"] is None else f"{s['frames_per_s']:.0f}"
        lines.append(f"  {name:9s} {s['clips']:6d} {s['done']:6d} {s['skipped']:7d} {s['failed']:6d} "
                     f"{s['pending']:7d} {s['wall_s']:8.2f} {cps:>8s} {fps:>9s}")
    errors = [e for s in summary["stages"].values() for e in s["errors"]] + [p["error"] for p in summary["problems"]]
    for e in errors[:20]:
        lines.append(f"  failed: {e}")
    lines.append(f"manifest: {summary['manifest']}")
    return "\n".join(lines)
