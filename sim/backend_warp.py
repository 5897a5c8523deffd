"""MuJoCo Warp physics backend: N worlds batched on one device (CUDA or CPU).

Same interface as :class:`~motionlib.sim.backend_cpu.CpuBackend`. The state
lives in ``mujoco_warp`` Data arrays; ``qpos``/``qvel``/``sensordata`` are
zero-copy torch views of them (``wp.to_torch``), so the tracking code reads
and writes the simulator's memory directly. Everything a step does stays on
the device: control is written into ``d.ctrl``, ``substeps`` x ``mjw.step``
run as one captured graph (a CUDA graph on GPU), blow-ups are found and
cleaned in torch, and resets write rows with masked tensor ops, lift them
clear of the floor and refresh the reset worlds' sensors (kinematics +
velocities + sensor kernels over all worlds, kept only where reset). No
per-step host round trip.

Warp and torch issue work on different CUDA streams; each warp launch is
ordered after torch's pending work and torch after it with stream waits
(device-side events, the host never blocks).

Several body models (one MjModel per distinct skeleton, all of one
structure): the model fields in which the bodies differ (body and geom
positions, masses, inertias, sizes, ...) get one row per world
(``mjw.put_model(batch_sizes=...)``; warp's kernels read row ``worldid``),
filled from a per-body stack at construction and switched by
``reset_where(..., model_ids=...)`` with masked tensor ops, in place (the
captured graphs hold the arrays' pointers). Bodies that differ in structure,
or in a field warp keeps shared across worlds, raise a ValueError naming it.
With one model no field is batched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import mujoco
import numpy as np
import torch

from .backend import PhysicsBackend
from .floor_lift import CLEARANCE


@dataclass
class WarpBackendConfig:
    device: str = "cuda"  # "cuda", "cuda:K" or "cpu" (warp's CPU device: slow, for tests and parity)
    max_qvel: float = 1e3  # |qvel| above this counts as a blow-up
    lift_clear_of_floor: bool = True  # see sim.floor_lift
    # Contacts are pooled across worlds (nconmax x nworld in all). Measured on 64
    # worlds with random actions: 2.3 per world at most while training (early
    # termination), 12.7 with fallen, flailing bodies; 64 leaves ample room.
    nconmax: int = 64
    # Constraint rows per world (not pooled; 4 per pyramidal contact). Measured:
    # at most 61 while training; a fallen body flailing on the floor without
    # termination reached 732. Worlds past njmax are flagged unstable (reset
    # while training) and counted in ``overflows``.
    njmax: int = 320
    graph: bool = True  # capture the step / reset work in graphs (CUDA graphs on GPU)
    kernel_cache_dir: str | None = None  # None: $WARP_CACHE_PATH or warp's user cache


# Sizes that must agree between body models (differences in them are differences of structure).
_STRUCTURE = ("nq", "nv", "nu", "na", "nbody", "njnt", "ngeom", "nsite", "nsensor", "nsensordata", "neq",
              "nexclude", "npair", "ntendon", "nmesh", "nlight", "ncam")
# Fields that warp keeps shared across worlds but reads only under a feature: a difference in them is
# harmless while every model has that feature off (dof_length weighs velocities for sleeping only).
_READ_ONLY_WHEN = {"dof_length": lambda m: bool(m.opt.enableflags & mujoco.mjtEnableBit.mjENBL_SLEEP)}


def _batchable(field: dataclasses.Field) -> bool:
    """Whether warp gives Model field ``field`` a leading world dimension on request (spec ``("*", ...)``)."""
    return tuple(getattr(field.type, "shape", ()) or ())[:1] == ("*",)


def _values_differ(a, b) -> bool:
    """Whether two values of a warp Model field differ (arrays by shape and content, recursively)."""
    import warp as wp

    if isinstance(a, wp.array) or isinstance(b, wp.array):
        if not (isinstance(a, wp.array) and isinstance(b, wp.array)):
            return True
        x, y = a.numpy(), b.numpy()
        return x.shape != y.shape or not np.array_equal(x, y)
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (type(a) is not type(b) or len(a) != len(b)
                or any(_values_differ(x, y) for x, y in zip(a, b)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        return x.shape != y.shape or not np.array_equal(x, y)
    return bool(a != b)


def body_fields(models: list[mujoco.MjModel]) -> dict[str, np.ndarray]:
    """The warp Model fields in which the body models differ, each as a per-body stack (B, ...).

    Every model is put on warp's CPU device and compared field by field with
    the first (derived fields included). A field that differs is returned if
    warp batches it per world; the models are refused (ValueError naming the
    field and the model) if they differ in structure or in a field warp keeps
    shared. One model, or identical models: {}."""
    import warp as wp
    import mujoco_warp as mjw

    m0 = models[0]
    for i, m in enumerate(models[1:], 1):
        for name in _STRUCTURE:
            if getattr(m, name) != getattr(m0, name):
                raise ValueError(f"the warp backend batches body models of one structure: model {i} has "
                                 f"{name} = {getattr(m, name)}, model 0 {getattr(m0, name)}")
    if len(models) == 1:
        return {}
    with wp.ScopedDevice("cpu"):
        put = [mjw.put_model(m) for m in models]
    fields = dataclasses.fields(mjw.Model)
    out: dict[str, np.ndarray] = {}
    for i, wm in enumerate(put[1:], 1):
        for f in fields:
            a, b = getattr(put[0], f.name), getattr(wm, f.name)
            if dataclasses.is_dataclass(a) and not isinstance(a, type):  # opt, block_dim, callback
                for g in dataclasses.fields(a):
                    if _values_differ(getattr(a, g.name), getattr(b, g.name)):
                        raise ValueError(f"the warp backend cannot batch body models that differ in "
                                         f"{f.name}.{g.name} (model {i} against model 0)")
                continue
            if not _values_differ(a, b) or f.name in out:
                continue
            if getattr(a, "shape", None) != getattr(b, "shape", None):
                raise ValueError(f"the warp backend batches body models of one structure: model {i} has "
                                 f"{f.name} of shape {getattr(b, 'shape', None)}, model 0 {getattr(a, 'shape', None)}")
            if _batchable(f):
                out[f.name] = np.stack([p.numpy()[0] for p in (getattr(q, f.name) for q in put)])
            elif f.name in _READ_ONLY_WHEN and not any(_READ_ONLY_WHEN[f.name](m) for m in models):
                continue
            else:
                raise ValueError(f"the warp backend cannot batch body models that differ in {f.name} "
                                 f"(a field warp shares across worlds; model {i} against model 0)")
    return out


def _configure_warp(cfg: WarpBackendConfig):
    import warp as wp

    if cfg.kernel_cache_dir:
        wp.config.kernel_cache_dir = cfg.kernel_cache_dir
    wp.config.quiet = True
    wp.init()
    return wp


class WarpBackend(PhysicsBackend):
    name = "warp"
    config_class = WarpBackendConfig
    # capabilities (sim.backend): every world steps at once in one captured graph, so the worlds not
    # in use step too and a world more costs about nothing; torch keeps its threads; the state is in
    # device memory (in host memory on warp's CPU device: ``host_memory`` is set per instance)
    parallel_worlds = True

    @staticmethod
    def default_config(device: str = "cuda", threads: int | None = None) -> WarpBackendConfig:
        """The configuration on ``device``; ``threads`` is unused."""
        return WarpBackendConfig(device=device)

    def __init__(self, models: list[mujoco.MjModel], model_of_env: np.ndarray,
                 cfg: WarpBackendConfig = WarpBackendConfig()):
        model_of_env = np.asarray(model_of_env, dtype=np.int64)
        if len(model_of_env) and (model_of_env.min() < 0 or model_of_env.max() >= len(models)):
            raise ValueError(f"model_of_env must index the {len(models)} body models")
        wp = _configure_warp(cfg)
        import mujoco_warp as mjw

        self._wp, self._mjw = wp, mjw
        self.cfg = cfg
        m = models[0]
        self.models = models
        self.num_envs = n = len(model_of_env)
        self.nq, self.nv, self.nu, self.nsensor = m.nq, m.nv, m.nu, m.nsensordata
        self.timestep = float(m.opt.timestep)
        self.device = torch.device(cfg.device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.wp_device = wp.get_device(str(self.device))
        per_body = body_fields(models)  # {} for one model
        with wp.ScopedDevice(self.wp_device):
            self.m = mjw.put_model(m, batch_sizes={name: n for name in per_body} or None)
            self.m.opt.warn_overflow = 0  # counted per world below instead of printed from kernels
            if self.wp_device.is_cuda:  # solver loop as a conditional graph node needs a CUDA 12.4+ driver
                self.m.opt.graph_conditional = bool(wp.is_conditional_graph_supported())
            self.d = mjw.make_data(m, nworld=n, nconmax=cfg.nconmax, njmax=cfg.njmax)
        d = self.d
        self.qpos = wp.to_torch(d.qpos)
        self.qvel = wp.to_torch(d.qvel)
        self.sensordata = wp.to_torch(d.sensordata)
        self._ctrl = wp.to_torch(d.ctrl)
        self._time = wp.to_torch(d.time)
        self._warmstart = wp.to_torch(d.qacc_warmstart)
        self._overflow = wp.to_torch(d.overflow)
        self._nacon = wp.to_torch(d.nacon)
        self._con_dist = wp.to_torch(d.contact.dist)
        self._con_geom = wp.to_torch(d.contact.geom)  # (naconmax, 2) int32
        self._con_world = wp.to_torch(d.contact.worldid)
        self._floor_geom = torch.as_tensor(m.geom_bodyid == 0, device=self.device)
        self._nefc_overflow = int(mjw.OverflowType.NEFC)
        self.unstable = torch.zeros(n, dtype=torch.bool, device=self.device)
        self.blowups = torch.zeros((), dtype=torch.long, device=self.device)
        self.overflows = torch.zeros((), dtype=torch.long, device=self.device)  # world-steps with a solver/contact overflow
        if per_body:  # the model's copies to the device are done before torch writes its rows
            wp.synchronize_device(self.wp_device)
        # several bodies: each batched field's (N, ...) rows (views of the model arrays) and its (B, ...) values
        self._body_rows = {name: wp.to_torch(getattr(self.m, name)) for name in per_body}
        self._body_values = {name: torch.as_tensor(v, device=self.device).to(self._body_rows[name].dtype)
                             for name, v in per_body.items()}
        self.model_of_env = torch.as_tensor(model_of_env, device=self.device).long()
        self._switch_bodies(torch.ones(n, dtype=torch.bool, device=self.device), self.model_of_env)
        self._graphs: dict = {}
        self._ctrl_seqs: dict = {}  # substeps -> (substeps, N, nu) per-substep targets (step)
        self._streams: dict = {}
        self._cuda = self.device.type == "cuda"
        # warp's CPU device keeps the state in host memory: reading it back costs nothing there
        self.host_memory = not self._cuda

    # ------------------------------------------------------------ launching
    def _run(self, key, fn: Callable[[], None]) -> None:
        """Run warp work ``fn`` after torch's queued work (and torch after it).

        The first call of each ``key`` runs eagerly (compiling its kernels)
        and, with ``cfg.graph``, then records ``fn`` into a graph that later
        calls replay."""
        wp = self._wp
        torch_stream = warp_stream = None
        if self._cuda:
            torch_stream = self._torch_stream()
            warp_stream = wp.get_stream(self.wp_device)
            warp_stream.wait_stream(torch_stream)
        with wp.ScopedDevice(self.wp_device):
            graph = self._graphs.get(key)
            if graph is not None and graph is not False:
                wp.capture_launch(graph)
            elif graph is None and self.cfg.graph:
                fn()
                self._graphs[key] = self._capture(fn)
            else:
                fn()
        if self._cuda:
            torch_stream.wait_stream(warp_stream)

    def _torch_stream(self):
        """Torch's current CUDA stream as a warp stream (wrapped once per stream, with its event)."""
        ts = torch.cuda.current_stream(self.device)
        cached = self._streams.get(ts.cuda_stream)
        if cached is None:
            cached = self._streams[ts.cuda_stream] = self._wp.stream_from_torch(ts)
        return cached

    def _capture(self, fn: Callable[[], None]):
        """Record ``fn`` into a graph (False, i.e. eager from now on, if capture fails)."""
        wp = self._wp
        try:
            # fn ran eagerly just before, so every module it launches is loaded already
            with wp.ScopedCapture(device=self.wp_device, force_module_load=False) as cap:
                fn()
            return cap.graph
        except Exception as e:  # noqa: BLE001 - older drivers: keep running eagerly
            print(f"[warp backend] graph capture failed ({type(e).__name__}: {e}); running eagerly")
            return False

    # ----------------------------------------------------------------- state
    def set_state(self, env_ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor,
                  lift: torch.Tensor | None = None) -> None:
        """Place worlds ``env_ids`` at (qpos, qvel) and refresh their sensors (see CpuBackend)."""
        ids = torch.as_tensor(env_ids, device=self.device).long()
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        mask[ids] = True
        self.qpos[ids] = qpos.to(self.device, torch.float32)
        self.qvel[ids] = qvel.to(self.device, torch.float32)
        full_lift = None
        if lift is not None:
            full_lift = torch.zeros(self.num_envs, device=self.device)
            full_lift[ids] = lift.to(self.device, torch.float32)
        self._after_reset(mask, full_lift)

    def reset_where(self, mask: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor,
                    lift: torch.Tensor | None = None, model_ids: torch.Tensor | None = None) -> None:
        """Masked :meth:`set_state`: worlds where ``mask`` (N,) take rows of (N, ·) ``qpos``/``qvel``/``lift``
        and, if given, their body model from ``model_ids`` (N,) (before their state is placed)."""
        mask = mask.to(self.device)
        if model_ids is not None:
            self._switch_bodies(mask, model_ids.to(self.device).long())
        m2 = mask[:, None]
        self.qpos.copy_(torch.where(m2, qpos.to(self.device, torch.float32), self.qpos))
        self.qvel.copy_(torch.where(m2, qvel.to(self.device, torch.float32), self.qvel))
        self._after_reset(mask, None if lift is None else lift.to(self.device, torch.float32))

    def _switch_bodies(self, mask: torch.Tensor, model_ids: torch.Tensor) -> None:
        """Worlds where ``mask`` (N,) take body model ``model_ids`` (N,): their rows of the batched
        model fields are overwritten in place with that body's values (masked ops, no host sync)."""
        if not self._body_rows:
            return
        self.model_of_env.copy_(torch.where(mask, model_ids, self.model_of_env))
        for name, rows in self._body_rows.items():
            new = self._body_values[name].index_select(0, self.model_of_env)
            rows.copy_(torch.where(mask.view(-1, *(1,) * (rows.dim() - 1)), new, rows))

    def _after_reset(self, mask: torch.Tensor, lift: torch.Tensor | None) -> None:
        zero = torch.zeros((), device=self.device)
        self._time.copy_(torch.where(mask, zero, self._time))
        self._warmstart.copy_(torch.where(mask[:, None], zero, self._warmstart))
        self._overflow.copy_(torch.where(mask, torch.zeros_like(self._overflow), self._overflow))
        if self.cfg.lift_clear_of_floor:
            if lift is None:
                lift = self._contact_lift()
            self.qpos[:, 2] += torch.where(mask, lift, zero)
        before = self.sensordata.clone()
        self._run("refresh", self._refresh_sensors)
        self.sensordata.copy_(torch.where(mask[:, None], self.sensordata, before))

    def _refresh_sensors(self) -> None:
        """Body-state sensors of the current qpos/qvel (what mj_forward would give them)."""
        mjw = self._mjw
        mjw.fwd_kinematics(self.m, self.d)
        mjw.com_vel(self.m, self.d)
        mjw.sensor_pos(self.m, self.d)
        mjw.sensor_vel(self.m, self.d)

    def _collide(self) -> None:
        self._mjw.kinematics(self.m, self.d)
        self._mjw.collision(self.m, self.d)

    def _contact_lift(self) -> torch.Tensor:
        """Per-world lift of the current qpos (as floor_lift.state_floor_lift), from a collision pass (N,)."""
        self._run("collide", self._collide)
        k = torch.arange(self._con_dist.shape[0], device=self.device)
        g = self._con_geom.long().clamp(0, self._floor_geom.numel() - 1)  # slots past nacon hold stale ids
        valid = (k < self._nacon[0]) & (self._floor_geom[g[:, 0]] | self._floor_geom[g[:, 1]])
        depth = torch.where(valid, torch.clamp(-self._con_dist, min=0.0), torch.zeros((), device=self.device))
        world = torch.where(valid, self._con_world.long(), torch.zeros_like(k)).clamp(0, self.num_envs - 1)
        out = torch.zeros(self.num_envs, device=self.device)
        depth = out.scatter_reduce(0, world, depth, reduce="amax", include_self=True)
        return torch.where(depth > 0.0, depth + CLEARANCE, depth)

    # ------------------------------------------------------------------ step
    def step(self, ctrl: torch.Tensor, substeps: int, active: torch.Tensor | None = None) -> None:
        """Hold ``ctrl`` (N, nu) for ``substeps`` physics steps in every world; ``ctrl`` (N, substeps,
        nu) gives each physics step its own targets. ``active`` is accepted for the CPU backend's
        interface and ignored: on the device every world steps in parallel, and skipping some would
        break the captured graph."""
        per_substep = ctrl.dim() == 3
        if per_substep:  # a (substeps, N, nu) device buffer, copied into the controls before each step
            seq = self._ctrl_seqs.get(substeps)
            if seq is None:
                seq = self._ctrl_seqs[substeps] = self._wp.zeros((substeps, self.num_envs, self.nu),
                                                                  dtype=self._wp.float32, device=self.wp_device)
            self._wp.to_torch(seq).copy_(ctrl.to(self.device, torch.float32).transpose(0, 1))
        else:
            self._ctrl.copy_(ctrl.to(self.device, torch.float32))

        def physics():
            for k in range(substeps):
                if per_substep:
                    self._wp.copy(self.d.ctrl, seq[k])
                self._mjw.step(self.m, self.d)
            self._refresh_sensors()  # step's sensors are from before its integration (see backend_cpu)

        self._run(("step", substeps, per_substep), physics)
        q, v, s = self.qpos, self.qvel, self.sensordata
        bad = ~(torch.isfinite(q).all(1) & torch.isfinite(v).all(1) & torch.isfinite(s).all(1))
        bad |= torch.nan_to_num(v, nan=0.0).abs().amax(1) > self.cfg.max_qvel
        over = self._overflow != 0
        bad |= (self._overflow & self._nefc_overflow) != 0  # dropped constraints: physics no longer valid
        self.overflows += over.sum()
        self._overflow.zero_()
        b2 = bad[:, None]
        for x in (q, v, s, self._warmstart):
            x.copy_(torch.where(b2, torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), x))
        self.blowups += bad.sum()
        self.unstable.copy_(bad)

    def close(self) -> None:
        self._graphs.clear()

