"""``motionlib train-tracker --clips DIR ...``: PPO (rl-games) tracking policy training (the SMPL humanoid on
motionlib clips, or a robot on its retargeted clips with ``--robot``)."""

from __future__ import annotations

import json
from pathlib import Path

from motionlib.cli.common import add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("train-tracker", help="train a motion-tracking policy with PPO (rl-games)",
                       description="Train the physics tracking policy on motionlib clips. Logs to TensorBoard under "
                                   "OUT/rl/summaries, checkpoints atomically, evaluates deterministically every "
                                   "--eval-every epochs and exports OUT/policy_best.pt (selected by evaluation).")
    p.add_argument("--clips", nargs="+", required=True,
                   help="clip files or folders (with --robot: robot clips written by motionlib retarget)")
    p.add_argument("--robot", default=None,
                   help="train a robot tracker: a shipped robot (g1, h1) or a robot description .json; the clips "
                        "are its retargeted clips, the terms the mjcf_robot set unless --terms (docs/robots.md \"Robot tracking\")")
    p.add_argument("--eval-clips", nargs="*", default=None, help="clips for evaluation (default: training clips)")
    p.add_argument("--terms", default=None,
                   help="reward and observation term set (sim.term_sets; default: the body's own, or "
                        "--init-policy's): a robot takes mjcf_robot (BeyondMimic's terms) or mjcf_robot_world "
                        "(the humanoid's world-frame terms and kernels, same observation)")
    p.add_argument("--out", default="runs/tracker")
    p.add_argument("--preset", default="cpu", choices=["cpu", "gpu"],
                   help="starting settings: cpu (64 envs, MuJoCo threads) or gpu (4096 MuJoCo Warp worlds on CUDA, "
                        "large PPO batches); the flags below override them")
    p.add_argument("--steps", type=float, default=None, help="env steps to train (default: preset's); with --resume, steps on top of the checkpoint's")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock limit: stop cleanly (checkpoint, evaluation, exported policy) after this long")
    p.add_argument("--envs", type=int, default=None, help="parallel environments (default: preset's)")
    p.add_argument("--threads", type=int, default=None, help="physics threads (default: all cores)")
    p.add_argument("--backend", default=None, choices=["cpu", "warp"],
                   help="physics backend: cpu (mujoco.rollout threads) or warp (MuJoCo Warp; default: preset's)")
    p.add_argument("--device", default=None, help="cpu or cuda: env tensors, warp physics and PPO (default: preset's)")
    p.add_argument("--no-graph", action="store_true", help="warp backend: launch kernels eagerly, no CUDA graphs")
    p.add_argument("--resume", default=None, help="rl-games checkpoint (.pth) to continue from")
    p.add_argument("--init-policy", default=None,
                   help="fine-tune: start the actor from this exported policy (e.g. policies/data/default_tracker.pt); "
                        "its humanoid, tracking settings and network size are used, the flags below override them")
    p.add_argument("--critic-warmup", type=int, default=30,
                   help="with --init-policy: epochs that train only the new value head (default 30)")
    p.add_argument("--feet-slip", type=float, default=None,
                   help="feet-slip penalty coefficient (sim sole speed^2 where the reference foot is planted)")
    p.add_argument("--action-rate", type=float, default=None, help="action-rate penalty coefficient")
    p.add_argument("--body-jerk", type=float, default=None,
                   help="body-jerk penalty coefficient (squared sim-minus-reference body jerk, (m/s^3)^2; default 0; "
                        "docs/tracking.md \"Smooth output\" suggests 1e-6)")
    p.add_argument("--termination-distance", type=float, default=None, metavar="M",
                   help="a training episode ends when any tracked body is farther than M metres from the "
                        "reference (default 0.25, PHC's); evaluation keeps its own rule")
    p.add_argument("--armature-scale", type=float, default=1.0,
                   help="train (and validate) with the humanoid's joint armature times this; the policy file keeps "
                        "the unscaled humanoid and records the scale, and refine and eval-tracker run at 4x the "
                        "file's armature, so 4 trains in their physics (default 1; docs/tracking.md \"Smooth output\")")
    p.add_argument("--target-hold", choices=("zoh", "foh", "foh_lead"), default=None,
                   help="how the PD target moves over a control step's substeps while training: zoh holds the new "
                        "target, foh ramps it from the previous step's (default: the preset's or --init-policy's, "
                        "zoh); the policy file records it and refine and eval-tracker run with it "
                        "(docs/tracking.md \"Smooth output\")")
    p.add_argument("--contact-stiffness", type=float, default=None,
                   help="foot-floor contact stiffness, 1/s^2 (MuJoCo direct solref; 0: the 0.02 s time constant)")
    p.add_argument("--contact-damping", type=float, default=None, help="contact damping, 1/s (with --contact-stiffness)")
    p.add_argument("--eval-every", type=int, default=None, help="epochs between deterministic evaluations")
    p.add_argument("--select-within", type=float, default=0.0, metavar="RATE",
                   help="which evaluation is policy_best.pt: 0 (default) the highest success rate, then the lowest "
                        "G-MPJPE; > 0 the lowest G-MPJPE among the evaluations whose success rate is within RATE "
                        "of the highest (e.g. 0.01: one point)")
    p.add_argument("--units", default="512,256,128", help="MLP sizes")
    p.add_argument("--lr", type=float, default=None, help="(initial) learning rate (default: preset's)")
    p.add_argument("--lr-schedule", default=None, choices=["adaptive", "constant"],
                   help="adaptive: KL-driven learning rate (default); constant: --lr throughout")
    p.add_argument("--kl-threshold", type=float, default=None, help="target KL of the adaptive schedule")
    p.add_argument("--sigma", type=float, default=None, help="log-std of the exploration noise (action units)")
    p.add_argument("--learn-sigma", action="store_true", help="train the exploration noise instead of fixing it")
    p.add_argument("--mini-epochs", type=int, default=None)
    p.add_argument("--horizon", type=int, default=None)
    p.add_argument("--minibatches", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-clips", type=int, default=None, help="use only the first N clips")
    p.add_argument("--clip-weight", action="append", default=[], metavar="REGEX=W",
                   help="sample the clips whose file name contains REGEX W times as often (repeatable; the first "
                        "match counts), e.g. '_(walk|walk-[a-z-]+|run|dash)_=3'")
    p.add_argument("--curriculum", type=int, default=0,
                   help="start on the first N clips; double the set whenever an epoch's training success >= 0.8")
    p.add_argument("--quiet", action="store_true")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import replace

    from motionlib.motion.io import find_clips
    from motionlib.policies.train import clip_weight_rules, load_clip_set, train
    from motionlib.policies.train_config import preset

    try:
        clip_weight_rules(args.clip_weight)  # a malformed rule fails before any clip is loaded
    except ValueError as e:
        raise SystemExit(f"train-tracker: {e}")
    body = None
    cfg = preset(args.preset)
    if args.robot:
        from motionlib.motion.errors import MotionError
        from motionlib.retarget.tracking import find_robot_clips, robot_reference, robot_tracking_body

        try:
            body = robot_tracking_body(args.robot)
            files = find_robot_clips(args.clips)[: args.max_clips or None]
            clips = robot_reference(files, body, cfg.tracking.control_fps)
            eval_clips = (robot_reference(find_robot_clips(args.eval_clips), body, cfg.tracking.control_fps)
                          if args.eval_clips else None)
        except (MotionError, ValueError) as e:
            raise SystemExit(f"train-tracker: {e}")
        cfg = replace(cfg, robot=body.spec.name, tracking=replace(cfg.tracking, terms=body.terms))
    else:
        files = find_clips(args.clips, required=True)[: args.max_clips or None]
        clips = load_clip_set(files)
        eval_clips = load_clip_set(args.eval_clips) if args.eval_clips else None
    pick = lambda flag, default: default if flag is None else flag  # noqa: E731
    units = tuple(int(u) for u in args.units.split(","))
    if args.init_policy:  # fine-tuning keeps the policy's body, observation/action settings and network
        from motionlib.policies.actor import TrackingPolicy

        init = TrackingPolicy.load(args.init_policy)
        if init.robot != cfg.robot:
            raise SystemExit(f"train-tracker: --init-policy drives {init.robot or 'the SMPL humanoid'}, "
                             f"not {cfg.robot or 'the SMPL humanoid'}")
        cfg = replace(cfg, tracking=replace(init.tracking, num_envs=cfg.tracking.num_envs), humanoid=init.humanoid,
                      ppo=replace(cfg.ppo, activation=init.actor.activation))
        units = tuple(init.actor.units)
    if args.terms:
        from motionlib.sim.term_sets import term_set_for

        try:
            term_set_for(args.terms, cfg.tracking.terms)
        except ValueError as e:
            raise SystemExit(f"train-tracker: --terms: {e}")
        cfg = replace(cfg, tracking=replace(cfg.tracking, terms=args.terms))
    cfg = replace(cfg, humanoid=replace(
        cfg.humanoid, contact_stiffness=pick(args.contact_stiffness, cfg.humanoid.contact_stiffness),
        contact_damping=pick(args.contact_damping, cfg.humanoid.contact_damping)))
    reward = replace(cfg.tracking.reward, feet_slip_coef=pick(args.feet_slip, cfg.tracking.reward.feet_slip_coef),
                     action_rate_coef=pick(args.action_rate, cfg.tracking.reward.action_rate_coef),
                     body_jerk_coef=pick(args.body_jerk, cfg.tracking.reward.body_jerk_coef))
    if args.robot and args.armature_scale != 1.0:
        raise SystemExit("train-tracker: --armature-scale is for the SMPL humanoid, not a robot")
    if args.termination_distance is not None and not args.termination_distance > 0:
        raise SystemExit(f"train-tracker: --termination-distance {args.termination_distance:g}: must be > 0")
    if args.select_within < 0:
        raise SystemExit(f"train-tracker: --select-within {args.select_within:g}: must be >= 0")
    if not args.armature_scale > 0:
        raise SystemExit(f"train-tracker: --armature-scale {args.armature_scale:g}: must be > 0")
    cfg = replace(
        cfg, clips=list(args.clips), armature_scale=args.armature_scale, eval_clips=list(args.eval_clips or []), out=args.out,
        max_env_steps=int(pick(args.steps, cfg.max_env_steps)), max_minutes=args.minutes,
        eval_every_epochs=pick(args.eval_every, cfg.eval_every_epochs), select_within=args.select_within,
        curriculum_clips=args.curriculum,
        clip_weights=list(args.clip_weight),
        resume=args.resume, init_policy=args.init_policy,
        critic_warmup_epochs=args.critic_warmup if args.init_policy else 0,
        seed=args.seed, threads=args.threads,
        device=pick(args.device, cfg.device), backend=pick(args.backend, cfg.backend), warp_graph=not args.no_graph,
        tracking=replace(cfg.tracking, num_envs=pick(args.envs, cfg.tracking.num_envs), seed=args.seed, reward=reward,
                         target_hold=pick(args.target_hold, cfg.tracking.target_hold),
                         termination_distance=pick(args.termination_distance, cfg.tracking.termination_distance)),
        ppo=replace(cfg.ppo, units=units,
                    learning_rate=pick(args.lr, cfg.ppo.learning_rate),
                    lr_schedule=pick(args.lr_schedule, cfg.ppo.lr_schedule),
                    kl_threshold=pick(args.kl_threshold, cfg.ppo.kl_threshold),
                    sigma_init=pick(args.sigma, cfg.ppo.sigma_init), learn_sigma=args.learn_sigma or cfg.ppo.learn_sigma,
                    mini_epochs=pick(args.mini_epochs, cfg.ppo.mini_epochs),
                    horizon_length=pick(args.horizon, cfg.ppo.horizon_length),
                    minibatches=pick(args.minibatches, cfg.ppo.minibatches)),
    )
    summary = train(cfg, clips, eval_clips, progress=not (args.quiet or args.json), names=[f.stem for f in files],
                    body=body)
    result = {"out": args.out, **({"robot": cfg.robot} if cfg.robot else {}), "clips": len(files), "best": summary["best"], "seconds": round(summary["seconds"], 1),
              "policy": str(Path(args.out) / "policy_best.pt")}
    if args.json:
        print_json(result)
    else:
        print(json.dumps(result, indent=1))
    return 0
