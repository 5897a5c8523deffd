"""Training configuration for the tracking policy (PPO through rl-games)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from motionlib.sim.humanoid import HumanoidConfig
from motionlib.sim.tracking_config import TrackingConfig


@dataclass
class PPOConfig:
    """rl-games a2c_continuous settings.

    Exploration noise is fixed (``learn_sigma=False`` freezes rl-games'
    state-independent log-std parameter, which its ``fixed_sigma`` option
    still trains): an earlier experiment saw late collapses with learned noise.
    With noise this small (std 0.05 rad of PD target) a constant 2e-4 learning
    rate moved the policy by a KL of 0.2-1.4 per minibatch pass (PPO runs
    usually sit near 0.01) and single-clip training stalled at ~21-step
    episodes; the adaptive schedule holds the KL at ``kl_threshold``."""

    units: tuple[int, ...] = (512, 256, 128)
    activation: str = "elu"
    sigma_init: float = -2.3  # fixed log-std: std 0.1 -> 0.05 rad of residual PD target noise (PHC: -2.9)
    learn_sigma: bool = False
    learning_rate: float = 2e-4  # initial rate; the adaptive schedule moves it (1e-6..1e-2)
    lr_schedule: str = "adaptive"  # "adaptive" (KL-driven, per epoch) or "constant"
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
class TrackerTrainConfig:
    """Everything a tracking-policy training run needs; written to ``OUT/config.json`` (``asdict``)."""

    clips: list[str] = field(default_factory=list)  # clip files / folders (motionlib .npz)
    eval_clips: list[str] = field(default_factory=list)  # defaults to the training clips
    out: str = "runs/tracker"
    max_env_steps: int = 2_000_000
    eval_every_epochs: int = 25
    eval_max_clips: int = 32
    # which validation is policy_best.pt (policies/selection.py): 0 = the highest success rate, then the lowest
    # G-MPJPE; > 0 = the lowest G-MPJPE among the validations within this of the highest success rate
    select_within: float = 0.0
    save_every_epochs: int = 10  # rl-games checkpoint interval (also written at the end)
    # curriculum: >0 starts on the first N clips and doubles the active set whenever
    # the training success rate of an epoch reaches curriculum_success
    curriculum_clips: int = 0
    curriculum_success: float = 0.8
    # sampling weights: "REGEX=W", the first REGEX found in a clip's file name sets its weight (default 1),
    # as if the clip were listed W times (e.g. "_(walk|walk-[a-z-]+|run|dash)_=3" for Bandai locomotion)
    clip_weights: list[str] = field(default_factory=list)
    resume: str | None = None  # rl-games checkpoint (.pth) to continue from
    # fine-tuning: start the actor (MLP, action head, observation normaliser) from an exported policy
    # (policy_best.pt, the shipped default); the value head is new and trains alone (the shared MLP
    # frozen) for critic_warmup_epochs, so a fresh critic's gradients never reach the actor
    init_policy: str | None = None
    critic_warmup_epochs: int = 0
    max_minutes: float | None = None  # wall-clock limit: training ends cleanly (checkpoint + evaluation) after it
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"  # where the env tensors, the physics (warp backend) and PPO run
    backend: str = "cpu"  # physics: "cpu" (mujoco.rollout threads) or "warp" (MuJoCo Warp)
    warp_graph: bool = True  # warp backend: replay captured (CUDA) graphs; False launches kernels eagerly
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    humanoid: HumanoidConfig = field(default_factory=HumanoidConfig)
    # the SMPL humanoid's joint armature in training's physics (and its validations), times ``humanoid``'s.
    # The policy file keeps ``humanoid`` and records the scale in its info: refine and evaluation run at
    # ``policies.refine.ARMATURE_SCALE`` (4) times the file's armature, so 4 trains in their physics
    armature_scale: float = 1.0
    ppo: PPOConfig = field(default_factory=PPOConfig)
    # the robot the policy drives (its description's name; the training gets its body from the caller,
    # the policy file records the name); None: the SMPL humanoid
    robot: str | None = None

    @property
    def run_dir(self) -> Path:
        return Path(self.out)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = ("cpu", "gpu")


def preset(name: str, **overrides) -> TrackerTrainConfig:
    """Named starting configurations; ``overrides`` replace TrackerTrainConfig fields.

    ``cpu``: the defaults (64 envs, MuJoCo rollout threads).
    ``gpu``: thousands of MuJoCo Warp worlds on one CUDA device. 4096 envs x
    32 steps = 131k samples per epoch in 4 minibatches of 32k (as large-batch
    GPU PPO setups run, e.g. IsaacGym humanoids); the same 5 mini-epochs and
    fixed exploration noise as on CPU. Epochs take about a second there, so
    the deterministic evaluation (CPU MuJoCo, all cores) runs every 100
    epochs (~13M env steps) instead of 25."""
    if name == "cpu":
        cfg = TrackerTrainConfig()
    elif name == "gpu":
        cfg = TrackerTrainConfig(device="cuda", backend="warp", max_env_steps=2_000_000_000, eval_every_epochs=100,
                                 save_every_epochs=50,
                                 tracking=TrackingConfig(num_envs=4096),
                                 ppo=PPOConfig(horizon_length=32, minibatches=4, mini_epochs=5))
    else:
        raise ValueError(f"unknown preset {name!r} (available: {', '.join(PRESETS)})")
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise ValueError(f"TrackerTrainConfig has no field {k!r}")
        setattr(cfg, k, v)
    return cfg
