"""The MotionBook tokenizer benchmark: 2D-LFQ vs 1D-LFQ vs VQ-512, and a codebook-size sweep.

The harness behind ``benchmarks/tokenizer_sweep.py`` (commands train, train-one, eval, report, plan);
its functions take that command's parsed arguments (an ``argparse.Namespace`` with the fields of
its flags). :mod:`.sweep_report` writes the tables and the plot.

Data: Bandai clips (``--clips``, default out/bandai/clips): ``dataset-2_*``
clips train (a 5 % hash split of them validates and picks ``best.pt``),
``dataset-1_*`` clips are the held-out evaluation set, never seen in training.
``--split styles`` moves the dataset-1 clips of all but the ``--held-out-styles``
into training too (repeated ``--d1-repeat`` times, as dataset-1 is 7 % of the
frames) and evaluates on the dataset-1 clips of the held-out styles: the
tokenizer then sees the contents only dataset-1 has (bow, kick, dance...) and
its capture session, and is still judged on clips it never saw.
``--mirror`` adds the left-right mirror image of every training clip
(:meth:`Motion.mirrored`, encoded once into its own cache); ``--posture-copies N``
adds N copies of every training clip with the upper body held in other random
postures (:func:`motionlib.motion.posture.offset_posture`, seeds 0..N-1, one
cache each); ``--speeds 0.8,1.25`` adds a copy of every training clip played at
each of those speeds (resampled in time, one cache each). ``--weight-decay``
sets AdamW's decoupled weight decay of the runs it trains (default 0);
``--part-mix P`` gives each training window, with probability P, the arms of
another window of its batch (:func:`motionlib.tokenizer.data.mix_parts`);
``--ema-decay D`` validates and saves a moving average of the weights
(``TokenizerTrainConfig.ema_decay``); ``--init-from CKPT`` starts the runs from
a checkpoint's weights and statistics (fine-tuning; ``--lr``, ``--batch``,
``--warmup-steps`` and ``--eval-every`` then usually shorten the run's own schedule).
Clips shorter than the training window are left out of training (counted in
the log). D135 features are encoded once into ``--cache-dir`` (or given as
ready caches with ``--train-cache`` / ``--eval-cache``).

Every run trains for a wall-clock budget (``budget_s`` x ``--budget-scale``)
or ``max_steps``, whichever ends first; the cosine schedule follows the
budget (see :mod:`motionlib.tokenizer.train`), and the steps actually reached
are recorded. All of it is resumable: a run whose checkpoint says it has
finished, or that has a ``result.json``, is skipped (``--force`` retrains), an
interrupted one resumes from ``last.pt``, and
``eval`` skips runs whose ``result.json`` matches their checkpoint. Runs live
in ``--runs-dir`` (default runs/tokenizer_sweep/NAME: last.pt, best.pt, tb/,
train.log, result.json). A run's shippable copy: ``motionlib export-tokenizer
RUNS/NAME --out FILE``.

Bad arguments (an unknown run, a bad ``--speeds``) raise ValueError.
"""

from __future__ import annotations

import fnmatch
import json
import math
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import run_checkpoint
from .sweep_report import trainer_validation

TRAIN_PREFIX, EVAL_PREFIX = "dataset-2_", "dataset-1_"
# --split styles: every third dataset-1 style, alphabetically from the second (55 clips of 10 contents; the
# contents dataset-1 has in one style only, "normal", stay in training)
HELD_OUT_STYLES = "angry,feminine,masculinity,not-confident,sad"


def d1_style(path: Path) -> str:
    """Style of a ``dataset-1_{content}_{style}_{take}`` clip."""
    return Path(path).stem.split("_")[2]


def clip_role(path: Path, split: str, held_out_styles: set[str]) -> str | None:
    """"train", "eval" or None (unused) for a Bandai clip under ``split`` ("d2" or "styles")."""
    name = Path(path).name
    if name.startswith(TRAIN_PREFIX):
        return "train"
    if not name.startswith(EVAL_PREFIX):
        return None
    return "eval" if split == "d2" or d1_style(path) in held_out_styles else "train"


# TokenizerTrainConfig fields set for every run by a flag of the same name (--weight-decay ...); train_all passes
# them on to its worker processes, train_one into each run's TokenizerTrainConfig
# (the last five default to None: the run's own value, or none for init_from)
TRAIN_FLAGS = ("weight_decay", "part_mix", "ema_decay", "lr", "batch", "warmup_steps", "eval_every", "init_from")


