"""What the portal announces, for the apps above it to act on (it never calls them).

- `month_lock_changed(sender, engagement_id, period, approved, user)`: sent once a month's
  approval, or its reopening, is committed (`approved` says which): money computes the month's
  statement from the approved figures.
"""

from __future__ import annotations

from django.dispatch import Signal

month_lock_changed = Signal()
