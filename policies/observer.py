"""rl-games observer: TensorBoard figures, progress bar, periodic deterministic
evaluation and best-policy export (selection by evaluation, not last epoch)."""

from __future__ import annotations

import time

import numpy as np
from rl_games.common.algo_observer import AlgoObserver
from tqdm import tqdm

from motionlib.motion.clip import Motion


class TrackingObserver(AlgoObserver):
    def __init__(self, cfg, eval_clips: list[Motion], holder: dict, progress: bool = True):
        super().__init__()
        self.cfg = cfg
        self.eval_clips = eval_clips
        self.holder = holder
        self.progress = progress
        self.best: dict | None = None
        self.history: list[dict] = []  # deterministic evaluations
        self.train_history: list[dict] = []  # per epoch: mean step reward, episode length, train success
        self._reset_stats()
        self.t0 = time.time()

    def _reset_stats(self) -> None:
        self.n_episodes = 0
        self.n_terminated = 0
        self.n_clip_end = 0
        self.ep_steps: list[float] = []
        self.ep_returns: list[float] = []
        self.terms: dict[str, float] = {}
        self.n_term_samples = 0
        self.blowups = 0
        self.body_dist: list[float] = []
        self.step_reward = 0.0

    def after_init(self, algo) -> None:
        self.algo = algo
        self.writer = algo.writer
        self.bar = tqdm(total=algo.max_epochs, desc="train-tracker", unit="epoch", disable=not self.progress)

    def process_infos(self, infos, done_indices) -> None:
        if not isinstance(infos, dict) or "terms" not in infos:
            return
        for k, v in infos["terms"].items():
            self.terms[k] = self.terms.get(k, 0.0) + v
        self.n_term_samples += 1
        self.step_reward += float(infos.get("reward_mean", 0.0))
        self.blowups += int(infos["blowups"])
        self.body_dist.append(float(infos["mean_body_dist"]))
        term = infos["done_terminated"]
        if term.numel():
            self.n_episodes += int(term.numel())
            self.n_terminated += int(term.sum())
            self.n_clip_end += int(infos["done_clip_end"].sum())
            self.ep_steps += infos["episode_steps"].float().tolist()
            self.ep_returns += infos["episode_return"].float().tolist()

    def after_print_stats(self, frame, epoch_num, total_time) -> None:
        w = self.writer
        vec = self.holder.get("vec")
        self.train_history.append({
            "env_steps": int(frame), "epoch": int(epoch_num),
            "reward": self.step_reward / max(self.n_term_samples, 1),
            "episode_length": float(np.mean(self.ep_steps)) if self.ep_steps else float("nan"),
            "episode_return": float(np.mean(self.ep_returns)) if self.ep_returns else float("nan"),
            "train_success": 1.0 - self.n_terminated / self.n_episodes if self.n_episodes else float("nan"),
        })
        self._advance_curriculum(vec)
        if vec is not None:
            self.train_history[-1]["active_clips"] = vec.env.sampler.active_clips
        if w is not None:
            w.add_scalar("episodes/step_reward", self.train_history[-1]["reward"], frame)
            if vec is not None:
                w.add_scalar("curriculum/active_clips", vec.env.sampler.active_clips, frame)
        if w is not None:
            for k, v in self.terms.items():
                w.add_scalar(f"reward_terms/{k}", v / max(self.n_term_samples, 1), frame)
            if self.n_episodes:
                w.add_scalar("episodes/train_success_rate", 1.0 - self.n_terminated / self.n_episodes, frame)
                w.add_scalar("episodes/length", float(np.mean(self.ep_steps)), frame)
                w.add_scalar("episodes/return", float(np.mean(self.ep_returns)), frame)
            w.add_scalar("episodes/mean_body_dist_m", float(np.mean(self.body_dist)) if self.body_dist else 0.0, frame)
            w.add_scalar("sim/blowups", self.blowups, frame)
            if vec is not None:
                w.add_scalar("perf/env_steps_per_s", vec.steps_per_second(), frame)
                w.add_scalar("sim/blowups_total", vec.env.total_blowups, frame)
        if self.progress:
            sr = 1.0 - self.n_terminated / self.n_episodes if self.n_episodes else float("nan")
            self.bar.set_postfix(steps=f"{frame:.3g}", train_success=f"{sr:.2f}",
                                 best=f"{self.best['success_rate']:.2f}" if self.best else "-")
            self.bar.update(1)
        self._reset_stats()
        every = self.cfg.eval_every_epochs
        if every > 0 and (epoch_num % every == 0 or epoch_num >= self.algo.max_epochs):
            self.evaluate(frame, epoch_num)

    def _advance_curriculum(self, vec) -> None:
        """Double the active clip set when this epoch's training success is high enough."""
        if vec is None or self.cfg.curriculum_clips <= 0:
            return
        sampler = vec.env.sampler
        sr = self.train_history[-1]["train_success"]
        if self.n_episodes >= 32 and sr >= self.cfg.curriculum_success and sampler.active_clips < sampler.num_clips:
            sampler.set_active_clips(2 * sampler.active_clips)

    def evaluate(self, frame: int, epoch_num: int) -> dict:
        from .rollout import rollout
        from .train import append_curve, export_policy

        state = {k: v.detach().cpu() for k, v in self.algo.model.state_dict().items()}
        policy = export_policy(state, self.cfg, {"env_steps": int(frame), "epoch": int(epoch_num)})
        res = rollout(policy, self.eval_clips, threads=self.cfg.threads)
        success = float(np.mean([r.success for r in res]))
        errs = [np.linalg.norm(r.body_pos - r.ref_pos, axis=-1).mean() for r in res]
        g_mpjpe = float(np.mean(errs) * 1000.0)
        row = {"env_steps": int(frame), "epoch": int(epoch_num), "success_rate": success, "g_mpjpe_mm": g_mpjpe,
               "seconds": round(time.time() - self.t0, 1)}
        self.history.append(row)
        append_curve(self.cfg.run_dir / "curve.csv", row)
        if self.writer is not None:
            self.writer.add_scalar("eval/success_rate", success, frame)
            self.writer.add_scalar("eval/g_mpjpe_mm", g_mpjpe, frame)
        policy.info.update(row)
        policy.save(self.cfg.run_dir / "policy_last.pt")
        better = self.best is None or (success, -g_mpjpe) > (self.best["success_rate"], -self.best["g_mpjpe_mm"])
        if better:
            self.best = row
            policy.save(self.cfg.run_dir / "policy_best.pt")
        return row

    def summary(self) -> dict:
        if self.progress:
            self.bar.close()
        return {"best": self.best, "history": self.history, "train_history": self.train_history}
