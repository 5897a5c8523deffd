"""Failure-weighted sampling of start clips and times.

Every clip is cut into time bins (``bin_s`` seconds). Episodes that start in
a bin count as attempts; early terminations count as failures of the bin in
which the humanoid fell. Start bins are drawn from a mix of a length-weighted
uniform distribution and one proportional to each bin's (smoothed) failure
rate, so hard parts of hard clips are practised more (as PHC's hard-negative
mining and ProtoMotions' prioritized sampling do), while everything keeps a
non-zero probability.

A curriculum restricts sampling to the first ``active_clips`` clips
(``set_active_clips``); the trainer widens it as the policy masters them.
"""

from __future__ import annotations

import torch


class FailureWeightedSampler:
    def __init__(self, clip_len: torch.Tensor, bin_frames: int, uniform_mix: float = 0.5,
                 enabled: bool = True, generator: torch.Generator | None = None):
        self.clip_len = clip_len.cpu()
        self.bin_frames = max(1, int(bin_frames))
        usable = torch.clamp(self.clip_len - 1, min=1)  # start frames 0..len-2
        self.bins_per_clip = (usable + self.bin_frames - 1) // self.bin_frames
        self.bin_offset = torch.cumsum(self.bins_per_clip, 0) - self.bins_per_clip
        nb = int(self.bins_per_clip.sum())
        self.bin_clip = torch.repeat_interleave(torch.arange(len(self.clip_len)), self.bins_per_clip)
        self.bin_start = torch.arange(nb) - self.bin_offset[self.bin_clip]
        self.bin_start = self.bin_start * self.bin_frames
        self.bin_size = torch.minimum(usable[self.bin_clip] - self.bin_start, torch.tensor(self.bin_frames))
        self.attempts = torch.zeros(nb)
        self.failures = torch.zeros(nb)
        self.uniform_mix = float(uniform_mix)
        self.enabled = enabled
        self.gen = generator
        self.active_clips = len(self.clip_len)

    @property
    def num_clips(self) -> int:
        return len(self.clip_len)

    def set_active_clips(self, k: int) -> None:
        """Sample only clips 0..k-1 (curriculum); k is clamped to [1, num_clips]."""
        self.active_clips = int(min(max(1, k), self.num_clips))

    @property
    def num_bins(self) -> int:
        return int(self.bin_clip.shape[0])

    def probabilities(self) -> torch.Tensor:
        active = (self.bin_clip < self.active_clips).float()
        size = self.bin_size.float() * active
        uniform = size / size.sum()
        if not self.enabled:
            return uniform
        rate = (self.failures + 1.0) / (self.attempts + 2.0) * active  # Laplace-smoothed failure rate
        fw = rate / rate.sum()
        return self.uniform_mix * uniform + (1.0 - self.uniform_mix) * fw

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (clip, start frame, bin) for ``n`` new episodes."""
        b = torch.multinomial(self.probabilities(), n, replacement=True, generator=self.gen)
        off = (torch.rand(n, generator=self.gen) * self.bin_size[b].float()).long()
        t = self.bin_start[b] + torch.minimum(off, self.bin_size[b] - 1)
        self.attempts.index_add_(0, b, torch.ones(n))
        return self.bin_clip[b], t, b

    def bin_of(self, clip: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        local = torch.clamp(t // self.bin_frames, max=self.bins_per_clip[clip] - 1)
        return self.bin_offset[clip] + torch.clamp(local, min=0)

    def record_failures(self, clip: torch.Tensor, t: torch.Tensor) -> None:
        if clip.numel():
            self.failures.index_add_(0, self.bin_of(clip.cpu(), t.cpu()), torch.ones(clip.numel()))

    def state_dict(self) -> dict:
        return {"attempts": self.attempts.clone(), "failures": self.failures.clone(),
                "active_clips": self.active_clips}

    def load_state_dict(self, d: dict) -> None:
        if d["attempts"].shape == self.attempts.shape:
            self.attempts.copy_(d["attempts"])
            self.failures.copy_(d["failures"])
            self.set_active_clips(int(d.get("active_clips", self.num_clips)))
