"""The SMART check of one KPI (issue 13): which of Specific, Measurable, Achievable, Relevant and
Time-bound holds, and for each that does not, what is missing. Pure: it takes plain values (the
editor's node panel loads them through kpitree.queries.node_smart)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kpitree import target_gap

# A definition shorter than this names nothing that could be counted.
MIN_DEFINITION = 8

LETTERS = (
    ("S", gettext_lazy("Specific")),
    ("M", gettext_lazy("Measurable")),
    ("A", gettext_lazy("Achievable")),
    ("R", gettext_lazy("Relevant")),
    ("T", gettext_lazy("Time-bound")),
)


@dataclass(frozen=True)
class SmartItem:
    letter: str
    label: str
    ok: bool
    missing: str  # what to add ("" when it holds)


def smart_check(
    *,
    name: str,
    definition: str,
    unit: str,
    source: str,
    benchmark: float | None,
    targets: Sequence[tuple[dt.date, float]],
    actuals: Sequence[tuple[dt.date, float]],
    reaches_kgi: bool,
    plan_months: int,
    entered_by: str = "",
    computed: bool = False,
    far: float = target_gap.FAR,
) -> list[SmartItem]:
    """Measurable needs a unit and a known source of the actuals: a feed of the app (`source`),
    the children it is computed from (`computed`), or who enters them (`entered_by`: the owning
    engagement's vendor, or the owner department or person) — "entered by people" alone names no
    one. Achievable: the mean target within `far` of the benchmark or of the recent actuals
    (kpitree.target_gap)."""
    definition = definition.strip()
    specific = len(definition) >= MIN_DEFINITION and definition != name.strip()
    missing_m = []
    if not unit:
        missing_m.append(_("a unit"))
    if not (source or computed or entered_by):
        missing_m.append(_("the source of the actuals"))
    mean_target = sum(v for _m, v in targets) / len(targets) if targets else None
    past = target_gap.history_mean(list(actuals)) if actuals else None
    references = [r for r in (benchmark, past) if r is not None]
    if mean_target is None:
        achievable, missing_a = False, _("Set targets to check them against the benchmark.")
    elif not references:
        achievable = False
        missing_a = _("Give a benchmark, or enter actuals, to check the target against.")
    else:
        achievable = any(not target_gap.is_far(mean_target, r, ratio=far) for r in references)
        missing_a = (
            ""
            if achievable
            else _("The target is far from both the benchmark and the recent actuals.")
        )
    timed = len({m for m, _v in targets}) >= plan_months > 0
    holds = {
        "S": (specific, _("Define what counts, in a sentence that is more than the KPI's name.")),
        "M": (not missing_m, _("Add %(what)s.") % {"what": _(" and ").join(missing_m)}),
        "A": (achievable, missing_a),
        "R": (reaches_kgi, _("Connect the KPI to a KGI.")),
        "T": (
            timed,
            _("Set a target for every month of the plan (%(have)d of %(months)d).")
            % {"have": len({m for m, _v in targets}), "months": plan_months},
        ),
    }
    return [
        SmartItem(
            letter, str(label), holds[letter][0], "" if holds[letter][0] else holds[letter][1]
        )
        for letter, label in LETTERS
    ]
