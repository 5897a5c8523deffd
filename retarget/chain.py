"""The whole chain for one input file: ingest -> refine -> retarget -> export -> playback (+ video).

``RobotChain(ChainConfig(robot="g1")).run_input(path, out_dir)`` takes whatever ``motionlib ingest`` reads
(a motionlib clip, a BVH, an AMASS ``.npz``, a WHAM ``.pkl``/``.npz``; ``motion.ingest.formats.read_clips``,
which reads WHAM pickles with the restricted unpickler) and, for every clip the file holds (WHAM: one per
track):

1. **ingest**: the clip as read (optionally cropped), its frames, fit error, floor and plausibility;
2. **refine** (unless ``refine=False``): the shipped human tracker (``policies.refine.refine_clips``);
   the trajectory is cut at its restarts into continuous segments and each kept segment goes on;
3. **retarget**: mink IK per segment (``retarget.ik.Retargeter``) with ``retarget.report``'s figures;
4. **export**: the robot clip NPZ (BeyondMimic layout, always: playback reads it) and, on request, the CSV;
5. **playback**: robot tracking in physics through ``motionlib.retarget.playback.playback_clips`` when
   that module is installed, else reported as skipped;
6. **video** (on request): the robot beside the human segment it follows (``retarget.render``).

Layout under ``out_dir/<id>/<robot>/`` (one folder per input and robot, so robots share an output
folder): ``human/<clip>.npz`` (ingested), ``refined/<segment>.npz``, the robot clips ``<segment>.npz`` (``.csv``,
``<segment>_robot.mp4``), ``playback/`` and ``report.json``, the input's report. Every file is written atomically and the report last, so an input whose report exists with
the same options and input bytes is finished (:meth:`RobotChain.finished`). A step that fails raises
:class:`ChainError` naming the step and the file; it carries the input's partial report.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionlib.motion.atomic import write_text_atomic
from motionlib.motion.clip import Motion, fit_details
from motionlib.motion.errors import MotionError
from motionlib.motion.io import save_motion
from motionlib.motion.metrics import plausibility

from .report import clip_report, totals as retarget_totals
from .robot_clip import from_qpos, save_robot_clip, to_csv

STEPS = ("ingest", "refine", "retarget", "export", "playback", "video")
FORMATS = ("npz", "csv")
PLAYBACK_MODULE = "motionlib.retarget.playback"
REPORT_NAME = "report.json"
PLAUSIBILITY = ("penetration_mm", "float_mm", "skate_mm", "jitter")


class ChainError(MotionError):
    """A step of the chain failed on one input: ``step``, the problem, the file; ``report`` is what the
    input's report holds so far (``status`` "failed", ``step``, ``error``)."""

    def __init__(self, step: str, problem: str, source: str, report: dict) -> None:
        super().__init__(f"{step}: {problem}", source)
        self.step = step
        self.report = {**report, "status": "failed", "step": step, "error": str(self)}


@dataclass
class ChainConfig:
    robot: str = "g1"  # a shipped robot's name or a description .json
    refine: bool = True  # track the human clip in physics first (the shipped tracker or ``policy``)
    policy: str | None = None  # human tracking policy file (None: the shipped one)
    min_segment_s: float | None = None  # refine's shortest segment kept (None: policies.refine.MIN_SEGMENT_S)
    formats: tuple[str, ...] = ("npz",)  # robot clip files; the NPZ is always written
    video: bool = False  # the robot beside the human, one .mp4 per segment
    fps: float | None = None  # WHAM inputs' frame rate (required for them); others are resampled to it
    fit_iters: int | None = None  # BVH -> SMPL fit steps (None: the fit's default)
    crop: tuple[int, int | None] | None = None  # keep frames [start, end) of each ingested clip
    threads: int | None = None  # refine's physics threads (None: every core)
    avoid_collisions: bool = True  # the IK's self-collision limit

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise ValueError(f"unknown robot clip format(s) {bad} (choose from {', '.join(FORMATS)})")
        self.formats = tuple(dict.fromkeys(("npz", *self.formats)))
        if self.crop is not None:
            start, end = self.crop
            if start < 0 or (end is not None and end <= start):
                raise ValueError(f"crop must be 0 <= start < end, got {self.crop}")


def playback_available() -> bool:
    """Whether robot tracking in physics (``motionlib.retarget.playback``) is installed."""
    try:
        return importlib.util.find_spec(PLAYBACK_MODULE) is not None
    except ModuleNotFoundError:
        return False


