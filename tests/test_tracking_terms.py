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
# from sampled starts (seed 0), feet_slip_coef 0.5: per step, the reward of each env and the mean of each
# term. First recorded with the reward computed term by term in code (before the table), which the table
# matched; recorded again with the table when the shipped policy changed (its actions drive the steps).
TERMS = ('r_pos', 'r_rot', 'r_vel', 'r_angvel', 'r_height', 'p_power', 'p_action_rate', 'p_feet_slip')
REWARDS = [
    [0.9314770698547363, 0.9368970394134521, 0.030909419059753418, 0.7532206177711487],
    [0.881859302520752, 0.8335293531417847, 0.4913398027420044, 0.8465103507041931],
    [0.7988995909690857, 0.850713849067688, 0.4958975911140442, 0.8139638304710388],
    [0.7043915390968323, 0.7654709815979004, 0.510765552520752, 0.8110679388046265],
    [0.528189480304718, 0.7574149370193481, 0.4706169366836548, 0.7891116142272949],
    [0.7147464752197266, 0.6490395665168762, 0.436885267496109, 0.771828293800354],
    [0.6227341294288635, 0.7604385614395142, 0.27723008394241333, 0.6670989990234375],
    [0.5088165998458862, 0.7379158735275269, 0.16129271686077118, 0.8088485598564148],
]
TERM_MEANS = [
    [0.4385150671005249, 0.2283318042755127, 0.09644398093223572, 0.04954778030514717,
     0.09921842813491821, -0.08021388202905655, -0.0003434354439377785, -0.168373703956604],
    [0.420982301235199, 0.21338321268558502, 0.09672050178050995, 0.04242335259914398,
     0.09922218322753906, -0.0876995176076889, -0.0006382441497407854, -0.02108411304652691],
    [0.40100446343421936, 0.20390506088733673, 0.09641136974096298, 0.04288972541689873,
     0.09854795038700104, -0.08517010509967804, -0.0007243654690682888, -0.016995294019579887],
    [0.3819620609283447, 0.18866634368896484, 0.09653158485889435, 0.03135884553194046,
     0.09835317730903625, -0.08360449224710464, -0.0007110042497515678, -0.014632533304393291],
    [0.36855217814445496, 0.18984252214431763, 0.0958559662103653, 0.02651824802160263,
     0.09863270819187164, -0.08941110968589783, -0.0007544596446678042, -0.05290278419852257],
    [0.35648292303085327, 0.17456749081611633, 0.09722492843866348, 0.04696333780884743,
     0.09783035516738892, -0.0855778232216835, -0.0006446574698202312, -0.04372159764170647],
    [0.3490595817565918, 0.17072832584381104, 0.09649591892957687, 0.03019797056913376,
     0.09727458655834198, -0.08221790939569473, -0.000681164616253227, -0.07898187637329102],
    [0.3491150140762329, 0.1686365008354187, 0.09539160877466202, 0.027616580948233604,
     0.0978778749704361, -0.08367155492305756, -0.0007092865416780114, -0.10003829747438431],
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
