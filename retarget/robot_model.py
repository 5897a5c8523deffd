"""A robot's MuJoCo model with what retargeting measures on it: sole points, lowest point, self-collision.

* **sole points** of a foot: the points of its collision geometry within ``SOLE_BAND_M`` of the foot's
  lowest point in the robot's zero pose (sphere bottoms, or the bottom vertices of a mesh hull), kept in
  the foot body's frame. Their world heights say whether a foot touches the floor and how far it is in
  or above it; grounding and the feet metrics use them.
* the **lowest point** of the whole robot: the lowest vertex of any collision geom (meshes as MuJoCo
  collides them, i.e. their hulls; spheres, capsules and boxes by their extents).
* **self-collision**: MuJoCo's own contacts between the robot's geoms (parent-child pairs excluded, as in
  simulation) that penetrate deeper than ``SELF_CONTACT_TOL_M``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .description import RobotDescription

SOLE_BAND_M = 0.004
SELF_CONTACT_TOL_M = 0.002


@dataclass
class SolePoints:
    body: int  # body id
    local: np.ndarray  # (P, 3) in the body frame
    radius: np.ndarray  # (P,) a sphere's radius (0 for mesh vertices)


class RobotModel:
    """The description's model, its qpos layout and its geometry queries."""

    def __init__(self, desc: RobotDescription) -> None:
        import mujoco

        self.desc = desc
        self.model = desc.model()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.root_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, desc.root_body)
        free = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        if len(free) != 1 or m.jnt_bodyid[free[0]] != self.root_id:
            raise ValueError(f"{desc.mjcf}: the root body {desc.root_body!r} must carry the model's one free joint")
        self.root_qpos = int(m.jnt_qposadr[free[0]])
        self.joint_qpos = np.array([m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n)]
                                    for n in desc.joint_names])
        self.joint_dof = np.array([m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n)]
                                   for n in desc.joint_names])
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in desc.joint_names]
        self.joint_range = np.array([m.jnt_range[j] if m.jnt_limited[j] else (-np.inf, np.inf) for j in jids])
        self.body_names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in range(1, m.nbody)]
        self.collision_geoms = np.array([g for g in range(m.ngeom) if m.geom_contype[g] or m.geom_conaffinity[g]])
        self.feet = {side: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b) for side, b in desc.feet.items()}
        self.qpos_zero = m.qpos0.copy()
        self.set_qpos(self.qpos_zero)
        self.soles = {side: self._sole_points(b) for side, b in self.feet.items()}

    # ----------------------------------------------------------- kinematics
    def set_qpos(self, q: np.ndarray) -> None:
        import mujoco

        self.data.qpos[:] = q
        mujoco.mj_kinematics(self.model, self.data)

    def _geom_points(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """World points and radii standing for geom ``g``'s lower surface."""
        import mujoco

        m, d = self.model, self.data
        t = m.geom_type[g]
        if t == mujoco.mjtGeom.mjGEOM_MESH:
            mid = m.geom_dataid[g]
            v = m.mesh_vert[m.mesh_vertadr[mid]:m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
            return v @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g], np.zeros(len(v))
        if t == mujoco.mjtGeom.mjGEOM_SPHERE:
            return d.geom_xpos[g][None], np.array([m.geom_size[g, 0]])
        if t == mujoco.mjtGeom.mjGEOM_CAPSULE:
            axis = d.geom_xmat[g].reshape(3, 3)[:, 2] * m.geom_size[g, 1]
            return np.stack([d.geom_xpos[g] - axis, d.geom_xpos[g] + axis]), np.full(2, m.geom_size[g, 0])
        # boxes, cylinders, ellipsoids: the corners of their bounding box
        half = m.geom_size[g] if t == mujoco.mjtGeom.mjGEOM_BOX else m.geom_size[g][[0, 0, 1]] if \
            t == mujoco.mjtGeom.mjGEOM_CYLINDER else m.geom_size[g]
        corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half
        return corners @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g], np.zeros(8)

    def _sole_points(self, body: int) -> SolePoints:
        pts, rad = [], []
        for g in self.collision_geoms:
            if self.model.geom_bodyid[g] == body:
                p, r = self._geom_points(int(g))
                pts.append(p)
                rad.append(r)
        if not pts:
            raise ValueError(f"{self.desc.path}: foot body {self.body_name(body)!r} has no collision geometry")
        p, r = np.concatenate(pts), np.concatenate(rad)
        low = p[:, 2] - r
        keep = low <= low.min() + SOLE_BAND_M
        R = self.data.xmat[body].reshape(3, 3)
        local = (p[keep] - self.data.xpos[body]) @ R
        return SolePoints(body=body, local=local, radius=r[keep])

    def body_name(self, b: int) -> str:
        import mujoco

        return mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_BODY, b)

    # ----------------------------------------------------------- queries (on the current qpos)
    def sole_world(self, side: str) -> np.ndarray:
        """(P, 3) world positions of a foot's sole points, lowered by their radii."""
        s = self.soles[side]
        p = self.data.xpos[s.body] + s.local @ self.data.xmat[s.body].reshape(3, 3).T
        p[:, 2] -= s.radius
        return p

    def lowest_sole(self) -> float:
        return float(min(self.sole_world(s)[:, 2].min() for s in self.soles))

    def lowest_point(self) -> float:
        """The lowest point of every collision geom, in metres above the floor."""
        return float(min((p[:, 2] - r).min() for p, r in (self._geom_points(int(g)) for g in self.collision_geoms)))

    def self_contacts(self) -> int:
        """Number of penetrating contacts between the robot's own geoms."""
        import mujoco

        mujoco.mj_collision(self.model, self.data)
        d = self.data
        return int(sum(1 for i in range(d.ncon) if d.contact[i].dist < -SELF_CONTACT_TOL_M))

    def foot_rest_height(self, side: str) -> float:
        """Height of a foot body's origin above its sole points in the zero pose (foot flat on the floor)."""
        s = self.soles[side]
        return float(-(s.local[:, 2] - s.radius).min())

    def collision_geoms_of(self, bodies: list[str]) -> list[int]:
        import mujoco

        ids = {mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, b) for b in bodies}
        return [int(g) for g in self.collision_geoms if self.model.geom_bodyid[g] in ids]
