"""Helpers shared by the subcommands."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np


def to_jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return to_jsonable(o.tolist())
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def print_json(obj: dict) -> None:
    """Print one JSON object on stdout (the --json contract)."""
    sys.stdout.write(json.dumps(to_jsonable(obj), sort_keys=False) + "\n")
    sys.stdout.flush()


class Failures:
    """The bad inputs of a batch command: each is reported and the batch carries on.

    Each input's work runs inside :meth:`one_input`; a ``MotionError`` raised there (it names the
    file and the problem) is recorded and the command goes on with the next input. :meth:`finish`
    puts the failures into the command's result and gives its exit code, :meth:`print` lists them."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    @contextlib.contextmanager
    def one_input(self) -> Iterator[None]:
        from motionlib.motion.errors import MotionError

        try:
            yield
        except MotionError as e:
            if str(e) not in self.errors:  # an input read again (e.g. once per policy) fails once
                self.errors.append(str(e))

    def load_clips(self, files: list) -> tuple[list, list]:
        """(files, clips): the clips of ``files`` that load, with their files; the others are recorded."""
        from motionlib.motion.io import load_motion

        ok, clips = [], []
        for f in files:
            with self.one_input():
                clips.append(load_motion(f))
                ok.append(f)
        return ok, clips

    def require_some(self, done: int, what: str) -> None:
        """Raise when nothing was ``what`` (e.g. "refined") and every input failed."""
        from motionlib.motion.errors import MotionError

        if not done and self.errors:
            raise MotionError(f"no clip could be {what} ({len(self.errors)} failed; first: {self.errors[0]})")

    def finish(self, result: dict) -> int:
        """Add ``failed`` and the first 20 ``errors`` to ``result``; the exit code: 1 when any input
        failed, else 0."""
        result["failed"] = len(self.errors)
        result["errors"] = self.errors[:20]
        return 1 if self.errors else 0

    def print(self) -> None:
        """The failures as text lines (after a command's own text report)."""
        for e in self.errors[:20]:
            print(f"  failed: {e}")
        if len(self.errors) > 20:
            print(f"  ... and {len(self.errors) - 20} more")


def video_result(info: dict) -> dict:
    """The figures of a written video (a renderer's ``info``) for a command's result."""
    return {"video": info["path"], "frames": info["frames"], "fps": info["fps"], "size": info["size"],
            "render_fps": round(info["render_fps"], 1)}


def print_render_result(result: dict, as_json: bool) -> int:
    """Print what a render command wrote (its ``png`` and/or ``video``), as JSON or as lines; 0."""
    if as_json:
        print_json(result)
        return 0
    if "png" in result:
        print(f"wrote {result['png']}")
    if "video" in result:
        print(f"wrote {result['video']} ({result['frames']} frames at {result['fps']:g} fps, "
              f"{result['size'][0]}x{result['size'][1]}, rendered at {result['render_fps']} frames/s)")
    return 0


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def add_cleanup_flags(parser) -> None:
    """The kinematic clean-up of a clip before tracking (``motionlib.motion.cleanup``), as ``refine`` takes it;
    :func:`cleanup_config` turns the parsed flags into the config."""
    parser.add_argument("--no-cleanup", action="store_true",
                        help="track the input as it is (default: put its feet on the floor and, as far as it is "
                             "noisy, smooth it and take the sliding of planted feet out of its root path first, see "
                             "motionlib.motion.cleanup)")
    parser.add_argument("--cleanup", choices=("auto", "full"), default="auto",
                        help="auto (default): smoothing and unslide in proportion to the clip's estimated "
                             "frame-to-frame rotation noise, none below 1 deg (motion capture: 0.01-0.96), in full "
                             "from 2 deg (the WHAM-artifact benchmark's clips: 2.8-3.4) and for clips ingested "
                             "from WHAM or made by motionlib corrupt; full: always in full")
    parser.add_argument("--no-unslide", action="store_true",
                        help="clean up without the unslide step (it moves a clip's path by 1-2 cm)")
    parser.add_argument("--footlock", action="store_true",
                        help="clean-up: also hold planted feet still (leg IK, motionlib.motion.footlock)")
    parser.add_argument("--smooth", type=float, default=None, metavar="SIGMA",
                        help="Gaussian smoothing of the tracked reference, in frames (default 1.5; 0: off)")


def cleanup_config(args):
    """The ``CleanupConfig`` of :func:`add_cleanup_flags`' flags, None with ``--no-cleanup``."""
    from motionlib.motion.cleanup import CleanupConfig

    if args.no_cleanup:
        return None
    cfg = CleanupConfig(unslide=not args.no_unslide, footlock=args.footlock, adaptive=args.cleanup == "auto")
    if args.smooth is not None:
        cfg.smooth_sigma_frames = args.smooth
    return cfg


