"""What the engagements app announces, for the apps above it to act on (it never calls them).

- `engagement_phase_changed(sender, engagement, old_phase, new_phase, user)`: sent once the change
  of an engagement's phase is committed (engagement_update, every channel): pdca opens a phase
  review with the catalogue's proposals.
"""

from __future__ import annotations

from django.dispatch import Signal

engagement_phase_changed = Signal()
