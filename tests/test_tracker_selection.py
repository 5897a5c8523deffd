"""The rule that says which validation is a training run's best (policies/selection.py)."""

import pytest

from motionlib.policies.selection import pick_best


def row(epoch, success, mm):
    return {"epoch": epoch, "success_rate": success, "g_mpjpe_mm": mm}


def test_default_rule_is_highest_success_then_lowest_error():
    rows = [row(5, 0.90, 40.0), row(10, 0.91, 45.0), row(15, 0.91, 44.0), row(20, 0.905, 30.0)]
    assert pick_best(rows)["epoch"] == 15


def test_within_one_point_takes_the_lowest_error_among_the_near_best():
    rows = [row(5, 0.90, 40.0), row(10, 0.91, 45.0), row(15, 0.899, 30.0), row(20, 0.905, 35.0)]
    assert pick_best(rows, within=0.01)["epoch"] == 20  # 0.899 is 1.1 points below 0.91: out
    assert pick_best(rows, within=0.02)["epoch"] == 15


def test_ties_keep_the_earlier_validation():
    rows = [row(5, 0.9, 40.0), row(10, 0.9, 40.0)]
    assert pick_best(rows)["epoch"] == 5
    assert pick_best(rows, within=0.01)["epoch"] == 5


def test_reference_rows_set_the_top_but_are_never_chosen():
    ref = [row(1, 0.95, 20.0)]
    cands = [row(5, 0.945, 40.0), row(10, 0.93, 30.0)]
    assert pick_best(cands, within=0.01, reference=ref)["epoch"] == 5
    assert pick_best([row(10, 0.93, 30.0)], within=0.01, reference=ref) is None
    assert pick_best([], within=0.01) is None


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError):
        pick_best([row(1, 0.9, 1.0)], within=-0.1)


def test_the_shipped_corpus_state_follows_its_rule():
    """The corpus training state's best is the rule's pick over its validations in refine's physics."""
    from pathlib import Path

    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.export import read_curve

    state = Path(__file__).resolve().parents[1] / "policies" / "data" / "corpus"
    rows = [r for r in read_curve(state / "curve.csv") if r["armature_scale"] == 4.0]
    best = pick_best(rows, within=0.01)
    info = TrackingPolicy.load(state / "policy_best.pt").info
    assert (info["epoch"], info["env_steps"]) == (best["epoch"], best["env_steps"])


def test_the_trainer_keeps_the_rules_pick_across_a_resume(tmp_path, monkeypatch):
    """The observer writes the rule's pick to policy_best.pt as validations come in, goes back to an earlier
    validation's file when a new top success makes it the pick, and a resumed run ranks its kept best
    against the new validations with the earlier rows counting for the top success."""
    from pathlib import Path

    from motionlib.policies import observer as obs_mod
    from motionlib.policies.actor import TrackingPolicy
    from motionlib.policies.train_config import TrackerTrainConfig

    shipped = Path(__file__).resolve().parents[1] / "policies" / "data" / "default_tracker.pt"
    figures = iter([(0.90, 40.0), (0.895, 38.0), (0.91, 45.0), (0.899, 39.0), (0.905, 39.5)])

    def export(state, cfg, info):
        p = TrackingPolicy.load(shipped)
        p.info = dict(info)
        return p

    monkeypatch.setattr(obs_mod, "export_policy", export)
    monkeypatch.setattr(obs_mod.TrackingObserver, "_validate",
                        lambda self, policy: dict(zip(("success_rate", "g_mpjpe_mm"), next(figures)), clips=200))

    class Run:
        def model_state(self):
            return None

    run_dir = tmp_path / "run"
    best_epoch = lambda: TrackingPolicy.load(run_dir / "policy_best.pt").info["epoch"]  # noqa: E731
    first = obs_mod.TrackingObserver(TrackerTrainConfig(out=str(run_dir), select_within=0.01), [], progress=False)
    first.run = Run()
    picks = []
    for epoch in (1, 2, 3):
        first.evaluate(epoch * 100, epoch)
        picks.append(best_epoch())
    assert picks == [1, 2, 1]  # epoch 3's 0.91 puts epoch 2 (0.895) out of reach; epoch 1 comes back
    again = obs_mod.TrackingObserver(TrackerTrainConfig(out=str(run_dir), select_within=0.01, resume="ckpt"), [],
                                     progress=False)
    assert again.best["epoch"] == 1
    again.run = Run()
    again.evaluate(400, 4)
    assert best_epoch() == 1  # 0.899 is more than a point below epoch 3's 0.91, which is not in the pool
    again.evaluate(500, 5)
    assert best_epoch() == 5 and again.best["epoch"] == 5
