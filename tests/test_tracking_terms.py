"""Reward and observation terms by name: the tables, the fused paths built from them, and the
figures of the fused reward against values recorded before the terms were named (the per-term
code of ``tracking_reward``/``reward_coefficients``, same env, same steps)."""

import numpy as np
import pytest
import torch

from conftest import SAMPLES
from motionlib.sim.body_planes import NB, planes_from_packed
from motionlib.sim.observation_terms import SMPL_OBSERVATION, ObservationLayout, ObsTerm
from motionlib.sim.reward_terms import SMPL_REWARDS, FusedReward, RewardTerm, StepInputs
from motionlib.sim.term_sets import term_set
from motionlib.sim.tracking_config import RewardConfig, TrackingConfig
from motionlib.sim.tracking_terms import observation, self_obs_dim, task_obs_dim

# The walking sample, the shipped policy plus uniform noise of 0.3 (torch generator seed 0), 4 envs
# from sampled starts (seed 0; env 0 is lost at the third step and restarted from the sampler),
# feet_slip_coef 0.5: per step, the reward of each env and the mean of each term, recorded with the
# reward computed term by term in code (before the table).
TERMS = ('r_pos', 'r_rot', 'r_vel', 'r_angvel', 'r_height', 'p_power', 'p_action_rate', 'p_feet_slip')
REWARDS = [
    [0.9169302582740784, 0.9131680727005005, 0.10035717487335205, 0.7733247876167297],
    [0.0, 0.8202334642410278, 0.5075531601905823, 0.872244119644165],
    [0.0, 0.7616638541221619, 0.48773303627967834, 0.8179492354393005],
    [0.875275731086731, 0.6982478499412537, 0.47832903265953064, 0.8120266199111938],
    [0.8359085917472839, 0.7669781446456909, 0.3879304826259613, 0.6491889357566833],
    [0.7882563471794128, 0.7564763426780701, 0.42927655577659607, 0.7972787618637085],
    [0.8137251734733582, 0.6324220895767212, 0.40656358003616333, 0.8241227269172668],
    [0.7370805740356445, 0.5215586423873901, 0.4051356315612793, 0.5698670148849487],
]
TERM_MEANS = [
    [0.4365089237689972, 0.22798778116703033, 0.09636630862951279, 0.04480411484837532,
     0.09912462532520294, -0.07974104583263397, -0.0003370868507772684, -0.1487685889005661],
    [0.40377700328826904, 0.2099173367023468, 0.09169289469718933, 0.03169989958405495,
     0.098650261759758, -0.0905042290687561, -0.0006451481021940708, -0.26642683148384094],
    [0.3299565315246582, 0.18969371914863586, 0.08900576084852219, 0.030252888798713684,
     0.09614114463329315, -0.08880467712879181, -0.000730381696484983, -1.1941618919372559],
    [0.38604095578193665, 0.20420749485492706, 0.09742004424333572, 0.03752422332763672,
     0.09546534717082977, -0.08444312959909439, -0.0006298013031482697, -0.01961531862616539],
    [0.3822357654571533, 0.20780770480632782, 0.09582148492336273, 0.025207147002220154,
     0.0959220826625824, -0.08701618015766144, -0.0007279946585185826, -0.05924851447343826],
    [0.379523903131485, 0.20030361413955688, 0.09570163488388062, 0.044957395642995834,
     0.09806444495916367, -0.08841735124588013, -0.0006547090597450733, -0.036656904965639114],
    [0.36445191502571106, 0.2028440237045288, 0.09505222737789154, 0.029283691197633743,
     0.0968737006187439, -0.0911872610449791, -0.0006673713796772063, -0.027442533522844315],
    [0.3479299247264862, 0.18557067215442657, 0.09624408185482025, 0.02619960531592369,
     0.09567572176456451, -0.08476583659648895, -0.0006269880686886609, -0.10781669616699219],
]


