"""The training's statistics, evaluation and export: TensorBoard figures, progress bar, periodic
deterministic evaluation and best-policy export (selection by evaluation, not last epoch).

:class:`TrackingObserver` is an :class:`~motionlib.policies.rlgames_adapter.EpochObserver`: the PPO
trainer calls it at the start, after each env step and at each epoch's end, and it reads the running
training through a :class:`~motionlib.policies.rlgames_adapter.PPORun`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from motionlib.motion.clip import Motion
from motionlib.sim.body import SimBody
from motionlib.sim.reference import ReferenceLibrary

from .actor import TrackingPolicy
from .export import append_curve, export_policy, read_curve
from .rollout import rollout
from .selection import pick_best
from .train_config import TrackerTrainConfig

if TYPE_CHECKING:
    from .rlgames_adapter import PPORun


class TrackingObserver:
    """Per-epoch training figures (TensorBoard, progress bar or log lines), the clip curriculum, the
    wall-clock limit and, every ``cfg.eval_every_epochs``, a deterministic evaluation on ``eval_clips``
    whose policy is exported (``policy_last.pt``, ``policies/``, ``policy_best.pt`` when it is the best)."""

    def __init__(self, cfg: TrackerTrainConfig, eval_clips: list[Motion] | ReferenceLibrary, progress: bool = True,
                 body: SimBody | None = None):
        self.cfg = cfg
        self.eval_clips = eval_clips
        self.body = body  # None: the SMPL humanoid
        self.progress = progress
        self.run: PPORun | None = None
        self.writer = None
        # the rows ``policy_best.pt`` may be chosen from (by :func:`~.selection.pick_best`, ``cfg.select_within``),
        # each with where its policy is: a resumed run's kept best (held in memory: its file is replaced when
        # another is chosen, and the rule may come back to it) and this run's validations (``RUN/policies``)
        self.pool: list[tuple[dict, TrackingPolicy | Path]] = []
        self.reference: list[dict] = []  # earlier rows in this run's physics: they count for the top success
        self.best: dict | None = self._previous_best() if cfg.resume else None
        self.history: list[dict] = []  # deterministic evaluations
        self.train_history: list[dict] = []  # per epoch: mean step reward, episode length, train success
        self._reset_stats()
        self.t0 = time.time()

    def _previous_best(self) -> dict | None:
        """A resumed run in the same folder keeps the earlier evaluations' best: ``policy_best.pt`` stays
        in the pool the rule chooses from, and the curve's earlier rows in this physics count for the top
        success. When the kept best was measured in other physics (another armature scale: a run that
        changes it), it is measured again here on ``eval_clips``, so the ranking compares validations in
        one physics; its file then records the new figures."""
        curve, best_file = self.cfg.run_dir / "curve.csv", self.cfg.run_dir / "policy_best.pt"
        if not (curve.is_file() and best_file.is_file()):
            return None
        rows = read_curve(curve)
        if not rows:
            return None
        scale = self.cfg.armature_scale
        policy = TrackingPolicy.load(best_file)
        same = [r for r in rows if r["armature_scale"] == scale]
        file_row = (policy.info.get("epoch"), policy.info.get("env_steps"))

        def kept(candidates: list[dict]) -> dict:  # the file's own row, else the rule's pick of the rows
            match = [r for r in candidates if (r["epoch"], r["env_steps"]) == file_row]
            return dict(match[-1] if match else pick_best(candidates, self.cfg.select_within))

        if same:
            self.reference = same
            best = kept(same)
        else:  # the best as trained, measured in this run's physics
            best = kept(rows)
            again = self._validate(policy)
            print(f"[train-tracker] the kept best (epoch {best['epoch']}, armature x{best['armature_scale']:g}: "
                  f"success {best['success_rate']:.3f}, {best['g_mpjpe_mm']:.1f} mm) at armature x{scale:g}: "
                  f"success {again['success_rate']:.3f}, {again['g_mpjpe_mm']:.1f} mm", flush=True)
            policy.info.update({**again, "armature_scale": scale, "remeasured": True})
            policy.save(best_file)
            best.update(success_rate=float(policy.info["success_rate"]), g_mpjpe_mm=float(policy.info["g_mpjpe_mm"]),
                        armature_scale=scale)
        self.pool.append((best, policy))
        return best

    def _validate(self, policy: TrackingPolicy) -> dict:
        """Success rate and G-MPJPE (mm) of ``policy`` on the evaluation clips, in the run's physics."""
        res = rollout(policy, self.eval_clips, threads=self.cfg.threads, body=self.body,
                      armature_scale=self.cfg.armature_scale)
        errs = [np.linalg.norm(r.body_pos - r.ref_pos, axis=-1).mean() for r in res]
        return {"success_rate": float(np.mean([r.success for r in res])), "g_mpjpe_mm": float(np.mean(errs) * 1000.0),
                "clips": len(res)}

    def _reset_stats(self) -> None:
        # per-step figures arrive as device tensors and are summed there; they
        # are read back once per epoch (after_print_stats), never per step
        self.n_episodes = 0
        self.n_terminated = 0
        self.n_clip_end = 0
        self.ep_steps_sum = 0
        self.ep_returns_sum = 0
        self.terms: dict = {}
        self.n_term_samples = 0
        self.blowups = 0
        self.body_dist_sum = 0
        self.step_reward = 0

    def start(self, run: PPORun) -> None:
        self.run = run
        self.writer = run.writer
        self.bar = tqdm(total=run.max_epochs, desc="train-tracker", unit="epoch", disable=not self.progress)
        if self.writer is not None:
            env = run.env
            dev = str(env.device)
            if env.device.type == "cuda":
                import torch

                dev += f" ({torch.cuda.get_device_name(env.device)})"
            self.writer.add_text("run/device", f"backend {env.backend.name}, device {dev}, {env.num_envs} envs", 0)

    def step(self, infos: dict) -> None:
        for k, v in infos["terms"].items():
            self.terms[k] = self.terms.get(k, 0) + v
        self.n_term_samples += 1
        self.step_reward = self.step_reward + infos["reward_mean"]
        self.blowups = self.blowups + infos["blowups"]
        self.body_dist_sum = self.body_dist_sum + infos["mean_body_dist"]
        done = infos["done"]
        self.n_episodes = self.n_episodes + done.sum()
        self.n_terminated = self.n_terminated + (infos["done_terminated"] & done).sum()
        self.n_clip_end = self.n_clip_end + (infos["done_clip_end"] & done).sum()
        self.ep_steps_sum = self.ep_steps_sum + (infos["episode_steps"] * done).sum()
        self.ep_returns_sum = self.ep_returns_sum + (infos["episode_return"] * done).sum()

    def _epoch_figures(self) -> dict:
        """This epoch's sums, read back from the device once."""
        def f(x) -> float:
            return float(x)

        n = f(self.n_episodes)
        k = max(self.n_term_samples, 1)
        return {
            "episodes": n,
            "reward": f(self.step_reward) / k,
            "episode_length": f(self.ep_steps_sum) / n if n else float("nan"),
            "episode_return": f(self.ep_returns_sum) / n if n else float("nan"),
            "train_success": 1.0 - f(self.n_terminated) / n if n else float("nan"),
            "body_dist": f(self.body_dist_sum) / k if self.n_term_samples else 0.0,
            "blowups": f(self.blowups),
            "terms": {key: f(v) / k for key, v in self.terms.items()},
        }

    def epoch_end(self, frame: int, epoch_num: int) -> None:
        w = self.writer
        env = self.run.env
        e = self._epoch_figures()
        self.train_history.append({
            "env_steps": int(frame), "epoch": int(epoch_num), "reward": e["reward"],
            "episode_length": e["episode_length"], "episode_return": e["episode_return"],
            "train_success": e["train_success"],
        })
        self._advance_curriculum(env.sampler, e["episodes"])
        self.train_history[-1]["active_clips"] = env.sampler.active_clips
        rate = self.run.steps_per_second()
        if w is not None:
            w.add_scalar("episodes/step_reward", e["reward"], frame)
            for k, v in e["terms"].items():
                w.add_scalar(f"reward_terms/{k}", v, frame)
            if e["episodes"]:
                w.add_scalar("episodes/train_success_rate", e["train_success"], frame)
                w.add_scalar("episodes/length", e["episode_length"], frame)
                w.add_scalar("episodes/return", e["episode_return"], frame)
            w.add_scalar("episodes/mean_body_dist_m", e["body_dist"], frame)
            w.add_scalar("sim/blowups", e["blowups"], frame)
            w.add_scalar("curriculum/active_clips", env.sampler.active_clips, frame)
            w.add_scalar("perf/env_steps_per_s", rate, frame)
            w.add_scalar("sim/blowups_total", float(env.total_blowups), frame)
            overflows = getattr(env.backend, "overflows", None)
            if overflows is not None:
                w.add_scalar("sim/overflows_total", float(overflows), frame)
        if not self.progress and epoch_num % 10 == 0:  # quiet runs (logs): one line per 10 epochs
            print(f"[train-tracker] epoch {epoch_num} env steps {int(frame):,} "
                  f"{rate:,.0f} env-steps/s train success {e['train_success']:.3f} "
                  f"episode length {e['episode_length']:.1f} step reward {e['reward']:.3f} "
                  f"blowups {e['blowups']:.0f} ({time.time() - self.t0:.0f} s)", flush=True)
        if self.progress:
            sr = e["train_success"]
            self.bar.set_postfix(steps=f"{frame:.3g}", train_success=f"{sr:.2f}", sps=f"{rate:.3g}",
                                 best=f"{self.best['success_rate']:.2f}" if self.best else "-")
            self.bar.update(1)
        self._reset_stats()
        self._check_time_limit(epoch_num)
        every = self.cfg.eval_every_epochs
        if every > 0 and (epoch_num % every == 0 or epoch_num >= self.run.max_epochs):
            self.evaluate(frame, epoch_num)

    def _check_time_limit(self, epoch_num: int) -> None:
        """End training cleanly once ``cfg.max_minutes`` have passed: the trainer then
        saves its checkpoint and returns after this epoch (and we evaluate it)."""
        limit = self.cfg.max_minutes
        if limit and time.time() - self.t0 >= 60.0 * limit and epoch_num < self.run.max_epochs:
            print(f"[train-tracker] time limit of {limit:g} min reached at epoch {epoch_num}: stopping")
            self.run.stop_after(epoch_num)

    def _advance_curriculum(self, sampler, episodes: float) -> None:
        """Double the active clip set when this epoch's training success is high enough."""
        if self.cfg.curriculum_clips <= 0:
            return
        sr = self.train_history[-1]["train_success"]
        if episodes >= 32 and sr >= self.cfg.curriculum_success and sampler.active_clips < sampler.num_clips:
            sampler.set_active_clips(2 * sampler.active_clips)

    def evaluate(self, frame: int, epoch_num: int) -> dict:
        policy = export_policy(self.run.model_state(), self.cfg, {"env_steps": int(frame), "epoch": int(epoch_num)})
        val = self._validate(policy)
        success, g_mpjpe = val["success_rate"], val["g_mpjpe_mm"]
        row = {"env_steps": int(frame), "epoch": int(epoch_num), "success_rate": success, "g_mpjpe_mm": g_mpjpe,
               "seconds": round(time.time() - self.t0, 1), "armature_scale": self.cfg.armature_scale}
        self.history.append(row)
        if not self.progress:
            print(f"[train-tracker] evaluation at epoch {epoch_num}: success {success:.3f} on {val['clips']} clips, "
                  f"G-MPJPE {g_mpjpe:.1f} mm", flush=True)
        append_curve(self.cfg.run_dir / "curve.csv", row)
        if self.writer is not None:
            self.writer.add_scalar("eval/success_rate", success, frame)
            self.writer.add_scalar("eval/g_mpjpe_mm", g_mpjpe, frame)
        policy.info.update(row)
        policy.save(self.cfg.run_dir / "policy_last.pt")
        # every evaluated policy is kept (~0.7 MB each), to be ranked later on a steadier yardstick
        # (``motionlib eval-tracker CLIPS --start-every 10 --policy RUN/policies/*.pt``)
        policy.save(self.cfg.run_dir / "policies" / f"policy_ep{int(epoch_num):06d}.pt")
        self.pool.append((row, self.cfg.run_dir / "policies" / f"policy_ep{int(epoch_num):06d}.pt"))
        best = pick_best([r for r, _ in self.pool], self.cfg.select_within, self.reference)
        if best is not None and best is not self.best:
            self.best = best
            src = next(p for r, p in self.pool if r is best)
            chosen = policy if best is row else (src if isinstance(src, TrackingPolicy) else TrackingPolicy.load(src))
            chosen.save(self.cfg.run_dir / "policy_best.pt")
        return row

    def summary(self) -> dict:
        if self.progress:
            self.bar.close()
        if self.writer is not None:
            self.writer.flush()  # the trainer never closes its writer: the last figures must reach the event file
        return {"best": self.best, "history": self.history, "train_history": self.train_history}
