"""The deployable actor: its inference path is the module's own forward pass."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("activation", ["elu", "tanh"])
def test_infer_is_forward_and_follows_weight_changes(activation):
    from motionlib.policies.actor import TrackingActor

    torch.manual_seed(0)
    actor = TrackingActor(40, 7, (32, 16), activation)
    with torch.no_grad():
        actor.obs_mean.normal_(0.0, 0.5)
        actor.obs_var.uniform_(0.2, 3.0)
    obs = torch.randn(9, 40) * 4.0  # some features beyond the +-5 clamp once normalised

    def same():
        with torch.no_grad():
            want = actor(obs)
        torch.testing.assert_close(actor.infer(obs), want, atol=1e-6, rtol=1e-5)
        return want

    first = same()
    with torch.no_grad():  # an in-place change (as a training export copies weights in)
        actor.mlp[0].weight.mul_(-1.5)
        actor.mu.bias.add_(0.3)
    assert not torch.allclose(same(), first)
    second = same()
    with torch.no_grad():  # the normaliser's statistics alone (infer keeps their factors too)
        actor.obs_var.mul_(2.0)
        actor.obs_mean.add_(0.2)
    assert not torch.allclose(same(), second)
    actor.load_state_dict({k: v * 0.5 for k, v in actor.state_dict().items()})  # a load copies in place too
    same()
    actor.to(torch.float64).to(torch.float32)  # a move replaces the tensors
    same()


def test_unreadable_policy_files_are_named_with_their_problem(tmp_path):
    """A missing file, a file that is not a torch archive, a torch file of another kind and a
    truncated policy: one-line errors naming the file (torch's own is several paragraphs)."""
    import zipfile

    from motionlib.motion.errors import MotionError
    from motionlib.policies.actor import TrackingActor, TrackingPolicy
    from motionlib.sim.humanoid import HumanoidConfig
    from motionlib.sim.tracking_config import TrackingConfig

    with pytest.raises(MotionError, match="missing.pt: no such tracking policy"):
        TrackingPolicy.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(MotionError, match=r"junk.pt: cannot read tracking policy \(not a torch zip archive\)$"):
        TrackingPolicy.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(MotionError, match="other.pt: not a motionlib tracking policy"):
        TrackingPolicy.load(tmp_path / "other.pt")
    TrackingPolicy(TrackingActor(8, 2, (4,)), TrackingConfig(), HumanoidConfig(), {}).save(tmp_path / "p.pt")
    with zipfile.ZipFile(tmp_path / "p.pt") as z:  # the same archive without its tensor data
        kept = [(i, z.read(i)) for i in z.infolist() if "/data/" not in i.filename]
    with zipfile.ZipFile(tmp_path / "cut.pt", "w") as z:
        for info, data in kept:
            z.writestr(info, data)
    with pytest.raises(MotionError, match=r"cut.pt: cannot read tracking policy \([A-Za-z]+: [^\n]*\)$"):
        TrackingPolicy.load(tmp_path / "cut.pt")