def test_rewards_match_the_values_recorded_before_the_table():
    from motionlib.motion.ingest.bvh_fit import bvh_to_motion
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.default import default_policy_path
    from motionlib.sim.tracking_env import TrackingEnv

    policy = TrackingPolicy.load(default_policy_path())
    clip = bvh_to_motion(SAMPLES / "dataset-1_walk_normal_001.bvh").resample(policy.tracking.control_fps)
    cfg = TrackingConfig(**{**policy.tracking.__dict__, "num_envs": 4, "seed": 0,
                            "reward": RewardConfig(feet_slip_coef=0.5)})
    env = TrackingEnv([clip], cfg, policy.humanoid)
    # the body-jerk term came after these values were recorded; at its default weight 0 it adds nothing
    assert env.reward_terms == (*TERMS, "p_body_jerk")
    obs = env.reset()
    gen = torch.Generator().manual_seed(0)
    for want_reward, want_terms in zip(REWARDS, TERM_MEANS):
        a = policy.act(obs) + 0.3 * (torch.rand(4, env.num_actions, generator=gen) * 2 - 1)
        res = env.step(a)
        obs = res.obs
        np.testing.assert_allclose(res.reward.numpy(), want_reward, rtol=1e-5, atol=1e-6)
        got = [float(res.info["terms"][k]) for k in TERMS]
        np.testing.assert_allclose(got, want_terms, rtol=1e-5, atol=1e-6)
        assert float(res.info["terms"]["p_body_jerk"]) == 0.0
    env.close()


def _step_inputs(n=5, seed=0):
    """StepInputs with random tracking errors and no env (terms that read only ``err``)."""
    g = torch.Generator().manual_seed(seed)
    err = {k: torch.rand(n, generator=g) for k in ("pos_sq", "rot_sq", "vel_sq", "angvel_sq", "height_sq")}
    return StepInputs(None, None, err, None, None, None, None)


def test_the_fused_reward_is_the_sum_of_its_weighted_terms():
    cfg = RewardConfig(w_pos=0.7, k_pos=50.0, clip_min=-10.0)
    s = _step_inputs()
    twice_rot = lambda x: 2.0 * x.err["rot_sq"]  # noqa: E731
    table = (  # a penalty listed before a kernel term, a constant weight, a constant kernel scale
        RewardTerm("p_rot", twice_rot, weight=0.25, penalty=True),
        RewardTerm("r_pos", SMPL_REWARDS[0].fn, weight="w_pos", kernel="k_pos"),
        RewardTerm("r_vel", SMPL_REWARDS[2].fn, weight=0.1, kernel=3.0),
    )
    reward, terms = FusedReward(table, cfg)(s)
    want = torch.stack([-0.25 * 2.0 * s.err["rot_sq"], 0.7 * torch.exp(-50.0 * s.err["pos_sq"]),
                        0.1 * torch.exp(-3.0 * s.err["vel_sq"])], -1)
    torch.testing.assert_close(terms, want)
    torch.testing.assert_close(reward, want.sum(-1))
    assert FusedReward(table, RewardConfig(clip_min=0.0))(s)[0].min() >= 0.0


def test_reward_table_errors_name_the_term():
    with pytest.raises(ValueError, match="'r_x'.*no field 'w_nope'"):
        FusedReward((RewardTerm("r_x", SMPL_REWARDS[0].fn, weight="w_nope"),), RewardConfig())
    with pytest.raises(ValueError, match="named twice"):
        FusedReward((SMPL_REWARDS[0], SMPL_REWARDS[0]), RewardConfig())
    with pytest.raises(ValueError, match="unknown term set 'g2'"):
        term_set("g2")


def test_smpl_reward_weights_come_from_the_config_fields():
    cfg = RewardConfig(w_rot=0.3, power_coef=1e-3, feet_slip_coef=2.0, body_jerk_coef=1e-6)
    f = FusedReward(SMPL_REWARDS, cfg)
    assert f.names == ("r_pos", "r_rot", "r_vel", "r_angvel", "r_height", "p_power", "p_action_rate", "p_feet_slip",
                       "p_body_jerk")
    np.testing.assert_allclose(f.weights.numpy(), [cfg.w_pos, 0.3, cfg.w_vel, cfg.w_angvel, cfg.w_height, -1e-3,
                                                   -cfg.action_rate_coef, -2.0, -1e-6], rtol=1e-6)
    assert RewardConfig().body_jerk_coef == 0.0  # off by default: the shipped policy was trained without it
    np.testing.assert_allclose(f.scales.numpy(), [cfg.k_pos, cfg.k_rot, cfg.k_vel, cfg.k_angvel, cfg.k_height])


