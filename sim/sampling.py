"""Failure-weighted sampling of start clips and times.

Every clip is cut into time bins (``bin_s`` seconds). Episodes that start in
a bin count as attempts; early terminations count as failures of the bin in
which the humanoid fell. Start bins are drawn from a mix of a length-weighted
uniform distribution and one proportional to each bin's (smoothed) failure
rate, so hard parts of hard clips are practised more (as PHC's hard-negative
mining and ProtoMotions' prioritized sampling do), while everything keeps a
non-zero probability.

The sampler lives on the environment's device and never reads values back
to the host (inverse-CDF draws, weighted counts), so a GPU step stays
asynchronous.

A curriculum restricts sampling to the first ``active_clips`` clips
(``set_active_clips``); the trainer widens it as the policy masters them.
Per-clip weights (``set_clip_weights``) scale both parts of a clip's mass, as
if the clip were listed that many times (``train-tracker --clip-weight``).
"""

from __future__ import annotations

import torch


class FailureWeightedSampler:
    def __init__(self, clip_len: torch.Tensor, bin_frames: int, uniform_mix: float = 0.5,
                 enabled: bool = True, generator: torch.Generator | None = None):
        dev = generator.device if generator is not None else clip_len.device
        self.device = dev
        self.clip_len = clip_len.to(dev)
        self.bin_frames = max(1, int(bin_frames))
        usable = torch.clamp(self.clip_len - 1, min=1)  # start frames 0..len-2
        self.bins_per_clip = (usable + self.bin_frames - 1) // self.bin_frames
        self.bin_offset = torch.cumsum(self.bins_per_clip, 0) - self.bins_per_clip
        nb = int(self.bins_per_clip.sum())
        self.bin_clip = torch.repeat_interleave(torch.arange(len(self.clip_len), device=dev), self.bins_per_clip)
        self.bin_start = torch.arange(nb, device=dev) - self.bin_offset[self.bin_clip]
        self.bin_start = self.bin_start * self.bin_frames
        self.bin_size = torch.clamp(usable[self.bin_clip] - self.bin_start, max=self.bin_frames)
        self.attempts = torch.zeros(nb, device=dev)
        self.failures = torch.zeros(nb, device=dev)
        self.uniform_mix = float(uniform_mix)
        self.enabled = enabled
        self.gen = generator
        self.active_clips = len(self.clip_len)
        self.clip_weight = torch.ones(len(self.clip_len), device=dev)
        self._update_mass()

    def _update_mass(self) -> None:
        # per-bin share of the sampling mass: active clips only, scaled by the clip's weight; kept
        # here because probabilities() runs at every reset draw (every step on a GPU backend)
        self._mass = (self.bin_clip < self.active_clips).float() * self.clip_weight[self.bin_clip]
        self._uniform = self.bin_size.float() * self._mass
        self._uniform = self._uniform / self._uniform.sum()

    def set_clip_weights(self, weights: torch.Tensor) -> None:
        """(num_clips,) non-negative sampling weight of each clip (default 1)."""
        w = torch.as_tensor(weights, dtype=torch.float32).to(self.device)
        if w.shape != self.clip_weight.shape or not bool((w >= 0).all()) or not bool((w > 0).any()):
            raise ValueError(f"clip weights: expected {self.num_clips} non-negative values, not all 0")
        self.clip_weight = w
        self._update_mass()

    @property
    def num_clips(self) -> int:
        return len(self.clip_len)

    def set_active_clips(self, k: int) -> None:
        """Sample only clips 0..k-1 (curriculum); k is clamped to [1, num_clips]."""
        self.active_clips = int(min(max(1, k), self.num_clips))
        self._update_mass()

    @property
    def num_bins(self) -> int:
        return int(self.bin_clip.shape[0])

    def probabilities(self) -> torch.Tensor:
        if not self.enabled:
            return self._uniform
        rate = (self.failures + 1.0) / (self.attempts + 2.0) * self._mass  # Laplace-smoothed failure rate
        fw = rate / rate.sum()
        return self.uniform_mix * self._uniform + (1.0 - self.uniform_mix) * fw

    def sample(self, n: int, count: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (clip, start frame, bin) for ``n`` new episodes.

        ``count`` (n,) bool: which draws become episodes (attempts); default all."""
        cdf = torch.cumsum(self.probabilities(), 0)
        u = torch.rand(n, generator=self.gen, device=self.device) * cdf[-1]
        b = torch.clamp(torch.searchsorted(cdf, u, right=True), max=self.num_bins - 1)
        size = self.bin_size.index_select(0, b)
        off = (torch.rand(n, generator=self.gen, device=self.device) * size.float()).long()
        t = self.bin_start.index_select(0, b) + torch.minimum(off, size - 1)
        w = torch.ones(n, device=self.device) if count is None else count.to(self.device, torch.float32)
        self.attempts.index_add_(0, b, w)
        return self.bin_clip.index_select(0, b), t, b

    def bin_of(self, clip: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        local = torch.clamp(t // self.bin_frames, max=self.bins_per_clip.index_select(0, clip) - 1)
        return self.bin_offset.index_select(0, clip) + torch.clamp(local, min=0)

    def record_failures(self, clip: torch.Tensor, t: torch.Tensor, weight: torch.Tensor | None = None) -> None:
        """Count failures at (clip, frame); ``weight`` (bool or float per entry) masks them without a host sync."""
        if clip.numel():
            clip, t = clip.to(self.device), t.to(self.device)
            w = torch.ones(clip.numel(), device=self.device) if weight is None else weight.to(self.device, torch.float32)
            self.failures.index_add_(0, self.bin_of(clip, t), w)

    def state_dict(self) -> dict:
        return {"attempts": self.attempts.cpu().clone(), "failures": self.failures.cpu().clone(),
                "active_clips": self.active_clips}

    def load_state_dict(self, d: dict) -> None:
        if d["attempts"].shape == self.attempts.shape:
            self.attempts.copy_(d["attempts"].to(self.device))
            self.failures.copy_(d["failures"].to(self.device))
            self.set_active_clips(int(d.get("active_clips", self.num_clips)))
