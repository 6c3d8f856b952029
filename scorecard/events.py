"""What the scorecard announces, for the apps above it to act on (it never calls them).

- `forecasts_refreshed(sender, tree_id)`: sent by the `scorecard.forecast_tree` task once the
  tree's KPI forecasts are up to date (after each recompute of the tree): the rollups and the
  forecasts of the tree are then both current (pdca raises and clears its alerts).
"""

from __future__ import annotations

from django.dispatch import Signal

forecasts_refreshed = Signal()
