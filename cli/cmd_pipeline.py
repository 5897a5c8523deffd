"""``motionlib pipeline run SRC... --out DIR``: the stages over many clips on Ray (embedded or a cluster)."""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("pipeline", help="run ingest, refine, features and tokenize over many clips on Ray",
                       description="The dataset pipeline on Ray (docs/scale.md).")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    r = actions.add_parser(
        "run", help="run stages over source files / clips into DIR (resumable)",
        description="Run the stages over SRC into DIR: each clip and stage is a Ray task (retried when its "
                    "worker dies), outputs are written atomically under DIR/clips, refined, features and tokens, "
                    "and DIR/manifest.json holds each clip's status per stage. A clip whose outputs exist and "
                    "load is not redone, so a stopped run is simply rerun. Embedded Ray on the local cores by "
                    "default (RAY_AUTH_MODE=disabled is set for it unless given), a running cluster with "
                    "--address. Exit code 1 when any clip failed.")
    r.add_argument("sources", nargs="+", help="files and folders: BVH / AMASS / WHAM / motionlib clips or clip "
                                              "stores when the stages start with ingest, else motionlib clips")
    r.add_argument("--out", required=True, type=Path, help="the run folder (outputs, manifest.json)")
    r.add_argument("--stages", default=None,
                   help="comma-separated, run in the pipeline's order (default: ingest,refine,features,tokenize)")
    r.add_argument("--address", default=None,
                   help="a running Ray cluster (auto, HOST:6379 or ray://HOST:10001); default: start Ray here")
    r.add_argument("--workers", type=int, default=None,
                   help="embedded Ray: CPUs it uses (default: every core); with --address: tasks at once")
    r.add_argument("--batch", type=int, default=1, help="clips per task of ingest, features, tokenize (default 1)")
    r.add_argument("--retries", type=int, default=3, help="Ray retries of a task whose worker died (default 3)")
    g = r.add_argument_group("ingest")
    g.add_argument("--fps", type=float, default=None,
                   help="frame rate of WHAM inputs (required for WHAM); others are resampled to it")
    g.add_argument("--mapping", default="auto", help="BVH joint mapping name or JSON file (default: detect)")
    g.add_argument("--body", choices=["scaled", "fitted"], default="scaled", help="BVH body (see motionlib ingest)")
    g.add_argument("--smpl-model", default=None, help="your SMPL model file: per-subject skeletons from betas")
    g.add_argument("--iters", type=int, default=None, help="optimisation steps of the BVH -> SMPL fit")
    g = r.add_argument_group("refine")
    g.add_argument("--policy", default=None, help="tracking policy file (default: the shipped policy)")
    g.add_argument("--backend", choices=["cpu", "warp"], default="cpu", help="physics of refine (default cpu)")
    g.add_argument("--device", default="cpu", help="cpu or cuda: where refine's simulation and policy run")
    g.add_argument("--gpus", type=float, default=1.0,
                   help="GPUs a refine task asks Ray for with --backend warp or --device cuda (default 1; "
                        "0.25: four tasks share one)")
    g.add_argument("--refine-batch", type=int, default=16, help="clips per refine task, simulated together")
    g = r.add_argument_group("tokenize")
    g.add_argument("--tokenizer", default=None,
                   help="checkpoint .pt or run folder (default: $MOTIONLIB_TOKENIZER, else the shipped tokenizer)")
    g.add_argument("--tokenizer-device", default="cpu", help="cpu or cuda: where the tokenizer runs")
    r.add_argument("--store", action="store_true",
                   help="also write each stage's outputs into a clip store, DIR/store/<stage>/ (one shard per task)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    add_json_flag(r)
    r.set_defaults(func=run)


def run(args) -> int:
    from motionlib.pipeline.config import IngestOptions, PipelineConfig, RefineOptions, parse_stages
    from motionlib.pipeline.runner import run_pipeline
    from motionlib.pipeline.summary import format_text

    cfg = PipelineConfig(
        out=args.out, stages=parse_stages(args.stages), address=args.address, workers=args.workers,
        batch=args.batch, max_retries=args.retries,
        ingest=IngestOptions(fps=args.fps, mapping=args.mapping, body=args.body, smpl_model=args.smpl_model,
                             fit_iters=args.iters),
        refine=RefineOptions(policy=args.policy, backend=args.backend, device=args.device, gpus=args.gpus,
                             batch=args.refine_batch),
        tokenizer=args.tokenizer, tokenizer_device=args.tokenizer_device, store=args.store,
        progress=not (args.quiet or args.json))
    summary = run_pipeline(args.sources, cfg)
    if args.json:
        print_json(summary)
    else:
        print(format_text(summary))
    return 1 if summary["failed"] else 0