def sha256(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def input_ids(paths: list[Path]) -> list[str]:
    """One folder name per input: its stem, with a short hash of its path where two inputs share a stem."""
    stems = [Path(p).name.split(".")[0] for p in paths]
    return [s if stems.count(s) == 1 else f"{s}-{hashlib.sha1(str(p).encode()).hexdigest()[:6]}"
            for s, p in zip(stems, paths)]


def _rounded(d: dict | None, nd: int = 3) -> dict | None:
    return None if d is None else {k: (round(float(v), nd) if isinstance(v, (float, np.floating)) else v)
                                   for k, v in d.items()}


class RobotChain:
    """Runs the chain for one robot over input files; build once, call :meth:`run_input` per input."""

    def __init__(self, cfg: ChainConfig, progress: bool = False) -> None:
        from .description import load_description
        from .ik import RetargetConfig, Retargeter

        self.cfg = cfg
        self.progress = progress
        self.desc = load_description(cfg.robot)
        self.retargeter = Retargeter(self.desc, RetargetConfig(avoid_collisions=cfg.avoid_collisions))
        self.policy = None
        self.policy_path = None
        if cfg.refine:
            from motionlib.policies.actor import TrackingPolicy
            from motionlib.policies.default import default_policy_path

            self.policy_path = Path(cfg.policy) if cfg.policy else default_policy_path()
            self.policy = TrackingPolicy.load(self.policy_path)
        self.playback = playback_available()
        # what an input's outputs depend on besides its bytes: a report with the same key is kept (resume)
        self.key = json.loads(json.dumps({
            "robot": self.desc.name, "description_sha256": sha256(self.desc.path), "refine": cfg.refine,
            "policy_sha256": sha256(self.policy_path) if self.policy_path else None,
            "formats": list(cfg.formats), "video": cfg.video, "fps": cfg.fps, "fit_iters": cfg.fit_iters,
            "crop": cfg.crop, "min_segment_s": cfg.min_segment_s, "avoid_collisions": cfg.avoid_collisions, "playback": self.playback}))

    # ------------------------------------------------------------------------------------ files
    def robot_dir(self, out_dir: Path, cid: str) -> Path:
        return Path(out_dir) / cid / self.desc.name

    def report_path(self, out_dir: Path, cid: str) -> Path:
        return self.robot_dir(out_dir, cid) / REPORT_NAME

    def finished(self, src: Path, out_dir: Path, cid: str) -> dict | None:
        """The report of ``src`` done before into ``out_dir`` with the same options from the same bytes
        (every file it lists still there), or None."""
        path = self.report_path(out_dir, cid)
        if not path.is_file():
            return None
        try:
            rep = json.loads(path.read_text())
            files = rep["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if rep.get("key") != self.key or rep.get("input_sha256") != sha256(src):
            return None
        if not all((self.robot_dir(out_dir, cid) / f).is_file() for f in files):
            return None
        return rep

    def _clear(self, out_dir: Path, cid: str) -> None:
        """Remove what an earlier run wrote for this input and robot (the report first)."""
        self.report_path(out_dir, cid).unlink(missing_ok=True)
        if self.robot_dir(out_dir, cid).is_dir():
            shutil.rmtree(self.robot_dir(out_dir, cid))

    # ------------------------------------------------------------------------------------ chain
    def run_input(self, src: str | Path, out_dir: str | Path, cid: str | None = None) -> dict:
        """Run every step on ``src`` into ``out_dir/<cid>/<robot>/``; returns the input's report (also written).
        Raises :class:`ChainError` on the first failing step."""
        src, out_dir = Path(src), Path(out_dir)
        cid = cid or input_ids([src])[0]
        report: dict = {"input": str(src), "id": cid, "robot": self.desc.name, "status": "running", "clips": [],
                        "wall_s": {s: 0.0 for s in STEPS}}
        step = "ingest"
        try:
            self._clear(out_dir, cid)
            t0 = time.perf_counter()
            fmt, motions = self._read(src)
            report["format"] = fmt
            report["wall_s"]["ingest"] += time.perf_counter() - t0
            names = [cid] if len(motions) == 1 else [f"{cid}_track{m.meta.get('track_id', i)}"
                                                      for i, m in enumerate(motions)]
            files: list[str] = []
            for name, motion in zip(names, motions):
                entry = {"id": name}
                report["clips"].append(entry)
                for step in STEPS:
                    t0 = time.perf_counter()
                    motion = self._step(step, entry, name, motion, src, self.robot_dir(out_dir, cid), files)
                    report["wall_s"][step] += time.perf_counter() - t0
        except ChainError:
            raise
        except Exception as e:  # one input's failure never stops the others
            problem = e.problem if isinstance(e, MotionError) else f"{type(e).__name__}: {e}"
            raise ChainError(step, problem, str(src), report) from None
        report["wall_s"] = {k: round(v, 3) for k, v in report["wall_s"].items()}
        report.update(status="ok", files=files, key=self.key, input_sha256=sha256(src))
        write_text_atomic(self.report_path(out_dir, cid), json.dumps(report, indent=1) + "\n")
        return report

    def _read(self, src: Path) -> tuple[str, list[Motion]]:
        from motionlib.motion.ingest.formats import ReadOptions, detect_format, read_clips

        fmt = detect_format(src)
        opts = ReadOptions(fps=self.cfg.fps, fit_iters=self.cfg.fit_iters, threads=self.cfg.threads)
        clips = read_clips(src, fmt, opts)
        if not clips:
            raise MotionError("holds no clip", str(src))
        return fmt, clips

    def _step(self, step: str, entry: dict, name: str, data, src: Path, folder: Path, files: list[str]):
        """Run ``step`` of one clip; ``data`` is what the step before handed on; returns what goes on."""
        return getattr(self, f"_{step}")(entry, name, data, src, folder, files)

    def _ingest(self, entry, name, motion: Motion, src, folder, files):
        if self.cfg.crop is not None:
            start, end = self.cfg.crop
            end = motion.num_frames if end is None else min(end, motion.num_frames)
            if end - start < 2:
                raise MotionError(f"crop {self.cfg.crop} leaves {max(end - start, 0)} frame(s) of "
                                  f"{motion.num_frames}", str(src))
            motion = motion[start:end]
        rel = f"human/{name}.npz"
        save_motion(motion, folder / rel)
        files.append(rel)
        fit = fit_details(motion.meta)
        floor = motion.meta.get("floor")
        if floor is None and fit is not None and "ground_shift_m" in fit:
            floor = {"shift_m": fit["ground_shift_m"], "from": "the BVH fit's soles"}
        entry["ingest"] = {"file": rel, "frames": motion.num_frames, "fps": motion.fps,
                           "duration_s": round(motion.duration, 3), "crop": self.cfg.crop,
                           "fit_error_mm": motion.meta.get("fit_error_mm"), "floor": floor,
                           **_rounded(plausibility(motion))}
        return motion

    def _refine(self, entry, name, motion: Motion, src, folder, files):
        """The human clip -> [(segment name, segment clip)]: the refined continuous segments, or the clip."""
        if not self.cfg.refine:
            entry["refine"] = {"status": "skipped", "reason": "--no-refine"}
            return [(name, motion)]
        from motionlib.policies.refine import MIN_SEGMENT_S, refine_clips

        min_s = MIN_SEGMENT_S if self.cfg.min_segment_s is None else self.cfg.min_segment_s
        (res,), _ = refine_clips([motion], self.policy, threads=self.cfg.threads, progress=False,
                                 min_segment_s=min_s)
        rep = res.report
        whole = not rep["cuts"]
        names = [name] if whole else [f"{name}_seg{k}" for k in range(len(res.segments))]
        segs = []
        for seg_name, seg, seg_rep in zip(names, res.segments, rep["segments"]):
            rel = f"refined/{seg_name}.npz"
            save_motion(seg.clip, folder / rel)
            files.append(rel)
            segs.append({"file": rel, "frames": seg_rep["frames"], "g_mpjpe_mm": round(seg_rep["g_mpjpe_mm"], 2)})
        fr = rep["frames"]
        entry["refine"] = {"status": "ok", "policy": str(self.policy_path), "tracked_to_end": rep["success"],
                           "restarts": rep["retries"], "g_mpjpe_mm": round(rep["g_mpjpe_mm"], 2),
                           "cleanup_strength": None if rep["cleanup"] is None else round(rep["cleanup"]["strength"], 3),
                           "segments": segs, "cuts": [c["frame"] for c in rep["cuts"]],
                           "frames_input": fr["input"], "frames_kept": fr["kept"],
                           "frames_dropped": fr["input"] - fr["kept"], "dropped": fr["dropped"],
                           "before": _rounded({k: rep["before"][k] for k in PLAUSIBILITY}),
                           "after": _rounded(None if rep["after"] is None else {k: rep["after"][k]
                                                                                for k in PLAUSIBILITY})}
        if not segs:
            raise MotionError(f"refine kept no continuous segment ({fr['kept']} of {fr['input']} frames; "
                              f"segments between restarts under {min_s:g} s are dropped; --no-refine retargets "
                              "the clip as it is)", str(src))
        return [(seg_name, seg.clip) for seg_name, seg in zip(names, res.segments)]

    def _retarget(self, entry, name, segments, src, folder, files):
        """[(name, human)] -> [(name, human, robot clip)]."""
        out, reps = [], []
        for seg_name, human in segments:
            try:
                result = self.retargeter.run(human)
            except MotionError as e:
                raise MotionError(f"{seg_name}: {e.problem}", str(src)) from None
            rep = {"segment": seg_name, **_rounded(clip_report(self.retargeter.robot, result, human), 4)}
            reps.append(rep)
            meta = dict(human.meta, retarget={"robot": self.desc.name, "source": str(src), "segment": seg_name,
                                              "segment_scales": [round(float(s), 4) for s in result.targets.scales]})
            out.append((seg_name, human, from_qpos(self.retargeter.robot, result.qpos, human.fps, meta)))
        tot = retarget_totals([{k: v for k, v in r.items() if k != "segment"} for r in reps])
        entry["retarget"] = {"status": "ok", "segments": reps, "totals": _rounded(tot, 4)}
        return out

    def _export(self, entry, name, clips, src, folder, files):
        exported = {f: [] for f in self.cfg.formats}
        for seg_name, _, clip in clips:
            for fmt in self.cfg.formats:
                rel = f"{seg_name}.{fmt}"
                (save_robot_clip if fmt == "npz" else to_csv)(clip, folder / rel)
                files.append(rel)
                exported[fmt].append(rel)
        entry["export"] = {"status": "ok", **exported}
        return clips

    def _playback(self, entry, name, clips, src, folder, files):
        if not self.playback:
            entry["playback"] = {"status": "skipped", "reason": f"no robot tracking policy for {self.desc.name}"}
            return clips
        playback_clips = importlib.import_module(PLAYBACK_MODULE).playback_clips
        out = folder / "playback"
        paths = [folder / f"{seg_name}.npz" for seg_name, _, _ in clips]
        video = out / f"{name}_playback.mp4" if self.cfg.video else None
        result = playback_clips(paths, self.cfg.robot, policy_path=None, out_dir=out, video=video)
        entry["playback"] = {"status": "ok", **json.loads(json.dumps(result, default=str))}
        return clips

    def _video(self, entry, name, clips, src, folder, files):
        if not self.cfg.video:
            entry["video"] = {"status": "skipped", "reason": "no --video"}
            return clips
        from .render import RobotRenderConfig, render_robot_video

        videos, fps = [], []
        for seg_name, human, clip in clips:
            rel = f"{seg_name}_robot.mp4"
            info = render_robot_video(clip, folder / rel, RobotRenderConfig(size=(960, 480)), human, self.desc,
                                      progress=self.progress, source=str(folder / f"{seg_name}.npz"),
                                      human_source=str(src))
            files.append(rel)
            videos.append(rel)
            fps.append(info["render_fps"])
        entry["video"] = {"status": "ok", "files": videos, "render_fps": round(float(np.mean(fps)), 2)}
        return clips


def chain_totals(reports: list[dict]) -> dict:
    """Totals over the inputs' reports (failed inputs count in ``inputs`` and ``failed`` only)."""
    ok = [r for r in reports if r.get("status") == "ok"]
    clips = [c for r in ok for c in r["clips"]]
    out: dict = {"inputs": len(reports), "ok": len(ok), "failed": len(reports) - len(ok), "clips": len(clips),
                 "frames_ingested": sum(c["ingest"]["frames"] for c in clips),
                 "wall_s": {s: round(sum(r["wall_s"].get(s, 0.0) for r in reports), 3) for s in STEPS}}
    refined = [c["refine"] for c in clips if c["refine"].get("status") == "ok"]
    if refined:
        n_in = sum(r["frames_input"] for r in refined)
        kept = sum(r["frames_kept"] for r in refined)
        out["refine"] = {
            "clips": len(refined), "tracked_to_end": sum(r["tracked_to_end"] for r in refined),
            "segments": sum(len(r["segments"]) for r in refined), "frames_input": n_in, "frames_kept": kept,
            "frames_dropped": n_in - kept,
            "before": _mean_of([r["before"] for r in refined]), "after": _mean_of([r["after"] for r in refined])}
    segs = [{k: v for k, v in s.items() if k != "segment"} for c in clips for s in c["retarget"]["segments"]]
    if segs:
        out["retarget"] = _rounded(retarget_totals(segs), 4)
    out["robot_clips"] = sum(len(c["export"]["npz"]) for c in clips)
    out["playback"] = {"ran": sum(c["playback"].get("status") == "ok" for c in clips),
                       "skipped": sum(c["playback"].get("status") == "skipped" for c in clips)}
    return out


def _mean_of(dicts: list[dict | None]) -> dict | None:
    have = [d for d in dicts if d is not None]
    return _rounded({k: float(np.mean([d[k] for d in have])) for k in have[0]}) if have else None


def config_dict(cfg: ChainConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))
