"""Named clip augmentations, shared by the tokenizer's training data and the tracker's clip sets.

A name is "" (none), "mirror" (:meth:`Motion.mirrored`), "reverse" (:meth:`Motion.reversed`),
"posture:SEED" (the upper body in a random other posture, :func:`posture.offset_posture`) or
"speed:F" (played F times as fast: resampled to fps / F and relabelled at its own fps). Names chain
with "+", applied left to right ("reverse+speed:0.8": a backward walk at 80% of the speed).
"""

from __future__ import annotations

from .clip import Motion
from .posture import offset_posture

SPEED_RANGE = (0.25, 4.0)


def augmented(clip: Motion, augment: str) -> Motion:
    """``clip`` under the augmentation ``augment`` (see the module text); ValueError on an unknown name
    (the whole chain is checked before any of it is applied)."""
    for kind, arg in check_augment(augment):
        if kind == "mirror":
            clip = clip.mirrored()
        elif kind == "reverse":
            clip = clip.reversed()
        elif kind == "posture":
            clip = offset_posture(clip, int(arg))
        else:  # speed
            clip = clip.resample(clip.fps / float(arg)).copy(fps=clip.fps)
    return clip


def check_augment(augment: str) -> list[tuple[str, float | int | None]]:
    """The chain ``augment`` names, as (kind, argument) pairs; ValueError if a name is not valid."""
    return [_parse(name, augment) for name in augment.split("+") if name]


def _parse(name: str, whole: str) -> tuple[str, float | int | None]:
    if name in ("mirror", "reverse"):
        return name, None
    kind, _, arg = name.partition(":")
    if kind == "posture" and arg.isdigit():
        return kind, int(arg)
    if kind == "speed":
        try:
            factor = float(arg)
        except ValueError:
            factor = 0.0
        if not SPEED_RANGE[0] <= factor <= SPEED_RANGE[1]:  # also rejects nan and inf
            raise ValueError(f"augmentation {whole!r}: the speed factor must be a number in "
                             f"[{SPEED_RANGE[0]:g}, {SPEED_RANGE[1]:g}]")
        return kind, factor
    raise ValueError(f"unknown augmentation {whole!r} (expected '', 'mirror', 'reverse', 'posture:SEED' or "
                     "'speed:F', chained with '+')")
