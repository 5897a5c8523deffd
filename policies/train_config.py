"""Training configuration for the tracking policy (PPO through rl-games)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from motionlib.sim.humanoid import HumanoidConfig
from motionlib.sim.tracking_config import TrackingConfig


@dataclass
class PPOConfig:
    """rl-games a2c_continuous settings. Fixed exploration noise and a constant
    learning rate: issue B's experiment saw late collapses with the adaptive-KL
    schedule and learned noise."""

    units: tuple[int, ...] = (512, 256, 128)
    activation: str = "elu"
    sigma_init: float = -2.3  # fixed log-std: std 0.1 -> 0.05 rad of residual PD target noise (PHC: -2.9)
    learning_rate: float = 2e-4
    lr_schedule: str = "constant"
    gamma: float = 0.99
    tau: float = 0.95
    horizon_length: int = 32
    minibatches: int = 4
    mini_epochs: int = 5
    e_clip: float = 0.2
    critic_coef: float = 2.0
    entropy_coef: float = 0.0
    grad_norm: float = 1.0
    bounds_loss_coef: float = 1e-4
    kl_threshold: float = 0.008


@dataclass
class TrainConfig:
    clips: list[str] = field(default_factory=list)  # clip files / folders (motionlib .npz)
    eval_clips: list[str] = field(default_factory=list)  # defaults to the training clips
    out: str = "runs/tracker"
    max_env_steps: int = 2_000_000
    eval_every_epochs: int = 25
    eval_max_clips: int = 32
    # curriculum: >0 starts on the first N clips and doubles the active set whenever
    # the training success rate of an epoch reaches curriculum_success
    curriculum_clips: int = 0
    curriculum_success: float = 0.8
    resume: str | None = None  # rl-games checkpoint (.pth) to continue from
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    backend: str = "cpu"
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    humanoid: HumanoidConfig = field(default_factory=HumanoidConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out)

    def to_dict(self) -> dict:
        return asdict(self)
