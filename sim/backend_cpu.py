"""CPU physics backend: N MuJoCo worlds stepped with ``mujoco.rollout`` threads.

The backend owns flat state arrays and exposes them as torch tensors (views on
the numpy buffers, no copies): ``qpos`` (N, nq), ``qvel`` (N, nv),
``sensordata`` (N, nsensordata). Worlds may use different body models (one
per distinct body, same size signature). A world whose simulation blows up
(non-finite state, or MuJoCo's own bad-acceleration reset, seen as its time
jumping back) is flagged in ``unstable`` after the step; the environment
resets it and counts it.

``sensordata`` always describes the current state. ``mj_step`` evaluates the
sensors in its forward pass, before it integrates, so the sensor values a
rollout records after its last physics step belong to the state one step
(1/120 s) earlier; the step therefore recomputes the body-state sensors of
the new state (kinematics, com velocities, position and velocity sensors:
about 7 % of one physics step per world).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import mujoco
import numpy as np
import torch
from mujoco import rollout

from .backend import PhysicsBackend
from .floor_lift import state_floor_lift

STATE_SPEC = mujoco.mjtState.mjSTATE_TIME | mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_QVEL


def default_threads() -> int:
    """Threads sized to the machine (cores this process may use)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def torch_single_thread(enabled: bool = True) -> Iterator[None]:
    """Run torch on one thread inside the block (when ``enabled``), then restore its thread count.

    Beside ``mujoco.rollout``'s threads, torch's own pool costs more than it
    gives: the batched tensor ops of a step (64 envs) are too small to gain
    from a second thread, and its OpenMP workers keep spinning after each op,
    on the cores the physics threads need (measured on 2 cores: the env with
    the policy ran 1,940 env-steps/s with torch on 2 threads, 2,200 on one).
    The ``motionlib`` command also sets ``OMP_WAIT_POLICY=PASSIVE`` for the
    same reason (the training's PPO update keeps its threads).
    """
    if not enabled:
        yield
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


@dataclass
class CpuBackendConfig:
    threads: int | None = None  # None: every core
    max_qvel: float = 1e3  # |qvel| above this counts as a blow-up
    # On set_state, raise the root so that no geom starts inside the floor: a
    # reference whose toes dip a few cm into the ground would otherwise start
    # with a large contact impulse (ProtoMotions/PHC lift the reset state too).
    lift_clear_of_floor: bool = True


