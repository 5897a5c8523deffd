"""How low each body part reaches: the humanoid's collision primitives, posed.

PhysDiff (Yuan et al., ICCV 2023) measures penetration and floating on the
lowest vertex of the body mesh. Without the licensed SMPL mesh, the closest
stand-in is the shape the simulator itself collides with: one primitive per
SMPL joint (boxes for pelvis, feet, toes, head and hands, capsules for the
limbs and trunk), from the shipped ``smpl_neutral_humanoid.json`` (the same
file ``sim.humanoid`` builds the MJCF from), scaled with the body.

Posed with the clip's global joint rotations, a primitive's lowest point
follows the orientation of the part: a foot on its toes has its box's front
edge on the floor while the ankle joint is high. The level-sole proxy
``metrics.sole_heights`` (joint height minus a fixed offset) reads such a foot
as lifted by the height of the tilt; on a physics-refined clip of the
bundled walk that was 18.5 mm on average.

Frames: the JSON gives primitives in the simulator's body frame (x fwd, y left,
z up); a clip's global joint rotation ``R_j`` acts on SMPL's body frame, and the
simulator body frame is ``R_j @ SMPL_TO_ZUP.T`` (see ``sim.smpl_state``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import rotations as R
from .skeleton import NUM_JOINTS, SMPL_TO_ZUP, reference_humanoid


@lru_cache(maxsize=1)
def _primitives() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean-body primitives in SMPL body frames: box mask (24,), box centres (24, 3), box axes
    scaled by the half sizes (24, 3, 3) (columns), capsule ends (24, 2, 3) and radii (24,)."""
    is_box = np.zeros(NUM_JOINTS, dtype=bool)
    centre = np.zeros((NUM_JOINTS, 3))
    half_axes = np.zeros((NUM_JOINTS, 3, 3))
    ends = np.zeros((NUM_JOINTS, 2, 3))
    radius = np.zeros(NUM_JOINTS)
    to_smpl = SMPL_TO_ZUP.T  # simulator body frame -> SMPL body frame
    for info in reference_humanoid()["joints"]:
        j, g = int(info["smpl_index"]), info["geom"]
        if g["type"] == "box":
            rot = R.quat_to_matrix(np.asarray(g.get("quat", [1.0, 0.0, 0.0, 0.0]), dtype=np.float64))  # wxyz
            is_box[j] = True
            centre[j] = to_smpl @ np.asarray(g["pos"], dtype=np.float64)
            half_axes[j] = to_smpl @ rot * np.asarray(g["size"], dtype=np.float64)[None, :]
        elif g["type"] == "capsule":
            ends[j] = np.asarray(g["fromto"], dtype=np.float64).reshape(2, 3) @ to_smpl.T
            radius[j] = float(g["size"][0])
        else:
            raise ValueError(f"unsupported collision primitive {g['type']!r} for joint {info['name']}")
    return is_box, centre, half_axes, ends, radius


def lowest_points(pos: np.ndarray, glob: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(T, 24) height of the lowest point of each body part's primitive.

    ``pos`` (T, 24, 3) global joint positions and ``glob`` (T, 24, 3, 3) global joint rotations
    (``Motion.joints()``), z-up metres; ``scale``: body scale against the mean body."""
    is_box, centre, half_axes, ends, radius = _primitives()
    rz = glob[..., 2, :]  # (T, 24, 3): world z of each SMPL body axis
    # box: centre height minus the half sizes projected on the vertical
    box = pos[..., 2] + scale * (np.einsum("tjk,jk->tj", rz, centre)
                                 - np.abs(np.einsum("tjk,jkl->tjl", rz, half_axes)).sum(-1))
    # capsule: the lower end's height minus the radius
    cap = pos[..., 2] + scale * (np.einsum("tjk,jek->tje", rz, ends).min(-1) - radius)
    return np.where(is_box, box, cap)


def box_corners(pos: np.ndarray, glob: np.ndarray, joints, scale: float = 1.0) -> np.ndarray:
    """(T, 8 * len(joints), 3) world corners of the box primitives of ``joints`` (e.g. the feet and toes),
    posed like :func:`lowest_points` (``pos`` (T, 24, 3), ``glob`` (T, 24, 3, 3))."""
    is_box, centre, half_axes, _, _ = _primitives()
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    out = []
    for j in joints:
        if not is_box[j]:
            raise ValueError(f"joint {j} has no box primitive")
        local = centre[j][None] + signs @ half_axes[j].T  # (8, 3) in the joint's frame
        out.append(pos[:, j, None] + scale * np.einsum("tkl,pl->tpk", glob[:, j], local))
    return np.concatenate(out, axis=1)


def upright_drops() -> np.ndarray:
    """(24,) how far below each joint its primitive reaches with the mean body upright in the rest
    pose (every global rotation ``SMPL_TO_ZUP``): for the feet, the level-sole offsets of
    ``metrics.sole_heights`` (ankle box bottom 70 mm, toe box bottom 14.5 mm below the joint)."""
    rest = np.broadcast_to(SMPL_TO_ZUP, (1, NUM_JOINTS, 3, 3))
    return -lowest_points(np.zeros((1, NUM_JOINTS, 3)), rest)[0]