def train_overrides(args) -> dict:
    return {f: getattr(args, f) for f in TRAIN_FLAGS if getattr(args, f, None) is not None}


@dataclass(frozen=True)
class RunSpec:
    """One training run of the benchmark."""

    name: str
    group: str  # "main" (the main comparison table) or "sweep" (codebook-size sweep)
    preset: str  # tokenizer preset (motionlib.tokenizer.presets)
    bits: int = 14  # LFQ: codebook 2^bits
    codebook: int = 512  # VQ codebook size
    budget_s: float = 420.0  # wall-clock training budget, seconds
    max_steps: int = 60_000
    batch: int = 256
    lr: float = 6e-4
    warmup: int = 300
    w_entropy: float | None = None  # LFQ entropy weight; None: the preset's
    entropy_tokens: int | None = None  # tokens per batch in the LFQ entropy term; None: the preset's
    w_fk: float | None = None  # weight of the FK joint-position loss; None: the preset's
    w_global: float | None = None  # weight of the global joint-position loss; None: the preset's
    entropy_gamma: float | None = None  # LFQ weight of the codebook-entropy (diversity) term; None: the preset's

    def config(self):
        from motionlib.tokenizer.presets import preset

        extra = {"w_entropy": self.w_entropy, "entropy_max_tokens": self.entropy_tokens, "w_fk": self.w_fk,
                 "w_global": self.w_global, "entropy_gamma": self.entropy_gamma}
        return preset(self.preset, bits=self.bits, vq_codebook_size=self.codebook,
                      **{k: v for k, v in extra.items() if v is not None})

    def train_config(self, out: Path, device: str, scale: float, threads: int, **overrides):
        """The run's TokenizerTrainConfig; ``overrides``: its other fields (``train_overrides``)."""
        from .config import TokenizerTrainConfig

        fields = dict(out=str(out), steps=self.max_steps, batch=self.batch, lr=self.lr, warmup_steps=self.warmup,
                      eval_every=2000, log_every=50, val_fraction=0.05, time_limit_s=self.budget_s * scale,
                      device=device, num_threads=threads, progress=False)
        return TokenizerTrainConfig(**{**fields, **overrides})


def build_plan() -> list[RunSpec]:
    # main_lfq2d_14: the benchmark's 2D-LFQ, trained like the baselines with FK weight 1 (the preset now has 5,
    # the shipped model's, which is run main_lfq2d_14_fk5)
    main = [RunSpec("main_lfq2d_14", "main", "lfq2d-14", w_fk=1.0), RunSpec("main_lfq1d_14", "main", "lfq1d-14"),
            RunSpec("main_vq1d_512", "main", "vq1d-512"),
            RunSpec("main_lfq2d_14_ent0.1", "main", "lfq2d-14", w_entropy=0.1, w_fk=1.0),  # the old entropy weight
            # 2^16 codes: the entropy term's (tokens x 2^d) matrix on 256 tokens a batch keeps its step time
            # at that of 2^14 codes on 1,024 tokens (2.3 s a step on 2 CPU cores, batch 256)
            RunSpec("main_lfq2d_16", "main", "lfq2d-14", bits=16, entropy_tokens=256, w_fk=1.0),
            # the FK loss is ~10 % of the total at weight 1 (0.012 m against 0.08 of the feature loss late in a run)
            RunSpec("main_lfq2d_14_fk5", "main", "lfq2d-14", w_fk=5.0),
            # the FK loss is root-relative: this adds the loss on global joint positions within the window (the
            # root path integrated from the decoded root velocity); meant to fine-tune the shipped model
            # (--init-from). The entropy term on 256 tokens a batch: on 1,024 it is 2/3 of a CPU step at batch 64
            RunSpec("main_lfq2d_14_global", "main", "lfq2d-14", w_fk=5.0, w_global=5.0, entropy_tokens=256),
            # the same losses with the entropy term on 1,024 tokens a batch, as the shipped model trained: on 256
            # the batch estimate of the codebook entropy is weaker and the fine-tune lost codes (95.8 -> 93.3 %)
            RunSpec("main_lfq2d_14_global_e1k", "main", "lfq2d-14", w_fk=5.0, w_global=5.0),
            # and with three times the entropy weight, to win back the codes the global loss costs
            RunSpec("main_lfq2d_14_global_ent3", "main", "lfq2d-14", w_fk=5.0, w_global=5.0, w_entropy=0.03),
            # the entropy penalty is per-sample entropy minus gamma x codebook entropy: three times gamma weighs
            # the codebook's spread (the codes in use) without asking each token to be more certain
            RunSpec("main_lfq2d_14_global_div3", "main", "lfq2d-14", w_fk=5.0, w_global=5.0, w_entropy=0.03,
                    entropy_gamma=3.0)]
    sweep = []
    for b in range(16, 7, -1):
        sweep.append(RunSpec(f"sweep_vq1d_{b:02d}", "sweep", "vq1d-512", codebook=2**b, budget_s=75.0))
        sweep.append(RunSpec(f"sweep_lfq1d_{b:02d}", "sweep", "lfq1d-14", bits=b, budget_s=75.0))
    return main + sweep


