"""``motionlib robot INPUT... --robot g1|h1 --out DIR``: ingest -> refine -> retarget -> playback -> export."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, add_robot_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("robot", help="a human motion file onto a robot in one command (ingest, refine, retarget, "
                                     "playback, export)",
                       description="For every input (a motionlib clip, BVH, AMASS .npz or WHAM .pkl/.npz, or a "
                                   "folder of them): ingest it, refine it in physics with the shipped human tracker "
                                   "(each continuous segment goes on), retarget each segment onto the robot by IK, "
                                   "write the robot clips (NPZ in the BeyondMimic layout, CSV on request), play "
                                   "them back in physics when robot tracking is installed, and render the robot "
                                   "beside the human with --video. Writes DIR/<input>/... and DIR/report.json "
                                   "(what every step measured, per input and in total); a failing input is "
                                   "listed with its step and the rest carries on (exit code 1); finished inputs "
                                   "are kept on a rerun. See docs/robots.md \"One command\".")
    p.add_argument("inputs", type=Path, nargs="*", help="motion files or folders")
    add_robot_flag(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--no-refine", action="store_true", help="retarget the ingested clip as it is (no physics "
                                                            "refinement)")
    p.add_argument("--policy", default=None, help="human tracking policy for refine (default: the shipped one)")
    p.add_argument("--robot-policy", default=None,
                   help="robot tracking policy for playback (train-tracker --robot; default: the robot's shipped "
                        "tracker; without one playback is skipped)")
    p.add_argument("--min-segment", type=float, default=None, metavar="S",
                   help="refine: the shortest continuous segment between restarts that goes on (default 1 s)")
    p.add_argument("--video", action="store_true",
                   help="also render DIR/<input>/<robot>/<segment>_robot.mp4: the robot beside the human")
    p.add_argument("--format", default="npz", type=_formats, metavar="npz[,csv]",
                   help="robot clip files: npz (always written: joint and body states) and/or csv (root xyz, "
                        "root quaternion xyzw, joints; GMR / BeyondMimic)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of WHAM inputs (required for them); other inputs are resampled to it")
    p.add_argument("--iters", type=int, default=None, help="optimisation steps of the BVH -> SMPL fit")
    p.add_argument("--frames", type=_crop, default=None, metavar="START:END",
                   help="keep only these frames of each ingested clip (END may be left out)")
    p.add_argument("--threads", type=int, default=None, help="refine's physics threads (default: every core)")
    p.add_argument("--no-collision", action="store_true", help="IK without the self-collision limit (faster)")
    p.add_argument("--no-resume", action="store_true",
                   help="redo every input (default: an input finished before into DIR from the same bytes with "
                        "the same options is kept)")
    p.add_argument("--text", action="append", default=[], metavar="PROMPT",
                   help="also generate a clip from this text with the shipped language model (or --lm-model) "
                        "and send it through the chain (repeatable)")
    p.add_argument("--lm-model", default=None,
                   help="train-lm checkpoint folder for --text (default: the shipped model)")
    p.add_argument("--seconds", type=float, default=4.0, help="--text: length of the generated motion")
    p.add_argument("--seed", type=int, default=0, help="--text: the same seed gives the same clip")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_flag(p)
    p.set_defaults(func=run)


def _formats(text: str) -> tuple[str, ...]:
    from motionlib.retarget.chain import FORMATS

    fmts = tuple(f.strip() for f in text.split(",") if f.strip())
    bad = [f for f in fmts if f not in FORMATS]
    if not fmts or bad:
        raise argparse.ArgumentTypeError(f"expected npz, csv or npz,csv, got {text!r}")
    return fmts


def _crop(text: str) -> tuple[int, int | None]:
    m = re.fullmatch(r"(\d+):(\d*)", text.strip())
    if not m or (m.group(2) and int(m.group(2)) <= int(m.group(1))):
        raise argparse.ArgumentTypeError(f"expected START:END frames with START < END, got {text!r}")
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None


def collect_inputs(paths: list[Path], failures: Failures) -> list[Path]:
    """The input files of ``paths`` (folders searched as ``motionlib ingest`` does, token files left out); a
    missing path or an archive is recorded as a failure."""
    from motionlib.motion.errors import MotionError
    from motionlib.motion.ingest.dataset import collect_sources
    from motionlib.motion.io import TOKEN_SUFFIX

    found, problems = collect_sources(paths)
    for problem in problems:
        with failures.one_input():
            raise MotionError(problem)
    files = []
    for kind, path in found:
        if path.endswith(TOKEN_SUFFIX):
            continue
        with failures.one_input():
            if kind == "archive":
                raise MotionError("archives go through `motionlib ingest ARCHIVE --out DIR` first; give the "
                                  "clips it writes", path)
            files.append(Path(path))
    return files


def text_clip(prompt: str, args, loaded: dict) -> Path:
    """Generate the clip of ``prompt`` into ``DIR/text/`` (kept when it exists from the same model and seed).
    ``loaded`` keeps the language model between the prompts of one command."""
    from motionlib.motion.errors import MotionError
    from motionlib.motion.io import load_motion

    if not args.lm_model:
        from motionlib.llm.default import default_lm_path

        args.lm_model = str(default_lm_path())
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40] or "text"
    digest = hashlib.sha1(json.dumps([prompt, str(args.lm_model), args.seed, args.seconds]).encode()).hexdigest()[:8]
    path = args.out / "text" / f"{slug}-{digest}.npz"
    if path.is_file():
        try:
            load_motion(path)
            return path
        except MotionError:
            pass
    from motionlib.cli.cmd_generate import load_cli_lm
    from motionlib.llm.generate import GenConfig, generate_motion
    from motionlib.llm.motion_tokens import grid_to_motion
    from motionlib.motion.io import save_motion

    if "lm" not in loaded:
        loaded["lm"] = load_cli_lm(argparse.Namespace(model=args.lm_model, backbone=None, tokenizer=None, device="cpu"))
    lm, tmodel, ck = loaded["lm"]
    cfg = GenConfig(seconds=args.seconds, seed=args.seed, steps_per_second=ck.config.fps / ck.config.alpha)
    grid, info = generate_motion(lm, prompt, cfg)
    clip = grid_to_motion(grid, tmodel, ck, meta={"prompt": prompt, "generated": {
        "model": str(args.lm_model), "seed": info["seed"], "tries": info["tries"], "tokenizer_id": ck.tokenizer_id}},
        source=f"generate: {prompt}")
    save_motion(clip, path)
    return path


def run(args) -> int:
    from tqdm import tqdm

    from motionlib.motion.atomic import write_text_atomic
    from motionlib.motion.errors import MotionError
    from motionlib.retarget.chain import ChainConfig, ChainError, RobotChain, chain_totals, config_dict, input_ids

    if not args.inputs and not args.text:
        raise MotionError("nothing to do: give input files or folders, or --text")
    cfg = ChainConfig(robot=args.robot, refine=not args.no_refine, policy=args.policy, min_segment_s=args.min_segment, formats=args.format,
                      video=args.video, fps=args.fps, fit_iters=args.iters, crop=args.frames, threads=args.threads,
                      avoid_collisions=not args.no_collision, robot_policy=args.robot_policy)
    if args.video:  # before any input: a missing offscreen GL would fail every video
        from motionlib.retarget.render import open_gl_context

        ctx, _ = open_gl_context(64, 64)
        ctx.free()
    chain = RobotChain(cfg, progress=False)
    failures = Failures()
    files = collect_inputs(args.inputs, failures)
    loaded: dict = {}
    for prompt in args.text:  # the text -> clip step: the CLI may use the language model, the chain may not
        with failures.one_input():
            files.append(text_clip(prompt, args, loaded))
    reports, done, kept = [], 0, 0
    ids = input_ids(files)
    for f, cid in tqdm(list(zip(files, ids)), desc=f"robot {chain.desc.name}", unit="input",
                       disable=args.quiet or args.json or len(files) < 2):
        rep = None if args.no_resume else chain.finished(f, args.out, cid)
        if rep is not None:
            kept += 1
            reports.append(rep)
            continue
        with failures.one_input():
            try:
                reports.append(chain.run_input(f, args.out, cid))
                done += 1
            except ChainError as e:
                reports.append(e.report)
                raise
    result = {"robot": chain.desc.name, "out": str(args.out), "inputs": len(files), "done": done, "kept": kept,
              "options": config_dict(cfg), "totals": chain_totals(reports)}
    rc = failures.finish(result)
    if not reports and failures.errors and not files:
        rc = 2
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "report.json", json.dumps({**result, "per_input": reports}, indent=1) + "\n")
    if args.json:
        print_json({**result, "per_input": reports})
    else:
        print_summary(result, reports)
        failures.print()
    return rc


def print_summary(result: dict, reports: list[dict]) -> None:
    t = result["totals"]
    print(f"robot {result['robot']}: {result['inputs']} input(s): {result['done']} done, {result['kept']} kept, "
          f"{result['failed']} failed -> {result['out']}/report.json")
    if reports:
        print(f"{'clip':36s} {'frames':>6s} {'tracked':>7s} {'segs':>4s} {'kept':>5s} {'kp mm':>6s} {'limits':>6s} "
              f"{'self-col':>8s} {'skate':>6s} {'playback':>8s}")
    for r in reports:
        if r.get("status") != "ok":
            print(f"{r['id'][:36]:36s} FAILED at {r.get('step')}")
            continue
        for c in r["clips"]:
            ref, ret = c["refine"], c["retarget"]["totals"]
            tracked = "-" if ref["status"] != "ok" else ("yes" if ref["tracked_to_end"] else "no")
            segs = len(ref["segments"]) if ref["status"] == "ok" else 1
            kept = ref["frames_kept"] if ref["status"] == "ok" else c["ingest"]["frames"]
            print(f"{c['id'][:36]:36s} {c['ingest']['frames']:6d} {tracked:>7s} {segs:4d} {kept:5d} "
                  f"{ret['keypoint_error_mm']:6.1f} {ret['joint_limit_violations']:6d} "
                  f"{100 * ret['self_collision_frames']:7.2f}% {ret['skate_mm']:6.1f} {c['playback']['status']:>8s}")
    if "retarget" in t:
        g = t["retarget"]
        print(f"  retarget: keypoint error {g['keypoint_error_mm']:.1f} mm, joint-limit violations "
              f"{g['joint_limit_violations']}, self-collision frames {100 * g['self_collision_frames']:.2f}%, "
              f"penetration {g['penetration_mm']:.2f} mm, float {g['float_mm']:.2f} mm, planted skate "
              f"{g['planted_skate_mm']:.2f} mm (human {g['human_planted_skate_mm']:.2f}), {g['frames_per_s']:.0f} "
              "frames/s")
    if "refine" in t:
        g = t["refine"]
        b, a = g["before"], g["after"] or {}
        print(f"  refine: tracked to the end {g['tracked_to_end']} of {g['clips']}, {g['segments']} segment(s), "
              f"{g['frames_kept']} of {g['frames_input']} frames kept; penetration {b['penetration_mm']:.1f} -> "
              f"{a.get('penetration_mm', float('nan')):.1f} mm, skate {b['skate_mm']:.1f} -> "
              f"{a.get('skate_mm', float('nan')):.1f} mm")
    reasons = sorted({c["playback"].get("reason", "") for r in reports if r.get("status") == "ok"
                      for c in r["clips"] if c["playback"].get("status") == "skipped"} - {""})
    for reason in reasons:
        print(f"  playback skipped: {reason}")
    print("  wall s: " + ", ".join(f"{k} {v:.1f}" for k, v in t["wall_s"].items()))