def add_control_flags(parser, default: str) -> None:
    """The control loop around the policy: the low-pass filter on its actions (``motionlib.sim.action_filter``;
    ``default`` says in the help what the command does without the flags; :func:`action_filter_config` turns
    the parsed flags into the config), the physics substeps per control step (``--substeps``) and how the PD
    target moves over them (``--target-hold``), and the humanoid's joint armature (``--armature-scale``)."""
    from motionlib.sim.action_filter import KINDS

    parser.add_argument("--action-filter", choices=KINDS, default=None,
                        help="filter the policy's actions before they become PD targets: lowpass (first order) "
                             "or critical (second order, critically damped), with --action-alpha; none: "
                             f"unfiltered (default: {default})")
    parser.add_argument("--action-alpha", type=float, default=None, metavar="A",
                        help="the filter's gain per control step, in (0, 1]; 1 passes the actions through")
    parser.add_argument("--substeps", type=int, default=None, metavar="N",
                        help="physics steps per control step (default: the policy's, 4 for the shipped one: "
                             "physics at 120 Hz under 30 Hz control); 8 halves the physics step at twice its cost")
    parser.add_argument("--target-hold", choices=("zoh", "foh", "foh_lead"), default=None,
                        help="how the PD target moves over a control step's substeps: zoh holds the new target, "
                             "foh ramps it from the previous step's, foh_lead ramps it half a control step ahead "
                             "(default: the policy's, zoh)")
    parser.add_argument("--armature-scale", type=float, default=None, metavar="S",
                        help="the humanoid's joint armature times S (the policy file is not changed; default: "
                             "refine's and evaluation's, motionlib.policies.refine.ARMATURE_SCALE)")


def armature_scale(args) -> float:
    """``--armature-scale``, or refine's and evaluation's default where it is not given."""
    from motionlib.policies.refine import ARMATURE_SCALE

    scale = ARMATURE_SCALE if args.armature_scale is None else float(args.armature_scale)
    if scale <= 0:
        raise SystemExit(f"--armature-scale {scale:g}: must be > 0")
    return scale


def action_filter_config(args, default):
    """The ``ActionFilterConfig`` of :func:`add_action_filter_flags`' flags: ``default`` where neither is
    given; ``--action-alpha`` alone keeps the default's kind, ``--action-filter`` alone its alpha."""
    from motionlib.sim.action_filter import ActionFilterConfig

    kind = default.kind if args.action_filter is None else args.action_filter
    alpha = default.alpha if args.action_alpha is None else args.action_alpha
    if args.action_filter not in (None, "none") and args.action_alpha is None and not default.enabled:
        raise SystemExit("--action-filter lowpass|critical needs --action-alpha (a gain under 1)")
    if kind == "none" and args.action_alpha is not None and args.action_alpha != 1.0:
        raise SystemExit("--action-alpha needs --action-filter lowpass|critical")
    try:
        return ActionFilterConfig(kind, alpha)
    except ValueError as e:
        raise SystemExit(str(e)) from None


def add_robot_flag(parser) -> None:
    """``--robot``: a shipped robot's name or a robot description .json (default g1)."""
    from motionlib.retarget.description import available_robots

    parser.add_argument("--robot", default="g1",
                        help=f"shipped robot ({', '.join(available_robots())}) or a robot description .json "
                             "(default g1)")


def add_tokenizer_flag(parser) -> None:
    """``--tokenizer`` (resolved by ``motionlib.tokenizer.checkpoint.resolve_tokenizer``) and ``--device``."""
    parser.add_argument("--tokenizer", default=None,
                        help="checkpoint .pt or run folder (default: $MOTIONLIB_TOKENIZER, else the shipped "
                             "2D-LFQ tokenizer)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where the tokenizer runs")


def load_cli_tokenizer(args):
    """(model, checkpoint) named by the flags of :func:`add_tokenizer_flag`."""
    from motionlib.tokenizer.checkpoint import load_tokenizer, resolve_tokenizer

    return load_tokenizer(resolve_tokenizer(args.tokenizer), args.device)


def add_physics_flags(parser) -> None:
    """``--backend`` / ``--device`` of the tracking simulation (rollout-based commands)."""
    parser.add_argument("--backend", default="cpu", choices=["cpu", "warp"],
                        help="physics: cpu (MuJoCo rollout threads) or warp (MuJoCo Warp)")
    parser.add_argument("--worlds", type=int, default=None,
                        help="worlds simulated at once (per lane); clips queue for a free one, longest first "
                             "(default: 64 on cpu, every clip of a batch on warp)")
    parser.add_argument("--threads", type=int, default=None,
                        help="cpu: physics threads in all (default: every core), shared out over the lanes")
    parser.add_argument("--lanes", type=int, default=None,
                        help="cpu: environments run side by side, each with its share of the clips and threads, "
                             "so one's observations and policy run while another's physics does (default: 2 "
                             "with 2+ threads)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where the simulation and the policy run")