PLAN = build_plan()


def spec_named(name: str | None) -> RunSpec:
    spec = next((r for r in PLAN if r.name == name), None)
    if spec is None:
        raise ValueError(f"unknown run {name!r} (see the plan command)")
    return spec


def select(pattern: str | None) -> list[RunSpec]:
    runs = [r for r in PLAN if pattern is None or fnmatch.fnmatch(r.name, pattern)]
    if not runs:
        raise ValueError(f"no run matches {pattern!r}; runs: {[r.name for r in PLAN]}")
    return runs


# ------------------------------------------------------------------------- data
def cache_tag(args) -> str:
    """Suffix of the feature-cache names of ``args.split``."""
    return "" if args.split == "d2" else f"_styles_{'-'.join(sorted(set(args.held_out_styles.split(','))))}"


def load_sets(args, need_train: bool = True, need_eval: bool = True):
    """(train clips, eval clips) as ClipFeatures lists."""
    from motionlib.motion.io import find_clips
    from motionlib.tokenizer.feature_cache import cached_clip_features, load_cache

    held = set(args.held_out_styles.split(","))

    def features(cache: str | None, role: str, name: str):
        if cache:
            return load_cache(cache, args.clips)[0]
        paths = [p for p in find_clips(args.clips, required=True) if clip_role(p, args.split, held) == role]
        return cached_clip_features(paths, 30.0, Path(args.cache_dir) / name)

    tag = cache_tag(args)
    train = features(args.train_cache, "train", f"train{tag}.npz") if need_train else None
    evals = features(args.eval_cache, "eval", f"eval{tag}.npz") if need_eval else None
    return train, evals


def augmentations(args) -> list[str]:
    """The training augmentations asked for (``motion.augment`` names)."""
    return ((["mirror"] if args.mirror else []) + [f"posture:{k}" for k in range(args.posture_copies)]
            + [f"speed:{float(f):g}" for f in speed_factors(args)])


def speed_factors(args) -> list[float]:
    """The ``--speeds`` factors as floats (a clear error when one is not a number)."""
    try:
        return [float(f) for f in args.speeds.split(",") if f.strip()]
    except ValueError:
        raise ValueError(f"--speeds takes comma-separated numbers, got {args.speeds!r}") from None


def augmented_features(args, augment: str, clips=None) -> list:
    """Features of ``clips`` (default: the training clips) under ``augment`` (see :func:`augmentations`),
    cached beside the training cache."""
    from motionlib.tokenizer.feature_cache import cached_clip_features

    if args.train_cache:
        raise ValueError("--mirror / --posture-copies / --speeds encode the augmented clips from --clips; "
                         "they cannot start from --train-cache")
    if clips is None:
        clips, _ = load_sets(args, need_eval=False)
    name = f"train{cache_tag(args)}_{augment.replace(':', '')}.npz"  # train..._mirror.npz, train..._posture0.npz
    return cached_clip_features([c.path for c in clips], 30.0, Path(args.cache_dir) / name, augment=augment)


def run_dir(args, spec: RunSpec) -> Path:
    return Path(args.runs_dir) / spec.name


def train_state(path: Path) -> tuple[int, bool]:
    """(step, finished) of a run's last.pt; (0, False) when there is none."""
    from motionlib.tokenizer.checkpoint import load_checkpoint

    if not (path / "last.pt").exists():
        return 0, False
    ck = load_checkpoint(path / "last.pt")
    return ck.step, bool(ck.extra.get("finished", False))


# ------------------------------------------------------------------------ train
def long_enough(clips, window: int) -> tuple[list, int]:
    """(the clips of at least ``window`` frames, how many were shorter)."""
    kept = [c for c in clips if c.num_frames >= window]
    return kept, len(clips) - len(kept)


def train_val_split(clips, window: int, val_fraction: float = 0.05):
    """(train, val, number left out): clips of at least ``window`` frames, split by a hash of their names."""
    from motionlib.tokenizer.data import split_clips

    kept, short = long_enough(clips, window)
    by_path = {c.path: c for c in kept}
    tr_p, va_p = split_clips(sorted(by_path), val_fraction)
    return [by_path[p] for p in tr_p], [by_path[p] for p in va_p], short


