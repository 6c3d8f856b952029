"""The whole demo scenario, app by app in layer order (`manage.py seed_demo`). Idempotent."""

from __future__ import annotations

from engagements import demo as engagements_demo
from kpitree import demo as kpitree_demo
from money import demo as money_demo
from portal import demo as portal_demo
from scorecard import commitment_demo


def seed() -> dict[str, int]:
    counts = engagements_demo.seed_accounts_and_engagements()
    counts.update(kpitree_demo.seed_trees())
    counts.update(money_demo.seed_inputs())  # while the months are open
    counts["submission_steps"] = portal_demo.seed_submissions()
    counts.update(money_demo.seed_rules())  # once they are approved
    counts.update(commitment_demo.seed_commitments())
    return counts
