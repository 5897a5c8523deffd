"""``motionlib eval-lm``: the motion-language model measured on the test clips it never trained on.

Three sources of candidate clips, each scored against the real test clips through the evaluator
(:mod:`.eval_scores`):

* a trained model (:func:`generate_candidates`): one motion per test clip from its first caption, as long
  as the clip (at most ``max_seconds``), seeds ``seed + i``; with ``mm_samples`` more per prompt for the
  first ``mm_prompts`` prompts, for MultiModality. Also each test clip's caption by the model
  (:func:`model_captions`), for caption accuracy.
* a folder of clips with their prompts in meta (``meta["prompt"]``, as ``motionlib generate`` writes it).
* the real test clips themselves: the ceiling.

The physics check (:func:`physics`) refines the candidates and the real test clips with the shipped tracker
(:func:`~motionlib.policies.refine.refine_clips`) and reports the rate tracked to the end (no restart) and
the plausibility (penetration, float, skate, jitter) before and after. Caption accuracy
(:mod:`.caption_accuracy`) is reported for the reference captions (a check of the matcher: it should be 1)
and, with a model, for its captions.
"""

from __future__ import annotations

from dataclasses import dataclass

from motionlib.motion.clip import Motion
from motionlib.motion.errors import MotionError

from .caption_accuracy import accuracy
from .evaluator import Evaluator
from .evaluator_data import EvalItem, item_of_entry, label_key, motion_features
from .eval_scores import ceiling, embed_set, score_set
from .splits import ClipEntry

PLAUSIBILITY = ("penetration_mm", "float_mm", "skate_mm", "jitter")


@dataclass(frozen=True)
class EvalLMConfig:
    repeats: int = 20
    batch: int = 32
    seed: int = 0
    max_seconds: float = 8.0  # generated length: the test clip's, at most this
    mm_samples: int = 0  # extra generations per prompt for MultiModality (0: none)
    mm_prompts: int = 10  # prompts that get them
    caption_seconds: float = 10.0  # the model captions at most this much of each clip


@dataclass
class Candidate:
    id: str
    prompt: str
    motion: Motion


def test_items(entries: list[ClipEntry], fps: float) -> list[EvalItem]:
    if not entries:
        raise MotionError("no test clips to evaluate against (the manifest's test split is empty)")
    return [item_of_entry(e, fps) for e in entries]


def candidate_items(cands: list[Candidate], fps: float) -> list[EvalItem]:
    return [EvalItem(c.id, motion_features(c.motion, fps), [c.prompt], label_key("", "", "", [c.prompt]),
                     meta={"prompt": c.prompt}) for c in cands]


def load_candidates(files) -> tuple[list[Candidate], list[str]]:
    """(candidates, errors) of clip files with ``meta["prompt"]``."""
    from motionlib.motion.io import load_motion

    from .evaluator_data import prompt_of

    out, errors = [], []
    for f in files:
        try:
            m = load_motion(f)
            p = m.meta.get("prompt") if isinstance(m.meta.get("prompt"), str) else None
            if not p or not p.strip():
                p = prompt_of(m.meta)
            if not p:
                raise MotionError("clip has no prompt (meta['prompt']) to score it against", str(f))
            out.append(Candidate(f.stem, p, m))
        except MotionError as e:
            errors.append(str(e))
    return out, errors


def pair_with_test(cands: list[Candidate], test: list[ClipEntry]) -> tuple[list[Candidate], list[Candidate]] | None:
    """(one candidate per test clip in test order, the other candidates) when every test clip has a candidate
    whose prompt is one of its captions (the first such, in file order); None otherwise."""
    free = list(range(len(cands)))
    main = []
    for e in test:
        caps = {" ".join(c.split()) for c in e.captions}
        k = next((i for i in free if " ".join(cands[i].prompt.split()) in caps), None)
        if k is None:
            return None
        free.remove(k)
        main.append(cands[k])
    return main, [cands[i] for i in free]


def generate_candidates(lm, tmodel, ckpt, entries: list[ClipEntry], cfg: EvalLMConfig,
                        progress: bool = False) -> tuple[list[Candidate | None], list[Candidate], list[str]]:
    """(one candidate per test clip, None where generation failed; the extra MultiModality samples; errors)."""
    from .generate import GenConfig, generate_motion
    from .motion_tokens import grid_to_motion

    sps = ckpt.config.fps / ckpt.config.alpha
    main: list[Candidate | None] = []
    extra: list[Candidate] = []
    errors: list[str] = []
    it = list(enumerate(entries))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="generate", unit="prompt")
    for i, e in it:
        prompt = e.captions[0]
        seconds = min(cfg.max_seconds, e.frames / e.fps)
        n = 1 + (cfg.mm_samples if i < cfg.mm_prompts else 0)
        for k in range(n):
            seed = cfg.seed + 1000 * k + i
            try:
                grid, info = generate_motion(lm, prompt, GenConfig(seconds=seconds, seed=seed, steps_per_second=sps))
                m = grid_to_motion(grid, tmodel, ckpt, meta={"prompt": prompt, "generated": {"seed": info["seed"]}},
                                   source=f"eval-lm: {prompt}")
                c = Candidate(f"{e.id}_gen{k}", prompt, m)
            except MotionError as err:
                errors.append(str(err))
                c = None
            if k == 0:
                main.append(c)
            elif c is not None:
                extra.append(c)
    return main, extra, errors