def train_one(args, spec: RunSpec) -> dict:
    """Train one run in this process (the ``train-one`` command)."""
    from motionlib.tokenizer.data import compute_train_stats
    from motionlib.tokenizer.train import train_on_clips

    cfg = spec.config()
    clips, _ = load_sets(args, need_eval=False)
    tr, va, short = train_val_split(clips, cfg.window)
    print(f"{spec.name}: {len(clips)} train clips, {short} shorter than the {cfg.window}-frame window left out",
          flush=True)
    tcfg = spec.train_config(run_dir(args, spec), args.device, args.budget_scale, args.threads,
                             **train_overrides(args))
    keep = {c.path for c in tr}
    for aug in augmentations(args):  # augmented copies of the training clips (not of the validation clips)
        # a faster copy of a clip may fall below the window
        copies, short = long_enough([m for m in augmented_features(args, aug, clips) if m.path in keep], cfg.window)
        if short:
            print(f"{spec.name}: {short} {aug} copies shorter than the window left out", flush=True)
        tr = tr + copies
    stats = compute_train_stats(tr)
    tr = tr + [c for c in tr if Path(c.path).name.startswith(EVAL_PREFIX)] * (args.d1_repeat - 1)
    res = train_on_clips(tr, va, stats, cfg, tcfg)
    out = {"name": spec.name, "step": res.step, "train_clips": len(tr), "val_clips": len(va),
           "stopped_early": res.stopped_early, "val": {k: v for k, v in res.val.items() if k != "per_part_mpjpe_mm"}}
    print(json.dumps(out), flush=True)
    if args.eval_cache:  # evaluate right away (in parallel with the other workers' training)
        _, evals = load_sets(args, need_train=False)
        r = evaluate_run(args, spec, clips, evals, eval_label(args, evals))
        print(json.dumps({k: v for k, v in r.items() if k != "per_part_mpjpe_mm"}), flush=True)
    return out


def train_all(args, worker: Sequence[str]) -> None:
    """Train every selected unfinished run, ``--workers`` subprocesses at a time. ``worker``: the command
    (program and arguments) that runs ``train-one NAME ...`` with this harness's flags appended."""
    from tqdm import tqdm

    todo = []
    for spec in select(args.only):
        step, finished = train_state(run_dir(args, spec))
        evaluated = (run_dir(args, spec) / "result.json").exists()  # e.g. trained and evaluated on another machine
        if (finished or evaluated) and not args.force:
            print(f"skip {spec.name}: " + (f"finished at step {step}" if finished else "already evaluated"))
        else:
            todo.append(spec)
    if not todo:
        return
    common = ["--clips", str(args.clips), "--cache-dir", str(args.cache_dir), "--runs-dir", str(args.runs_dir),
              "--split", args.split, "--held-out-styles", args.held_out_styles, "--d1-repeat", str(args.d1_repeat),
              "--device", args.device, "--budget-scale", str(args.budget_scale), "--threads", str(args.threads)]
    common += [a for f, v in train_overrides(args).items() for a in ("--" + f.replace("_", "-"), str(v))]
    if args.train_cache:
        common += ["--train-cache", str(args.train_cache)]
    if args.eval_cache:
        common += ["--eval-cache", str(args.eval_cache), "--eval-note", args.eval_note]
    common += (["--mirror"] if args.mirror else []) + ["--posture-copies", str(args.posture_copies),
                                                       "--speeds", args.speeds]
    augs = augmentations(args)
    for aug in augs:  # fails here, not in every worker, without clip files; else encodes once
        augmented_features(args, aug)
    if not augs and not args.train_cache and args.workers > 1:  # build the cache once before the workers read it
        load_sets(args, need_eval=False)

    def launch(spec: RunSpec) -> tuple[str, int]:
        d = run_dir(args, spec)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "train.log", "a") as log:
            rc = subprocess.call([*worker, "train-one", spec.name, *common], stdout=log,
                                 stderr=subprocess.STDOUT)
        return spec.name, rc

    failed = []
    with ThreadPoolExecutor(args.workers) as pool, tqdm(total=len(todo), desc="tokenizer runs", unit="run") as bar:
        for name, rc in pool.map(launch, todo):
            bar.update(1)
            bar.set_postfix_str(f"{name} rc={rc}")
            if rc:
                failed.append(name)
    if failed:
        raise RuntimeError(f"runs failed (see their train.log): {failed}")


