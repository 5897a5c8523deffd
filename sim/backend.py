"""What every physics backend offers the tracking environment: the interface and its capabilities.

A backend steps N worlds (one body model each, from a list of models of one size signature) and exposes
flat state tensors: ``qpos`` (N, nq), ``qvel`` (N, nv), ``sensordata`` (N, nsensordata) and ``unstable``
(N,) bool after a step. ``reset_where(mask, qpos, qvel, lift, model_ids)`` puts the masked worlds in a
new state, ``step(target, substeps, active=None)`` advances every world (or the ``active`` ones) one
control period under PD targets (``target`` (N, nu) held for the ``substeps`` physics steps, or (N,
substeps, nu): one target per physics step), ``close()`` frees it.

The environment and the rollouts ask a backend what it can do through the capability attributes below,
never through its name. The defaults describe the most restrictive backend; each backend sets the ones
it has.
"""

from __future__ import annotations


class PhysicsBackend:
    name = "?"
    config_class: type = object
    # the state lives in host memory, so reading values back costs nothing (the environment computes
    # floor lifts lazily and skips a reset with nothing to restart)
    host_memory = False
    # a step leaves the worlds not in use alone, at no cost
    skips_inactive_worlds = False
    # every world steps at once (one kernel launch): a world more costs about nothing
    parallel_worlds = False
    # the physics threads own the cores: torch runs on one thread meanwhile (torch_single_thread)
    wants_single_thread_torch = False
    # the physics releases the GIL: environments side by side on Python threads overlap their physics
    # with each other's torch work
    parallel_lanes = False

    @staticmethod
    def default_config(device: str = "cpu", threads: int | None = None):
        """This backend's configuration for ``device`` and ``threads`` physics threads."""
        raise NotImplementedError
