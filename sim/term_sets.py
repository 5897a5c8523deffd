"""The reward and observation terms of each simulated body, chosen by ``TrackingConfig.terms``.

A body (the SMPL humanoid, an MJCF robot: :mod:`body`) has its own tables of named terms
(:mod:`reward_terms`, :mod:`observation_terms`); the tracking configuration names
the set it trains and runs with, and a saved policy records that name with the
rest of its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from .observation_terms import MJCF_ROBOT_OBSERVATION, SMPL_OBSERVATION, ObsTerm
from .reward_terms import MJCF_ROBOT_REWARDS, MJCF_ROBOT_WORLD_REWARDS, SMPL_REWARDS, RewardTerm


@dataclass(frozen=True)
class TermSet:
    rewards: tuple[RewardTerm, ...]
    observation: tuple[ObsTerm, ...]


TERM_SETS: dict[str, TermSet] = {
    "smpl_humanoid": TermSet(SMPL_REWARDS, SMPL_OBSERVATION),
    "mjcf_robot": TermSet(MJCF_ROBOT_REWARDS, MJCF_ROBOT_OBSERVATION),
    "mjcf_robot_world": TermSet(MJCF_ROBOT_WORLD_REWARDS, MJCF_ROBOT_OBSERVATION),
}


def term_set(name: str) -> TermSet:
    """The terms registered as ``name`` (a ValueError listing the known sets otherwise)."""
    try:
        return TERM_SETS[name]
    except KeyError:
        raise ValueError(f"unknown term set {name!r} (known: {', '.join(sorted(TERM_SETS))})") from None


def term_set_for(name: str, body_terms: str) -> TermSet:
    """The set ``name`` for a body whose own set is ``body_terms``: a ValueError unless it observes the same
    body (a robot may train with another robot set, never with the humanoid's)."""
    chosen = term_set(name)
    if chosen.observation != term_set(body_terms).observation:
        raise ValueError(f"term set {name!r} observes another body than {body_terms!r} (the body's set)")
    return chosen