# ------------------------------------------------------------------------- eval
def uniform_ceiling(tokens: int, codebook: int) -> float:
    """Expected utilisation if ``tokens`` were drawn uniformly from ``codebook`` codes."""
    return 1.0 - math.exp(tokens * math.log1p(-1.0 / codebook)) if codebook > 1 else 1.0


def evaluate_run(args, spec: RunSpec, train, evals, eval_label: str) -> dict | None:
    import torch

    from motionlib.motion.atomic import atomic_path
    from motionlib.tokenizer.checkpoint import load_tokenizer
    from motionlib.tokenizer.losses import FeatureDenormalizer
    from motionlib.tokenizer.metrics import codebook_counts, evaluate_clips

    d = run_dir(args, spec)
    ck_path = run_checkpoint(d, args.checkpoint)
    if ck_path is None:
        return None
    model, ck = load_tokenizer(ck_path, args.device)
    res_path = d / "result.json"
    if res_path.exists() and not args.force:
        old = json.loads(res_path.read_text())
        if old.get("tokenizer_id") == ck.tokenizer_id:
            return old
    denorm = FeatureDenormalizer(ck.stats).to(args.device)
    m = evaluate_clips(model, evals, denorm)
    # codebook use over the whole training set (it has ~10x the tokens of the held-out set)
    counts = codebook_counts(model, [denorm.normalize(torch.as_tensor(c.feats, device=args.device)) for c in train])
    last_step, _ = train_state(d)
    extra = {}
    if spec.group == "main":  # also whole clips of the validation split (same distribution as training)
        _, val, _ = train_val_split(train, ck.config.window)
        v = evaluate_clips(model, val, denorm)
        extra = {"val_clips_mpjpe_mm": v["mpjpe_mm"], "val_clips_mpjpe_root_aligned_mm": v["mpjpe_root_aligned_mm"],
                 "val_clips_utilization": v["utilization"], "val_clips": v["clips"]}
    out = {"name": spec.name, "group": spec.group, "kind": ck.config.kind, "codebook_size": model.codebook_size,
           "params": sum(p.numel() for p in model.parameters()), "width": ck.config.width,
           "checkpoint": ck_path.name, "checkpoint_step": ck.step, "last_step": last_step,
           "train_seconds": float(ck.extra.get("train_seconds", 0.0)),
           "device": ck.train.device if ck.train else "", "eval_set": eval_label,
           **{k: m[k] for k in ("mpjpe_mm", "mpjpe_root_aligned_mm", "per_part_mpjpe_mm", "feature_l1",
                                "utilization", "perplexity", "codes_used", "tokens", "frames", "clips",
                                "tokens_per_second")},
           "uniform_ceiling": uniform_ceiling(m["tokens"], model.codebook_size),
           "train_utilization": float((counts > 0).float().mean()), "train_tokens": int(counts.sum()),
           "trainer_val": trainer_validation(d, ck.extra), "tokenizer_id": ck.tokenizer_id, **extra}
    with atomic_path(res_path) as tmp:
        Path(tmp).write_text(json.dumps(out, indent=1))
    return out


def eval_label(args, evals) -> str:
    split = f" of the held-out styles {args.held_out_styles}" if args.split == "styles" else ""
    return f"{len(evals)} dataset-1 clips{split}" + (f" ({args.eval_note})" if args.eval_note else "")


def eval_all(args) -> None:
    from tqdm import tqdm

    train, evals = load_sets(args)
    for spec in tqdm(select(args.only), desc="evaluate", unit="run"):
        r = evaluate_run(args, spec, train, evals, eval_label(args, evals))
        if r:
            tqdm.write(f"{spec.name}: MPJPE {r['mpjpe_mm']:.1f} mm, use {r['utilization']:.3f} "
                       f"(train {r['train_utilization']:.3f}), ppl {r['perplexity']:.0f}, step {r['checkpoint_step']}")


def show_plan(args) -> None:
    for spec in select(args.only):
        step, finished = train_state(run_dir(args, spec))
        res = run_dir(args, spec) / "result.json"
        done = res.exists()
        if done and not step:  # trained elsewhere: the step of the evaluated checkpoint
            step = json.loads(res.read_text())["checkpoint_step"]
        print(f"{spec.name:20s} {spec.preset:9s} codes {spec.config().codebook_size:6d} budget "
              f"{spec.budget_s * args.budget_scale:6.0f}s  step {step:6d}{' finished' if finished else ''}"
              f"{' evaluated' if done else ''}")
