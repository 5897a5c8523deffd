"""``motionlib generate "a person waves" -o out.npz [--seconds 4] [--seed 0] [--render out.mp4] [--refine]``:
text -> a motion clip; optionally its skeleton video and its physics refinement by the shipped tracker."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def add_lm_flags(p, greedy_default: bool = False) -> None:
    """``--model`` (a train-lm checkpoint), ``--backbone``, ``--tokenizer``, ``--device``, ``--seed``, and how to
    decode: sampled (``--greedy`` takes the likeliest token) or, ``greedy_default``, greedy (``--sample``)."""
    p.add_argument("--model", default=None, help="train-lm checkpoint folder (RUN: its best, else its last; "
                                                 "RUN/last; an `export-lm` folder; default: the shipped model)")
    p.add_argument("--backbone", default=None, help="where the model's backbone is, when not where it was trained")
    p.add_argument("--tokenizer", default=None, help="MotionBook checkpoint (default: $MOTIONLIB_TOKENIZER, else "
                                                     "the shipped one); must be the one the model was trained on")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same output")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens (0: all)")
    if greedy_default:
        p.add_argument("--sample", dest="greedy", action="store_false",
                       help="sample each token (--temperature, --top-k, --seed) instead of taking the likeliest")
        p.set_defaults(greedy=True)
    else:
        p.add_argument("--greedy", action="store_true", help="always take the likeliest token")


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate a motion clip from a text prompt",
                       description="Write a motion clip (30 fps; meta holds the prompt and the seed) for PROMPT "
                                   "with the shipped language model or one trained by `motionlib train-lm`.")
    p.add_argument("prompt", help="what the person does, e.g. \"a person waves with the right hand\"")
    p.add_argument("-o", "--out", type=Path, required=True, help="output clip (.npz)")
    p.add_argument("--seconds", type=float, default=None, help="length of the motion (default: the model ends it)")
    p.add_argument("--max-seconds", type=float, default=10.0, help="longest motion when --seconds is not given")
    p.add_argument("--tries", type=int, default=3, help="draws (seeds seed, seed+1, ...) before giving up")
    p.add_argument("--no-restrict", action="store_true",
                   help="let the model write over its whole vocabulary (slower; the baseline of the restricted "
                        "output layer; flat-layout models only)")
    p.add_argument("--render", type=Path, default=None, metavar="OUT.mp4",
                   help="also render the clip as a skeleton video (beside the refined clip with --refine)")
    p.add_argument("--refine", action="store_true",
                   help="also track the clip with the shipped tracker in MuJoCo (as `motionlib refine`) and write "
                        "the simulated clip beside the output as OUT_refined.npz; prints whether it was tracked "
                        "to the end and the feet figures before and after")
    p.add_argument("--policy", default=None, help="tracking policy for --refine (default: the shipped one)")
    add_lm_flags(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def load_cli_lm(args):
    """(language model, MotionBook model, MotionBook checkpoint), checked to belong together."""
    from motionlib.cli.common import load_cli_tokenizer
    from motionlib.llm.checkpoint import load_lm
    from motionlib.motion.errors import MotionError

    if args.model is None:
        from motionlib.llm.default import default_lm_path

        args.model = str(default_lm_path())
    lm, meta = load_lm(args.model, args.device, backbone=args.backbone)
    tmodel, ck = load_cli_tokenizer(args)
    if meta.get("tokenizer_id") and meta["tokenizer_id"] != ck.tokenizer_id:
        raise MotionError(f"the model was trained on tokenizer {meta['tokenizer_id']}, not {ck.tokenizer_id} "
                          "(pass --tokenizer)", meta["path"])
    return lm, tmodel, ck


def run(args) -> int:
    import time

    from motionlib.llm.generate import GenConfig, generate_motion
    from motionlib.llm.motion_tokens import grid_to_motion
    from motionlib.motion.io import save_motion

    lm, tmodel, ck = load_cli_lm(args)
    cfg = GenConfig(seconds=args.seconds, max_seconds=args.max_seconds, temperature=args.temperature,
                    top_k=args.top_k, greedy=args.greedy, seed=args.seed, tries=args.tries,
                    restrict=not args.no_restrict, steps_per_second=ck.config.fps / ck.config.alpha)
    t0 = time.perf_counter()
    grid, info = generate_motion(lm, args.prompt, cfg)
    seconds = time.perf_counter() - t0
    clip = grid_to_motion(grid, tmodel, ck, meta={"prompt": args.prompt, "generated": {
        "model": str(args.model), "seed": info["seed"], "tries": info["tries"], "tokenizer_id": ck.tokenizer_id}},
        source=f"generate: {args.prompt}")
    save_motion(clip, args.out)
    result = {"clip": str(args.out), "prompt": args.prompt, "frames": clip.num_frames, "fps": clip.fps,
              "duration_s": clip.duration, "seed": info["seed"], "tries": info["tries"],
              "generation_s": round(seconds, 3), "motion_s_per_s": clip.duration / max(seconds, 1e-9)}
    refined = None
    if args.refine:
        refined, result["refine"] = refine_generated(clip, args.out, args.policy)
    if args.render is not None:
        from motionlib.cli.common import video_result
        from motionlib.motion.render import render_video

        clips, titles = ([clip, refined], ["generated", "refined"]) if refined is not None else ([clip], None)
        result["render"] = video_result(render_video(clips, args.render, titles=titles, caption=args.prompt,
                                                     progress=False))
    if args.json:
        print_json(result)
    else:
        print(f"generate: {clip.duration:.2f} s of motion ({clip.num_frames} frames) in {seconds:.2f} s -> {args.out}")
        if "refine" in result:
            r = result["refine"]
            b, a = r["before"], r["after"]
            print(f"refine: tracked to the end: {'yes' if r['tracked_to_end'] else 'no'} ({r['restarts']} "
                  f"restart(s)); penetration {b['penetration_mm']:.1f} -> {a['penetration_mm']:.1f} mm, float "
                  f"{b['float_mm']:.1f} -> {a['float_mm']:.1f} mm, skate {b['skate_mm']:.1f} -> {a['skate_mm']:.1f} "
                  f"mm -> {r['clip']}")
        if "render" in result:
            print(f"render: {result['render']['frames']} frames -> {result['render']['video']}")
    return 0


def refine_generated(clip, out: Path, policy_path: str | None = None):
    """(the simulated clip, its figures): ``clip`` tracked by the tracker (defaults of ``motionlib refine``), the
    whole simulated trajectory written as ``<out stem>_refined.npz`` beside ``out``."""
    from motionlib.motion.io import save_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import refine_clips

    policy = TrackingPolicy.load(policy_path or default_policy_path())
    (res,), _ = refine_clips([clip], policy)
    path = out.with_name(f"{out.stem}_refined.npz")
    save_motion(res.clip, path)
    rep = res.report
    feet = ("penetration_mm", "float_mm", "skate_mm")
    after = rep["after"] or {k: float("nan") for k in feet}
    return res.clip, {"clip": str(path), "tracked_to_end": bool(rep["success"]) and rep["retries"] == 0,
                      "restarts": rep["retries"], "g_mpjpe_mm": rep["g_mpjpe_mm"],
                      "before": {k: rep["before"][k] for k in feet}, "after": {k: after[k] for k in feet}}
