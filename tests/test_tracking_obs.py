"""The tracking observation and error terms (computed on component planes) against a slow,
independent per-env, per-body reference written with the numpy rotation functions."""

import numpy as np
import pytest
import torch

from motionlib.motion import rotations as R
from motionlib.sim.body_planes import NB, planes_from_packed, planes_from_sensors
from motionlib.sim.tracking_terms import observation, self_obs_dim, task_obs_dim, tracking_errors


def _random_states(rng, n):
    """(n, 24, 13) body states: positions, unit quaternions (wxyz), linear and angular velocities."""
    pos = rng.normal(size=(n, NB, 3)) + [0, 0, 1.0]
    q = R.quat_normalize(rng.normal(size=(n, NB, 4)))
    return np.concatenate([pos, q, rng.normal(size=(n, NB, 3)), rng.normal(size=(n, NB, 3))], -1)


def _sensordata(states):
    """The humanoid's sensor layout: pos 24x3 | quat 24x4 | linvel 24x3 | angvel 24x3, body-major."""
    n = states.shape[0]
    return np.concatenate([states[..., 0:3].reshape(n, -1), states[..., 3:7].reshape(n, -1),
                           states[..., 7:10].reshape(n, -1), states[..., 10:13].reshape(n, -1)], -1)


def _heading_inverse(root_q):
    fwd = R.quat_rotate(root_q, np.array([1.0, 0.0, 0.0]))
    return R.rot_z(-np.arctan2(fwd[1], fwd[0]))


def _six_d(m):
    return np.concatenate([m[:, 0], m[:, 1]])


def _reference_obs(sim, refs):
    """One env: ``sim`` (24, 13), ``refs`` list of (24, 13). The observation as the text defines it."""
    pos, q, lin, ang = sim[:, 0:3], sim[:, 3:7], sim[:, 7:10], sim[:, 10:13]
    h = _heading_inverse(q[0])
    out = [[pos[0, 2]]]
    out += [h @ (pos[b] - pos[0]) for b in range(1, NB)]
    out += [_six_d(h @ R.quat_to_matrix(q[b])) for b in range(NB)]
    out += [h @ lin[b] for b in range(NB)] + [h @ ang[b] for b in range(NB)]
    for r in refs:
        rpos, rq, rlin, rang = r[:, 0:3], r[:, 3:7], r[:, 7:10], r[:, 10:13]
        out += [h @ (rpos[b] - pos[b]) for b in range(NB)]
        out += [_six_d(h @ R.quat_to_matrix(rq[b]) @ R.quat_to_matrix(q[b]).T @ h.T) for b in range(NB)]
        out += [h @ (rpos[b] - pos[0]) for b in range(NB)]
        out += [h @ (rlin[b] - lin[b]) for b in range(NB)] + [h @ (rang[b] - ang[b]) for b in range(NB)]
    return np.concatenate([np.atleast_1d(x) for x in out])


def test_observation_matches_the_per_body_definition():
    rng = np.random.default_rng(3)
    n, k = 5, 2
    sim = _random_states(rng, n)
    refs = _random_states(rng, n * k).reshape(n, k, NB, 13)
    p = planes_from_sensors(torch.from_numpy(_sensordata(sim)))
    rp = planes_from_packed(torch.as_tensor(refs, dtype=torch.float32))
    obs = observation(p, rp).numpy()
    assert obs.shape == (n, self_obs_dim() + task_obs_dim(k))
    for i in range(n):
        want = _reference_obs(sim[i], list(refs[i]))
        np.testing.assert_allclose(obs[i], want, atol=2e-5, rtol=1e-5)


def test_errors_match_the_per_body_definition():
    rng = np.random.default_rng(4)
    n = 6
    sim, ref = _random_states(rng, n), _random_states(rng, n)
    ref[0] = sim[0]  # one env exactly on its reference
    p = planes_from_sensors(torch.from_numpy(_sensordata(sim)))
    r = planes_from_packed(torch.as_tensor(ref, dtype=torch.float32))
    err = {k: v.numpy() for k, v in tracking_errors(p, r).items()}
    dist = np.linalg.norm(sim[..., 0:3] - ref[..., 0:3], axis=-1)
    rel = R.quat_mul(ref[..., 3:7], R.quat_conj(sim[..., 3:7]))
    angle = 2 * np.arctan2(np.linalg.norm(rel[..., 1:], axis=-1), np.abs(rel[..., 0]))
    np.testing.assert_allclose(err["body_dist"], dist, atol=1e-5)
    np.testing.assert_allclose(err["pos_sq"], (dist**2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(err["rot_sq"], (angle**2).mean(-1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(err["vel_sq"], ((sim[..., 7:10] - ref[..., 7:10]) ** 2).sum(-1).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(err["angvel_sq"], ((sim[..., 10:13] - ref[..., 10:13]) ** 2).sum(-1).mean(-1),
                               rtol=1e-5)
    np.testing.assert_allclose(err["height_sq"], (sim[:, 0, 2] - ref[:, 0, 2]) ** 2, rtol=1e-4, atol=1e-7)
    assert err["body_dist"][0].max() == 0 and err["rot_sq"][0] < 1e-6


@pytest.mark.parametrize("yaw", [0.0, 1.0, -2.5])
def test_observation_is_invariant_to_heading_and_place(yaw):
    """Turning the whole scene about z and moving it on the ground leaves the observation unchanged
    (all but nothing: the root height is absolute and stays)."""
    rng = np.random.default_rng(5)
    sim = _random_states(rng, 2)
    refs = _random_states(rng, 2).reshape(2, 1, NB, 13)
    rz = R.rot_z(yaw)
    qz = R.matrix_to_quat(rz)

    def moved(s):
        s = s.copy()
        s[..., 0:3] = s[..., 0:3] @ rz.T + [3.0, -2.0, 0.0]
        s[..., 3:7] = R.quat_mul(np.broadcast_to(qz, s[..., 3:7].shape), s[..., 3:7])
        s[..., 7:10] = s[..., 7:10] @ rz.T
        s[..., 10:13] = s[..., 10:13] @ rz.T
        return s

    def obs(s, r):
        p = planes_from_sensors(torch.from_numpy(_sensordata(s)))
        rp = planes_from_packed(torch.as_tensor(r, dtype=torch.float32))
        return observation(p, rp).numpy()

    np.testing.assert_allclose(obs(moved(sim), moved(refs)), obs(sim, refs), atol=5e-5)


def test_stacked_quaternion_products_match_the_component_formulas():
    """body_planes' product maps (one outer product + one matmul) against motion.rotations' formulas:
    a * conj(b) with broadcasting, and the rotation columns of non-unit and zero quaternions."""
    from motionlib.sim.body_planes import columns01_stacked, mul_conj_stacked

    rng = np.random.default_rng(6)
    a = torch.as_tensor(rng.normal(size=(4, 5, 3, 24)), dtype=torch.float32)
    b = torch.as_tensor(rng.normal(size=(4, 5, 1, 24)), dtype=torch.float32)
    conj_b = (b[0], -b[1], -b[2], -b[3])
    want = torch.stack(R.quat_mul_parts(tuple(a), conj_b))
    torch.testing.assert_close(mul_conj_stacked(a, b), want, atol=1e-5, rtol=1e-5)

    q = a.clone()
    q[:, 0, 0, 0] = 0.0  # the zero quaternion gives the identity
    cols = R.quat_matrix_columns(tuple(q), 2)
    want = torch.stack([c for col in cols for c in col])
    got = columns01_stacked(q)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert got[:, 0, 0, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