def model_captions(lm, tmodel, ckpt, entries: list[ClipEntry], cfg: EvalLMConfig) -> tuple[list[dict], list[dict]]:
    """(greedy, sampled): the model's captions of each test clip (its tokens from the tokenizer in use, made
    once), the most likely word at each step (as ``motionlib caption`` by default) and sampled (temperature 1,
    seed ``cfg.seed``, ``motionlib caption --sample``)."""
    from motionlib.tokenizer.codec import tokenize_clip

    from .generate import GenConfig, caption_grid

    steps = max(1, int(round(cfg.caption_seconds * ckpt.config.fps / ckpt.config.alpha)))
    greedy, sampled = [], []
    for e in entries:
        grid = tokenize_clip(tmodel, ckpt, e.clip).indices[:steps]
        for out, gc in ((greedy, GenConfig(seed=cfg.seed, greedy=True)), (sampled, GenConfig(seed=cfg.seed))):
            out.append({"clip": e.id, "caption": caption_grid(lm, grid, gc), "content": e.content,
                        "style": e.style})
    return greedy, sampled


def caption_report(entries: list[ClipEntry], captions: list[dict] | None,
                   sampled: list[dict] | None = None) -> dict:
    """Content / style accuracy of every reference caption of the test clips and of the model's captions
    (greedy, as ``motionlib caption`` writes them: ``model``; sampled, when given: ``model_sampled``)."""
    refs = [(c, e.content, e.style) for e in entries if e.content for c in e.captions]
    out: dict = {"reference": accuracy(refs).to_dict() if refs else None}
    for key, caps in (("model", captions), ("model_sampled", sampled)):
        if caps is not None:
            items = [(c["caption"], c["content"], c["style"]) for c in caps if c["content"]]
            out[key] = accuracy(items).to_dict() if items else None
            out[key + "_captions"] = caps
    return out


def _plausibility_summary(totals: dict, n: int) -> dict:
    return {"clips": n, "tracked_to_end": totals.get("success_rate"),
            "before": {k: totals["before"][k] for k in PLAUSIBILITY},
            "after": {k: totals["after"][k] for k in PLAUSIBILITY},
            "g_mpjpe_mm": totals.get("g_mpjpe_mm"), "realtime_factor": totals.get("realtime_factor")}


def physics(clips: list[Motion], policy_path: str | None = None, threads: int | None = None,
            progress: bool = False) -> dict:
    """Refine ``clips`` with the shipped tracker (or ``policy_path``): tracked-to-the-end rate and plausibility
    before / after."""
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.policies.refine import refine_clips

    policy = TrackingPolicy.load(policy_path or default_policy_path())
    _, totals = refine_clips(clips, policy, threads=threads, progress=progress)
    return _plausibility_summary(totals, len(clips))


def evaluate(ev: Evaluator, test: list[ClipEntry], candidates: list[Candidate] | None, paired: bool,
             cfg: EvalLMConfig, extra: list[Candidate] | None = None) -> dict:
    """The evaluator's figures: the real test clips (ceiling, FID noise floor) and, given, the candidates
    (``paired``: ``candidates[i]`` was made for ``test[i]``; ``extra``: more samples of some prompts, for
    MultiModality only)."""
    fps = ev.cfg.fps
    real = embed_set(ev, test_items(test, fps))
    out = {"test_clips": len(real), "real": ceiling(real, cfg.repeats, cfg.seed, cfg.batch)}
    if candidates is not None:
        if not candidates:
            raise MotionError("no candidate clip to score")
        s = embed_set(ev, candidate_items(candidates, fps))
        scores = score_set(s, real, paired, cfg.repeats, cfg.seed, cfg.batch)
        if extra:
            from . import eval_metrics as EM

            both = embed_set(ev, candidate_items(candidates + extra, fps))
            groups = both.groups()
            if any(len(g) >= 2 for g in groups):
                scores["multimodality"] = EM.repeat(lambda rng: EM.multimodality(groups, rng), cfg.repeats,
                                                    cfg.seed)[0].to_dict()
                scores["multimodality_prompts"] = sum(len(g) >= 2 for g in groups)
        out["candidates"] = scores
        r3, c3 = out["real"]["r_precision"]["top3"]["mean"], scores["r_precision"]["top3"]["mean"]
        out["r3_gap_to_real"] = float(r3 - c3)
    return out


def real_motions(entries: list[ClipEntry]) -> list[Motion]:
    from motionlib.motion.io import load_motion

    return [load_motion(e.clip) for e in entries]

