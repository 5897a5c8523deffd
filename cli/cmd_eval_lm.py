"""``motionlib eval-lm --evaluator EV (--model RUN | --clips DIR... | --real) [--json]``: the language model's
figures on the test clips, beside the real clips' ceiling and noise floor, with the physics check."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json

SHIPPED = "(shipped)"  # --model without a value


def register(sub) -> None:
    p = sub.add_parser("eval-lm", help="score generated (or real) motion against the test clips",
                       description="Score candidate clips through the text-motion evaluator (`motionlib "
                                   "train-evaluator`): R-precision top-1/2/3 (batches of 32), MM-Dist, Diversity, "
                                   "MultiModality and FID, each over repeats with 95%% intervals, beside the same "
                                   "figures for the real test clips (the ceiling) and the FID between halves of "
                                   "them (the noise floor). Candidates: a trained model generating for every test "
                                   "prompt (--model), a folder of clips with their prompts in meta (--clips), or "
                                   "the real test clips themselves (--real); clips whose prompts are the test "
                                   "clips' captions, one per test clip, are paired with them. Also refines candidates and real clips "
                                   "with the shipped tracker (tracked-to-the-end rate, plausibility before/after) "
                                   "and reports caption accuracy (content and style named) of the reference "
                                   "captions and, with --model, of the model's captions.")
    p.add_argument("--evaluator", required=True, type=Path, help="train-evaluator run (its best) or checkpoint folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", nargs="?", const=SHIPPED, default=None, metavar="RUN",
                     help="train-lm checkpoint: generate for every test prompt (--model alone: the shipped model)")
    src.add_argument("--clips", type=Path, nargs="+", default=None,
                     help="clip folders or files with meta['prompt'] (e.g. made by `motionlib generate`)")
    src.add_argument("--real", action="store_true", help="score the real test clips themselves (the ceiling)")
    p.add_argument("--test", type=Path, nargs="+", default=None,
                   help="clips whose test split is scored against (default: the evaluator's manifest)")
    p.add_argument("--no-physics", action="store_true", help="skip the physics check")
    p.add_argument("--policy", default=None, help="tracking policy of the physics check (default: the shipped one)")
    p.add_argument("--threads", type=int, default=None, help="physics threads (default: every core)")
    p.add_argument("--repeats", type=int, default=20, help="repeats of each metric (95%% intervals over them)")
    p.add_argument("--batch", type=int, default=32, help="R-precision batch size")
    p.add_argument("--max-seconds", type=float, default=8.0, help="--model: longest generated clip")
    p.add_argument("--mm-samples", type=int, default=0,
                   help="--model: extra generations per prompt for MultiModality (0: not measured)")
    p.add_argument("--mm-prompts", type=int, default=10, help="--model: prompts that get --mm-samples")
    p.add_argument("--save-clips", type=Path, default=None, help="--model: write the generated clips here")
    p.add_argument("--backbone", default=None, help="--model: where its backbone is, when not where it was trained")
    p.add_argument("--tokenizer", default=None, help="--model: MotionBook checkpoint it was trained on")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    add_json_flag(p)
    p.set_defaults(func=run)


def _test_entries(args, meta: dict):
    from motionlib.llm.splits import build_manifest, load_manifest
    from motionlib.motion.errors import MotionError

    if args.test:
        return build_manifest(args.test).split("test")
    if not meta.get("manifest"):
        raise MotionError("the evaluator names no manifest: pass --test CLIPS", meta["path"])
    return load_manifest(meta["manifest"]).split("test")


def run(args) -> int:
    from motionlib.llm.eval_lm import (EvalLMConfig, caption_report, evaluate, generate_candidates,
                                       load_candidates, model_captions, pair_with_test, physics,
                                       real_motions)
    from motionlib.llm.evaluator import load_evaluator
    from motionlib.motion.errors import MotionError
    from motionlib.motion.io import find_clips, save_motion

    log = (lambda s: None) if (args.json or args.quiet) else print
    ev, meta = load_evaluator(args.evaluator, args.device)
    test = _test_entries(args, meta)
    if not test:
        raise MotionError("no test clips (the test split is the dataset-1 clips of the held-out styles)")
    cfg = EvalLMConfig(repeats=args.repeats, batch=args.batch, seed=args.seed, max_seconds=args.max_seconds,
                       mm_samples=args.mm_samples, mm_prompts=args.mm_prompts)
    errors: list[str] = []
    cands, extra, paired, captions, sampled = None, None, False, None, None
    if args.model:
        from motionlib.cli.cmd_generate import load_cli_lm

        if args.model == SHIPPED:
            args.model = None  # load_cli_lm takes the shipped model
        lm, tmodel, ck = load_cli_lm(args)
        log(f"eval-lm: generating for {len(test)} test prompts")
        main, extra, errors = generate_candidates(lm, tmodel, ck, test, cfg, progress=not (args.json or args.quiet))
        paired = all(c is not None for c in main)
        cands = [c for c in main if c is not None]
        if args.save_clips:
            for c in cands + extra:
                save_motion(c.motion, args.save_clips / f"{c.id}.npz")
        captions, sampled = model_captions(lm, tmodel, ck, test, cfg)  # greedy (as `caption` writes), sampled
    elif args.clips:
        cands, errors = load_candidates(find_clips(args.clips, required=True))
        pairs = pair_with_test(cands, test)
        if pairs is not None:  # a clip for every test prompt: FID halves compare prompt for prompt
            cands, extra = pairs
            paired = True
    result: dict = {"evaluator": meta["path"], "source": "model" if args.model else "clips" if args.clips else "real",
                    "paired": paired if cands is not None else None,
                    **evaluate(ev, test, cands, paired, cfg, extra)}
    result["caption_accuracy"] = caption_report(test, captions, sampled)
    if not args.no_physics:
        log("eval-lm: physics check of the real test clips")
        result["physics"] = {"real": physics(real_motions(test), args.policy, args.threads)}
        if cands:
            log(f"eval-lm: physics check of {len(cands)} candidate clips")
            result["physics"]["candidates"] = physics([c.motion for c in cands], args.policy, args.threads)
    result["failed"], result["errors"] = len(errors), errors[:20]
    if args.json:
        print_json(result)
    else:
        _print(result)
    return 1 if errors else 0


def _fmt(d: dict | None) -> str:
    return "-" if d is None else f"{d['mean']:.3f} ± {d['ci95']:.3f}"


def _print(r: dict) -> None:
    rows = [("real test clips", r["real"])] + ([("candidates", r["candidates"])] if "candidates" in r else [])
    print(f"{'':18s} {'R@1':>15s} {'R@2':>15s} {'R@3':>15s} {'FID':>15s} {'MM-Dist':>15s} {'Diversity':>15s} "
          f"{'MModality':>15s}")
    for name, s in rows:
        rp = s["r_precision"]
        print(f"{name:18s} {_fmt(rp['top1']):>15s} {_fmt(rp['top2']):>15s} {_fmt(rp['top3']):>15s} "
              f"{_fmt(s['fid']):>15s} {_fmt(s['mm_dist']):>15s} {_fmt(s['diversity']):>15s} "
              f"{_fmt(s['multimodality']):>15s}")
    print(f"FID noise floor (halves of the real test clips): {_fmt(r['real']['fid_noise_floor'])}; "
          f"{r['test_clips']} test clips")
    ca = r["caption_accuracy"]
    if ca.get("reference"):
        print(f"caption accuracy, reference captions: content {ca['reference']['content']:.1%}, "
              f"style {ca['reference']['style']:.1%}")
    for key, how in (("model", "greedy"), ("model_sampled", "sampled")):
        if ca.get(key):
            print(f"caption accuracy, the model's captions ({how}): content {ca[key]['content']:.1%}, "
                  f"style {ca[key]['style']:.1%}")
    for name, ph in (r.get("physics") or {}).items():
        b, a = ph["before"], ph["after"]
        print(f"physics, {name}: tracked to the end {ph['tracked_to_end']:.1%}; penetration {b['penetration_mm']:.1f} -> "
              f"{a['penetration_mm']:.1f} mm, float {b['float_mm']:.1f} -> {a['float_mm']:.1f} mm, skate "
              f"{b['skate_mm']:.1f} -> {a['skate_mm']:.1f} mm, jitter {b['jitter']:.2f} -> {a['jitter']:.2f}")
    for e in r["errors"]:
        print(f"  failed: {e}")
