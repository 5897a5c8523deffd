"""Tables and plot of the tokenizer benchmark (:mod:`.sweep`, ``benchmarks/tokenizer_sweep.py report``).

Reads ``RUNS/NAME/result.json`` of every run that has been evaluated and
writes (atomically) ``DOCS/tokenizer_sweep.csv`` (one row per run),
``DOCS/tokenizer_sweep.md`` (the main comparison and the codebook-size
sweep) and ``DOCS/tokenizer_sweep.png`` (MPJPE and codebook utilisation
against codebook size, LFQ vs VQ).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

COLUMNS = ["name", "group", "kind", "codebook_size", "params", "width", "checkpoint_step", "last_step",
           "train_seconds", "device", "mpjpe_mm", "mpjpe_root_aligned_mm", "feature_l1", "utilization",
           "uniform_ceiling", "train_utilization", "perplexity", "codes_used", "tokens", "train_tokens",
           "tokens_per_second", "eval_set", "val_windows_mpjpe_mm", "val_windows_mpjpe_root_aligned_mm",
           "val_clips_mpjpe_mm", "val_clips_mpjpe_root_aligned_mm", "val_clips_utilization"]
LABEL = {"lfq2d": "2D-LFQ (MotionBook)", "lfq1d": "1D-LFQ", "vq1d": "1D VQ (EMA, reset)"}


def trainer_validation(run: Path, extra: dict | None = None) -> dict:
    """The trainer's last validation (32-frame windows of the dataset-2 val split), from the
    checkpoint's ``extra`` or, for checkpoints older than that field, the run's train.log."""
    if extra and "val_mpjpe_root_aligned_mm" in extra:
        return {"mpjpe_mm": extra["val_mpjpe_mm"], "mpjpe_root_aligned_mm": extra["val_mpjpe_root_aligned_mm"],
                "utilization": extra["val_utilization"]}
    log = Path(run) / "train.log"
    for line in (log.read_text().splitlines() if log.exists() else [])[::-1]:
        if line.startswith("{") and '"val": {' in line:
            v = json.loads(line)["val"]
            return {k: v[k] for k in ("mpjpe_mm", "mpjpe_root_aligned_mm", "utilization")}
    return {}


def load_results(names: list[str], runs_dir: Path) -> list[dict]:
    out = []
    for n in names:
        p = Path(runs_dir) / n / "result.json"
        if p.exists():
            r = json.loads(p.read_text())
            r.setdefault("trainer_val", trainer_validation(p.parent))
            tv = r["trainer_val"]
            r["val_windows_mpjpe_root_aligned_mm"] = tv.get("mpjpe_root_aligned_mm", float("nan"))
            r["val_windows_mpjpe_mm"] = tv.get("mpjpe_mm", float("nan"))
            out.append(r)
    return out


def _write(path: Path, text: str | bytes) -> None:
    from motionlib.motion.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(text if isinstance(text, bytes) else text.encode())


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r.get(k, "")) for k in COLUMNS})
    return buf.getvalue()


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _f(x, fmt: str = ".1f") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def markdown(rows: list[dict]) -> str:
    main = [r for r in rows if r["group"] == "main"]
    sweep = [r for r in rows if r["group"] == "sweep"]
    lines = []
    if main:
        lines += [f"Held-out set: {main[0]['eval_set']}, never used in training, each clip tokenized whole. MPJPE over "
                  "SMPL joints 0..21 via FK with each clip's own skeleton: root-aligned (pelvis subtracted per "
                  "frame) and global (root path integrated from the decoded root velocities over the whole clip, "
                  "so it includes drift). 'val' columns: the validation split (a 5 % hash split of the training clips, same distribution "
                  "as training), whole clips.", "",
                  "| model | codes | params | steps (train time, device) | MPJPE root-aligned mm | MPJPE global mm | "
                  "val root-aligned / global mm | utilisation % held-out (uniform ceiling) | utilisation % train set "
                  "| perplexity | tokens/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in main:
            lines.append(f"| {LABEL[r['kind']]} ({r['name']}) | 2^{int(math.log2(r['codebook_size']))} "
                         f"| {r['params'] / 1e6:.2f} M | {r['checkpoint_step']} ({r['train_seconds']:.0f} s, "
                         f"{r['device']}) | {r['mpjpe_root_aligned_mm']:.1f} | {r['mpjpe_mm']:.0f} "
                         f"| {_f(r.get('val_clips_mpjpe_root_aligned_mm'))} / {_f(r.get('val_clips_mpjpe_mm'), '.0f')} "
                         f"| {_pct(r['utilization'])} ({_pct(r['uniform_ceiling'])}) | {_pct(r['train_utilization'])} "
                         f"| {r['perplexity']:.0f} | {r['tokens_per_second']:g} |")
        lines.append("")
    if sweep:
        lines += ["Codebook-size sweep: 1D trunk (width 128), LFQ vs EMA-VQ with code reset, equal wall-clock "
                  "budgets (steps reached in the table). MPJPE root-aligned, mm: on the held-out dataset-1 clips and "
                  "on 32-frame windows of the validation split ('val'). Utilisation: % of codes used on "
                  "the held-out clips / on the whole training set.", "",
                  "| codes | LFQ MPJPE held-out / val | LFQ use % held-out / train | LFQ ppl | LFQ steps "
                  "| VQ MPJPE held-out / val | VQ use % held-out / train | VQ ppl | VQ steps |",
                  "|---|---|---|---|---|---|---|---|---|"]
        by = {(r["kind"], r["codebook_size"]): r for r in sweep}
        for k in sorted({r["codebook_size"] for r in sweep}):
            cells = []
            for kind in ("lfq1d", "vq1d"):
                r = by.get((kind, k))
                cells += (["-"] * 4 if r is None else
                          [f"{r['mpjpe_root_aligned_mm']:.1f} / {_f(r['val_windows_mpjpe_root_aligned_mm'])}",
                           f"{_pct(r['utilization'])} / {_pct(r['train_utilization'])}",
                           f"{r['perplexity']:.0f}", str(r["checkpoint_step"])])
            lines.append(f"| 2^{int(math.log2(k))} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_png(rows: list[dict]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = [r for r in rows if r["group"] == "sweep"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, color in (("lfq1d", "tab:blue"), ("vq1d", "tab:red")):
        rs = sorted((r for r in sweep if r["kind"] == kind), key=lambda r: r["codebook_size"])
        if not rs:
            continue
        x = [math.log2(r["codebook_size"]) for r in rs]
        name = "LFQ" if kind == "lfq1d" else "VQ (EMA + reset)"
        a.plot(x, [r["mpjpe_root_aligned_mm"] for r in rs], "o-", color=color, label=f"{name}, held-out dataset-1")
        a.plot(x, [r["val_windows_mpjpe_root_aligned_mm"] for r in rs], "s--", color=color, alpha=0.6,
               label=f"{name}, validation windows")
        b.plot(x, [100 * r["train_utilization"] for r in rs], "o-", color=color, label=f"{name}, train set")
        b.plot(x, [100 * r["utilization"] for r in rs], "s--", color=color, alpha=0.6, label=f"{name}, held-out")
    rs = sorted(sweep, key=lambda r: r["codebook_size"])
    if rs:
        ks = sorted({r["codebook_size"] for r in rs})
        tok = {r["codebook_size"]: r["tokens"] for r in rs}
        b.plot([math.log2(k) for k in ks], [100 * (1 - math.exp(tok[k] * math.log1p(-1 / k))) for k in ks], ":",
               color="gray", label="uniform ceiling, held-out tokens")
    for i, r in enumerate(r for r in rows if r["group"] == "main" and r["kind"] == "lfq2d"):
        a.plot([math.log2(r["codebook_size"])], [r["mpjpe_root_aligned_mm"]], "*P^v"[i % 4], ms=14 - 4 * (i > 0),
               color=("tab:green", "tab:olive", "tab:cyan", "tab:purple")[i % 4],
               label=f"2D-LFQ {r['name']} (longer run), held-out")
    a.set(xlabel="log2 codebook size", ylabel="root-aligned MPJPE (mm)", title="reconstruction", ylim=(0, None))
    b.set(xlabel="log2 codebook size", ylabel="codes used (%)", title="codebook utilisation", ylim=(0, 105))
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write_report(names: list[str], runs_dir: Path, docs: Path) -> list[Path]:
    rows = load_results(names, runs_dir)
    if not rows:
        raise ValueError(f"no evaluated runs under {runs_dir}")
    out = [docs / "tokenizer_sweep.csv", docs / "tokenizer_sweep.md", docs / "tokenizer_sweep.png"]
    _write(out[0], csv_text(rows))
    _write(out[1], markdown(rows))
    _write(out[2], plot_png(rows))
    print(f"report: {len(rows)} run(s) -> " + ", ".join(map(str, out)))
    return out
