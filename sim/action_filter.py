"""Low-pass filters on the policy's actions inside the tracking env's control loop.

The tracking policy acts at the control rate (30 Hz); its residual actions, added to the reference pose,
are the PD targets the physics holds for one control period. A filter here smooths those residuals
before they become targets, so the simulated motion stays physical (the filter is part of the
controller, not a pass over the output):

* ``lowpass``: first order (exponential), ``y += alpha * (u - y)`` per control step;
* ``critical``: second order, critically damped: two first-order stages with the same ``alpha`` in
  series (a double real pole: a step is followed without overshoot).

``alpha`` 1 passes the actions through unchanged (the env then skips the filter, so the output is
the unfiltered one bit for bit). A world that restarts starts its filter at zero residual, as
the env's ``prev_action``. The policies were trained without a filter: with one, the closed loop
they act in changes (docs/tracking.md "Smooth output").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

KINDS = ("none", "lowpass", "critical")


@dataclass(frozen=True)
class ActionFilterConfig:
    """Which filter (``kind``: one of ``KINDS``) and its per-step gain ``alpha`` in (0, 1]."""

    kind: str = "none"
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"action filter {self.kind!r}: unknown (known: {', '.join(KINDS)})")
        if not 0.0 < float(self.alpha) <= 1.0:
            raise ValueError(f"action filter alpha {self.alpha!r}: must be in (0, 1]")

    @property
    def enabled(self) -> bool:
        """False where the filter is the identity (``none``, or ``alpha`` 1)."""
        return self.kind != "none" and float(self.alpha) < 1.0

    @property
    def stages(self) -> int:
        return {"none": 0, "lowpass": 1, "critical": 2}[self.kind] if self.enabled else 0


class ActionFilter:
    """The filter state of ``num_envs`` worlds with ``num_actions`` actions each (on ``device``)."""

    def __init__(self, cfg: ActionFilterConfig, num_envs: int, num_actions: int, device: torch.device | str = "cpu"):
        self.cfg = cfg
        self.alpha = float(cfg.alpha)
        self.state = [torch.zeros(num_envs, num_actions, device=device) for _ in range(cfg.stages)]

    @property
    def enabled(self) -> bool:
        return bool(self.state)

    def reset_where(self, mask: torch.Tensor) -> None:
        """Zero residual in the worlds where ``mask`` (N,) is set (a world starting an episode)."""
        for k, s in enumerate(self.state):
            self.state[k] = torch.where(mask[:, None], torch.zeros_like(s), s)

    def __call__(self, actions: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
        """The filtered actions (N, nu); the state advances in the worlds where ``active`` (N,) is set
        (None: all), so a world left idle keeps its filter as it keeps its physics."""
        if not self.state:
            return actions
        x = actions
        for k, s in enumerate(self.state):
            y = s + self.alpha * (x - s)
            self.state[k] = y if active is None else torch.where(active[:, None], y, s)
            x = y
        return x
