"""Is a target far from its benchmark or from the node's recent actuals? (DOMAIN.md pitfall 5)

The one home of the rule: the design lint (`target-vs-benchmark`, `target-vs-history`), the target
editor's ⚠ warnings (`kpitree.queries.target_warnings`) and the editor's script, which is given
`FAR` and each month's `history_mean` by the page and repeats only `gap` as you type
(static/js/kpitree.js `warnRow`). Pure: no database.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable

# A target further than this from its reference gets a warning (too high demotivates the vendor,
# too low removes the drive to improve). 30 % is wide enough for ordinary growth plans and seasonal
# months, and catches typos and targets copied from another KPI (a factor of 10 or 100 is far
# outside it).
FAR = 0.30
# "Recent actuals": the mean of the last HISTORY_MONTHS months with an actual (before the target's
# month, in the editor). Three months: a quarter, the shortest review cadence of DOMAIN.md that
# says more than a single month, and recent enough to follow a trend.
HISTORY_MONTHS = 3


def gap(value: float, reference: float | None) -> float | None:
    """How far `value` is from `reference`, as a fraction of it (0.8 = 80 % above, -0.5 = half);
    None without a reference (none, or zero: no fraction of zero means anything)."""
    if reference is None or reference == 0:
        return None
    return (value - reference) / abs(reference)


def is_far(value: float, reference: float | None, *, ratio: float = FAR) -> bool:
    distance = gap(value, reference)
    return distance is not None and abs(distance) > ratio


def history_mean(
    actuals: Iterable[tuple[dt.date, float]],
    *,
    before: dt.date | None = None,
    months: int = HISTORY_MONTHS,
) -> float | None:
    """The mean of the last `months` actuals (month, value) before `before` (of all of them when
    None); None when there is none."""
    recent = [v for m, v in sorted(actuals) if before is None or m < before][-months:]
    return statistics.fmean(recent) if recent else None
