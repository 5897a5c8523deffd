"""Self-collision avoidance that also separates geoms that already penetrate.

mink's ``CollisionAvoidanceLimit`` bounds how far each geom pair within its detection distance may
approach in one IK step (its bound is ``gain (d - d_min) / dt`` on the step's displacement ``J dq``), and
for pairs closer than ``d_min`` it only forbids coming closer (bound 0). Retargeting follows a human whose hands can pass through the robot's (convex
hull) torso, and a step of the linearised limit can still end a few millimetres inside a hull; with the
bound 0 such a pair then stays inside for the rest of the clip (measured: a G1 wave held its shoulder
7 mm inside the torso for every frame). Here the bound is ``gain (d - d_min)`` on the step's
displacement at every distance: a pair closes at most ``gain`` of its gap per step, and a penetrating
pair must move apart by ``gain (d_min - d)`` in the step. A frame where that is infeasible with the other
limits is solved without this limit (``retarget.ik`` counts such frames).
"""

from __future__ import annotations

import mujoco
import numpy as np
from mink import CollisionAvoidanceLimit
from mink.limits.collision_avoidance_limit import compute_contact_normal_jacobian
from mink.limits.limit import Constraint


class SeparatingCollisionLimit(CollisionAvoidanceLimit):
    def compute_qp_inequalities(self, configuration, dt: float) -> Constraint:
        model, data = self.model, configuration.data
        n = self.max_num_contacts
        h = np.full(n, np.inf)
        G = np.zeros((n, model.nv))
        fromto, normal = self._fromto, self._normal
        distmax = self.collision_detection_distance
        if self.broadphase and n >= self.broadphase_min_pairs:
            indices = self._broadphase_survivors(data)
        else:
            indices = range(n)
        for i in indices:
            g1, g2 = self.geom_id_pairs[i]
            dist = mujoco.mj_geomDistance(model, data, g1, g2, distmax, fromto)
            if abs(dist - distmax) < 1e-12:
                continue  # farther than the detection distance
            row = compute_contact_normal_jacobian(model, data, g1, g2, fromto, normal, self._jac1, self._jac2)
            # G[i] . dq: how fast the pair approaches along the contact normal (the normal of mj_geomDistance
            # flips inside a penetration, hence the sign, as in mink's own limit)
            G[i] = (-1.0 if dist >= 0 else 1.0) * row
            h[i] = self.gain * (dist - self.minimum_distance_from_collisions)
        return Constraint(G=G, h=h)