def _planes(rng, n, k=None):
    shape = (n, NB, 13) if k is None else (n, k, NB, 13)
    s = rng.normal(size=shape)
    s[..., 3:7] /= np.linalg.norm(s[..., 3:7], axis=-1, keepdims=True)
    return planes_from_packed(torch.as_tensor(s, dtype=torch.float32))


def test_the_observation_layout_follows_the_table():
    rng = np.random.default_rng(0)
    p, refs = _planes(rng, 3), _planes(rng, 3, 2)
    layout = ObservationLayout(SMPL_OBSERVATION, 2)
    assert layout.self_dim == self_obs_dim() and layout.task_dim == task_obs_dim(2)
    obs = layout(p, refs)
    assert torch.equal(obs, observation(p, refs))
    where = layout.slices()
    assert where["root_height"] == [slice(0, 1)] and len(where["ref_pos_diff"]) == 2
    assert where["local_body_pos"][0].stop - where["local_body_pos"][0].start == 3 * (NB - 1)
    # root height is the pelvis' z; a term's block moves with its row
    torch.testing.assert_close(obs[:, 0], p[2, :, 0])
    shuffled = tuple(SMPL_OBSERVATION[i] for i in (4, 0, 3, 2, 1, 9, 5, 8, 6, 7))
    other = ObservationLayout(shuffled, 2)
    got = other(p, refs)
    for name, slices in other.slices().items():
        for mine, theirs in zip(slices, where[name]):
            torch.testing.assert_close(got[:, mine], obs[:, theirs], rtol=0, atol=1e-6)
    # a table of one extra term: its planes, bodies and heading rotation as the row says
    feet = ObsTerm("feet_height", lambda x: x.p[2:3], 1, heading=False, bodies=(10, 11))
    ext = ObservationLayout(SMPL_OBSERVATION + (feet,), 2)
    assert ext.self_dim == self_obs_dim() + 2
    o = ext(p, refs)
    sl = ext.slices()["feet_height"][0]
    torch.testing.assert_close(o[:, sl], p[2][:, [10, 11]])
    with pytest.raises(ValueError, match="multiple of 3"):
        ObsTerm("bad", lambda x: x.p[:2], 2)


def test_a_zero_weight_term_is_not_computed_and_its_column_is_zero():
    calls = []

    def counted(name, value):
        def fn(step):
            calls.append(name)
            return torch.full((3,), value)
        return fn

    cfg = RewardConfig(w_rot=0.0, power_coef=1e-3, action_rate_coef=0.0)
    table = (RewardTerm("r_pos", counted("r_pos", 0.5), weight="w_pos", kernel="k_pos"),
             RewardTerm("p_power", counted("p_power", 2.0), weight="power_coef", penalty=True),
             RewardTerm("r_rot", counted("r_rot", 0.1), weight="w_rot", kernel="k_rot"),
             RewardTerm("p_action_rate", counted("p_action_rate", 9.0), weight="action_rate_coef", penalty=True))
    f = FusedReward(table, cfg)
    assert f.active("r_pos") and f.active("p_power") and not f.active("r_rot") and not f.active("p_action_rate")
    step = StepInputs(None, None, None, torch.zeros(3, dtype=torch.long), None, None, None)
    reward, terms = f(step)
    assert calls == ["r_pos", "p_power"]
    expected = [cfg.w_pos * np.exp(-cfg.k_pos * 0.5), -1e-3 * 2.0, 0.0, 0.0]  # table order
    np.testing.assert_allclose(terms.numpy(), [expected] * 3, rtol=1e-6)
    np.testing.assert_allclose(reward.numpy(), [max(sum(expected), cfg.clip_min)] * 3, rtol=1e-6)
    off = FusedReward(table, RewardConfig(w_pos=0.0, w_rot=0.0, power_coef=0.0, action_rate_coef=0.0))
    reward, terms = off(step)
    assert terms.shape == (3, 4) and not terms.any() and calls == ["r_pos", "p_power"]
