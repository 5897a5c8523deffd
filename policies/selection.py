"""Which validation's policy is a training run's best (``policy_best.pt``).

One rule, used by the trainer as it validates and by anyone ranking a finished run's curve:

* ``within == 0`` (the default): the highest validation success rate; among equal rates the lowest
  G-MPJPE; among equal pairs the earlier validation;
* ``within > 0``: every validation whose success rate is within ``within`` of the highest one counts as
  tied on success, and the lowest G-MPJPE among them is the best (ties: the earlier).

The second form is the corpus training's rule (``scripts/train_corpus_tracker.sh`` passes
``--select-within 0.01``, one point of success): on a validation split of ~280 clips one point is three
clips, about the spread of a policy measured twice on different starts, so a lead of a clip or two says
less than a lower tracking error (docs/tracking.md "Corpus training").

The highest success rate may come from rows whose policies are no longer at hand (earlier segments of a
resumed run): ``reference`` rows count for it, only ``candidates`` can be chosen."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def pick_best(candidates: Sequence[dict], within: float = 0.0, reference: Iterable[dict] = ()) -> dict | None:
    """The best of ``candidates`` (rows with ``success_rate`` and ``g_mpjpe_mm``) by the rule above, the
    highest success rate taken over ``candidates`` and ``reference`` together; None when there are no
    candidates, or none within ``within`` of that highest rate."""
    if within < 0:
        raise ValueError(f"within must be >= 0, got {within}")
    if not candidates:
        return None
    top = max(float(r["success_rate"]) for r in [*candidates, *reference])
    tied = [r for r in candidates if float(r["success_rate"]) >= top - within - 1e-12]
    if not tied:
        return None
    best = tied[0]
    for r in tied[1:]:  # the earlier row wins a tie
        if float(r["g_mpjpe_mm"]) < float(best["g_mpjpe_mm"]):
            best = r
    return best