class CpuBackend(PhysicsBackend):
    name = "cpu"
    config_class = CpuBackendConfig
    # capabilities (sim.backend): host state, inactive worlds skipped, a few physics threads that
    # own the cores and release the GIL (a world more costs its physics)
    host_memory = skips_inactive_worlds = wants_single_thread_torch = parallel_lanes = True

    @staticmethod
    def default_config(device: str = "cpu", threads: int | None = None) -> CpuBackendConfig:
        """The configuration for ``threads`` physics threads (None: every core); ``device`` is unused."""
        return CpuBackendConfig(threads=threads)

    def __init__(self, models: list[mujoco.MjModel], model_of_env: np.ndarray, cfg: CpuBackendConfig = CpuBackendConfig()):
        self.cfg = cfg
        self.models = models
        self.model_of_env = np.asarray(model_of_env, dtype=np.int64)
        self.num_envs = len(self.model_of_env)
        m0 = models[0]
        for m in models[1:]:
            if (m.nq, m.nv, m.nu, m.nsensordata) != (m0.nq, m0.nv, m0.nu, m0.nsensordata):
                raise ValueError("all body models must share one size signature")
        self.nq, self.nv, self.nu, self.nsensor = m0.nq, m0.nv, m0.nu, m0.nsensordata
        self.timestep = float(m0.opt.timestep)
        self.threads = cfg.threads or default_threads()
        self._pool = rollout.Rollout(nthread=self.threads if self.threads > 1 else 0)
        self._datas = [mujoco.MjData(m0) for _ in range(max(1, self.threads))]
        self._env_models = [models[i] for i in self.model_of_env]
        self.nstate = mujoco.mj_stateSize(m0, STATE_SPEC)
        self._state = np.zeros((self.num_envs, self.nstate))
        self._sensor = np.zeros((self.num_envs, self.nsensor))
        self._ctrl = np.zeros((self.num_envs, 0, self.nu))
        self.qpos = torch.from_numpy(self._state[:, 1 : 1 + self.nq])
        self.qvel = torch.from_numpy(self._state[:, 1 + self.nq : 1 + self.nq + self.nv])
        self.sensordata = torch.from_numpy(self._sensor)
        self.unstable = torch.zeros(self.num_envs, dtype=torch.bool)
        self.blowups = 0
        self._scratch = [mujoco.MjData(m) for m in models]

    def set_state(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor,
                  lift: torch.Tensor | None = None) -> None:
        """Place worlds ``env_ids`` at (qpos, qvel) and refresh their sensors.

        ``lift`` (per env, metres): how far to raise the root so no geom starts
        in the floor (precomputed per reference frame, see :mod:`floor_lift`);
        None computes it here from contacts."""
        ids = torch.as_tensor(env_ids).cpu().numpy()
        self._state[ids, 0] = 0.0
        self._state[ids, 1 : 1 + self.nq] = qpos.detach().cpu().double().numpy()
        self._state[ids, 1 + self.nq : 1 + self.nq + self.nv] = qvel.detach().cpu().double().numpy()
        if self.cfg.lift_clear_of_floor and lift is not None:
            self._state[ids, 1 + 2] += lift.detach().cpu().double().numpy()
        if self.cfg.lift_clear_of_floor and lift is None:
            for i in ids:
                m, d = self._env_models[i], self._scratch[self.model_of_env[i]]
                self._state[i, 1 + 2] += state_floor_lift(m, d, self._state[i, 1 : 1 + self.nq])
        self._refresh_sensors(ids)

    def reset_where(self, mask: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor,
                    lift: torch.Tensor | None = None, model_ids: torch.Tensor | None = None) -> None:
        """Masked :meth:`set_state`: worlds where ``mask`` (N,) take rows of (N, ·) ``qpos``/``qvel``/``lift``
        and, if given, their body model from ``model_ids`` (N,)."""
        ids = torch.nonzero(mask.cpu()).flatten()
        if ids.numel():
            if model_ids is not None:
                new = model_ids.cpu()[ids].numpy()
                for i, b in zip(ids.tolist(), new.tolist()):
                    self.model_of_env[i] = b
                    self._env_models[i] = self.models[b]
            self.set_state(ids, qpos.cpu()[ids], qvel.cpu()[ids], None if lift is None else lift.cpu()[ids])

    def step(self, ctrl: torch.Tensor, substeps: int, active: torch.Tensor | None = None) -> None:
        """Hold ``ctrl`` (N, nu) for ``substeps`` physics steps in every world, or only in the
        worlds where ``active`` (N,) is set (the others keep their state and cost nothing); ``ctrl``
        (N, substeps, nu) gives each physics step its own targets."""
        if self._ctrl.shape[1] != substeps:
            self._ctrl = np.zeros((self.num_envs, substeps, self.nu))
            self._traj = np.zeros((self.num_envs, substeps, self.nstate))
            # the rollout writes every substep's sensor values too: into a kept buffer, not a new
            # array each step (they are one physics step old, see _refresh_sensors)
            self._traj_sensor = np.zeros((self.num_envs, substeps, self.nsensor))
        c = ctrl.detach().cpu().double().numpy()
        self._ctrl[:] = c[:, None, :] if c.ndim == 2 else c
        ids = np.arange(self.num_envs) if active is None else np.flatnonzero(active.detach().cpu().numpy())
        k = len(ids)
        bad = np.zeros(self.num_envs, dtype=bool)
        if k:
            state = self._state[ids]
            traj = self._traj[:k]
            t0 = state[:, 0].copy()
            self._pool.rollout([self._env_models[i] for i in ids], self._datas, state, self._ctrl[ids],
                               nstep=substeps, skip_checks=True, state=traj, sensordata=self._traj_sensor[:k])
            new_state = traj[:, -1]
            expected = t0 + substeps * self.timestep
            b = ~np.isfinite(new_state).all(axis=1)
            b |= np.abs(new_state[:, 0] - expected) > 0.5 * self.timestep  # MuJoCo reset itself
            b |= np.abs(new_state[:, 1 + self.nq :]).max(axis=1) > self.cfg.max_qvel
            if b.any():
                new_state[b] = np.nan_to_num(new_state[b], nan=0.0, posinf=0.0, neginf=0.0)
                self.blowups += int(b.sum())
            self._state[ids] = new_state
            self._refresh_sensors(ids)  # the rollout's own sensor values are one physics step old
            bad[ids] = b
        self.unstable.copy_(torch.from_numpy(bad))

    def _refresh_sensors(self, ids: np.ndarray) -> None:
        """Body-state sensors (positions, orientations, velocities) of the current state of worlds ``ids``."""
        for i in ids:
            m, d = self._env_models[i], self._scratch[self.model_of_env[i]]
            mujoco.mj_setState(m, d, self._state[i], STATE_SPEC)
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            mujoco.mj_comVel(m, d)
            mujoco.mj_sensorPos(m, d)
            mujoco.mj_sensorVel(m, d)
            self._sensor[i] = d.sensordata

    def close(self) -> None:
        self._pool.close()
