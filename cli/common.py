"""Helpers shared by the subcommands."""

from __future__ import annotations

import json
import sys
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
                        help="physics: cpu (MuJoCo rollout threads) or warp (MuJoCo Warp; clips of one body)")
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
