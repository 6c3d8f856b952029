"""What the KPI tree announces, for the apps above it to act on (it never calls them).

- `actuals_recorded(sender, months, user, channel)`: sent inside the writing transaction of
  `kpitree.services.actuals_record`, after the rows are written; `months` maps an engagement id
  to the set of months (first days) it got actuals for. A receiver that raises rolls the write
  back, so what it records stays consistent with the actuals (the portal turns those months into
  drafts).
- `tree_recomputed(sender, tree_id, result)`: sent by the recompute task after a tree's rollups
  changed (not when the task found the tree up to date); scorecard snapshots its scores.
"""

from __future__ import annotations

from django.dispatch import Signal

actuals_recorded = Signal()
tree_recomputed = Signal()
