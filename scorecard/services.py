"""Every write of the scorecard app: perspective weights, score snapshots and KPI forecasts.

Snapshots: after every recompute of a tree, `snapshot_engagements_for_tree(tree_id)` scores each
engagement that owns a node in it, month by month, and compares with the month's current
snapshot. An unchanged score writes nothing. A changed score keeps the old snapshot and writes a
new one with the reason (definition changed, weights changed, target changed, actual corrected,
actuals added after the month was submitted) and the KPIs that changed: a restatement, shown on
the page. The only silent update is a month still being reported (not yet submitted) getting
actuals it did not have.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, Submission, SubmissionStatus
from kpi_planner.access import can_manage
from kpi_planner.months import month_of, month_range
from kpitree.models import Node, Rollup, Tree
from scorecard import commitment_services, forecast, queries, scoring
from scorecard.models import (
    PERSPECTIVES,
    EngagementScoring,
    KpiForecast,
    RestatementReason,
    ScoreSnapshot,
)

DIGITS = 6  # scores are compared rounded: float noise is not a restatement
DEFINITION_FIELDS = (
    "id",
    "parent_id",
    "rollup",
    "formula",
    "time_aggregation",
    "direction",
    "green_threshold",
    "amber_threshold",
)


# -- perspective weights -----------------------------------------------------------------------------


@transaction.atomic
def scoring_weights_set(
    *, user, engagement: Engagement, weights: Mapping[str, Any]
) -> EngagementScoring:
    """Set the engagement's perspective weights (managers only); the scores are re-snapshotted,
    so the change shows up as a restatement of the months it affects."""
    if not can_manage(user):
        raise PermissionDenied(_("Only managers may change the scoring weights."))
    errors: dict[str, list[str]] = {}
    values: dict[str, float] = {}
    for p in PERSPECTIVES:
        raw = weights.get(p)
        try:
            value = float(str(raw).strip()) if raw is not None and str(raw).strip() != "" else None
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not 0 <= value <= 100:
            errors[p] = [_("Enter a number from 0 to 100.")]
        else:
            values[p] = value
    if not errors and not any(values.values()):
        errors["__all__"] = [_("At least one perspective needs a weight above 0.")]
    if errors:
        raise ValidationError(errors)
    scoring_row, _created = EngagementScoring.objects.get_or_create(engagement=engagement)
    for p, value in values.items():
        setattr(scoring_row, f"{p}_weight", value)
    scoring_row.updated_by = user
    scoring_row.full_clean()
    scoring_row.save()
    snapshot_engagements([engagement.pk])
    return scoring_row


# -- snapshots ---------------------------------------------------------------------------------------


def snapshot_engagements_for_tree(tree_id: int) -> dict[str, int]:
    """Called at the end of kpitree.tasks.recompute_tree: snapshot the monthly scores of the
    engagements owning a node of the tree, then (on commit) refresh the tree's KPI forecasts."""
    ids = list(
        Node.objects.filter(tree_id=tree_id, engagement__isnull=False)
        .values_list("engagement_id", flat=True)
        .distinct()
    )
    result = snapshot_engagements(ids)
    from kpi_planner import queueing
    from scorecard.tasks import forecast_tree

    # Broker down: the forecasts catch up at the tree's next recompute.
    transaction.on_commit(lambda: queueing.send(forecast_tree, tree_id))
    return result


@transaction.atomic
def snapshot_engagements(
    engagement_ids: Iterable[int], *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Snapshot every month of these engagements' scores; idempotent (same data → no write)."""
    ids = sorted(set(engagement_ids))
    now = now or timezone.now()
    writes = _SnapshotWrites()
    if not ids:
        return writes.counts
    engagements = {e.pk: e for e in Engagement.objects.filter(pk__in=ids).select_related("scoring")}
    nodes = [n for n in queries.kpi_nodes(ids) if n["perspective"] in PERSPECTIVES]
    definitions = _definitions(nodes)
    rollups = _month_rollups(ids)
    current = {
        (s.engagement_id, s.period): s
        for s in ScoreSnapshot.objects.filter(engagement_id__in=ids, grain="month", is_current=True)
    }
    closed = set(
        Submission.objects.filter(
            engagement_id__in=ids,
            status__in=[SubmissionStatus.SUBMITTED, SubmissionStatus.APPROVED],
        ).values_list("engagement_id", "period")
    )
    by_engagement: dict[int, list[dict]] = defaultdict(list)
    for n in nodes:
        by_engagement[n["engagement_id"]].append(n)
    table = _score_table(nodes, rollups, engagements)
    scored = set() if table is None else set(table.index)
    for key in sorted(scored | set(current)):
        engagement_id, period = key
        if engagement_id not in engagements:
            continue
        own = by_engagement.get(engagement_id, [])
        scores = table.loc[key] if table is not None and key in scored else None
        overall = _num(None if scores is None else scores["overall"])
        old = current.get(key)
        if old is None and overall is None:
            continue  # nothing to report for this month yet
        snap = _snapshot(
            engagements[engagement_id],
            period,
            overall,
            scores,
            own,
            rollups,
            definition=definitions.get(engagement_id, ""),
            now=now,
        )
        writes.add(old, snap, own, closed=key in closed)
    writes.save()
    return writes.counts


# The month rollups of the KPIs: node id → period → (actual, target, achievement).
MonthRollups = dict[int, dict[dt.date, tuple[float | None, float | None, float | None]]]


def _month_rollups(engagement_ids: list[int]) -> MonthRollups:
    rollups: MonthRollups = defaultdict(dict)
    for node_id, period, actual, target, achievement in Rollup.objects.filter(
        node__engagement_id__in=engagement_ids, node__perspective__in=PERSPECTIVES, grain="month"
    ).values_list("node_id", "period", "actual", "target", "achievement"):
        rollups[node_id][period] = (actual, target, achievement)
    return rollups


def _score_table(
    nodes: list[dict], rollups: MonthRollups, engagements: Mapping[int, Engagement]
) -> pd.DataFrame | None:
    """The scores by (engagement id, period); None when no KPI has a value yet."""
    rows = [
        {
            "engagement_id": n["engagement_id"],
            "period": period,
            "perspective": n["perspective"],
            "weight": n["weight"],
            "achievement": values[2],
            "cap": n["tree__score_cap"],
        }
        for n in nodes
        for period, values in rollups.get(n["id"], {}).items()
    ]
    weights = pd.DataFrame({pk: queries.weights_of(e) for pk, e in engagements.items()}).T
    months = sorted({p for v in rollups.values() for p in v})
    extra = commitment_services.commitment_scores(list(engagements), months)
    if not rows and extra.empty:
        return None
    columns = ["engagement_id", "period", "perspective", "weight", "achievement", "cap"]
    frame = pd.DataFrame(rows, columns=columns)
    if not extra.empty:
        frame = pd.concat([frame, extra[frame.columns]], ignore_index=True)
    return scoring.score_table(frame, ["engagement_id", "period"], weights)


def _snapshot(
    engagement: Engagement,
    period: dt.date,
    overall: float | None,
    scores: pd.Series | None,
    own: list[dict],
    rollups: MonthRollups,
    *,
    definition: str,
    now: dt.datetime,
) -> ScoreSnapshot:
    """The (unsaved) snapshot of one engagement's month: its scores and its KPIs' values."""
    thresholds = queries.strictest_thresholds(own)
    snap = ScoreSnapshot(
        engagement_id=engagement.pk,
        grain="month",
        period=period,
        overall_score=overall,
        overall_status=scoring.status_for(overall, thresholds),
        kpis={
            str(n["id"]): [
                _num(v) for v in rollups.get(n["id"], {}).get(period, (None, None, None))
            ]
            for n in own
        },
        definition=definition,
        weights=queries.weights_of(engagement),
        taken_at=now,
    )
    for p in PERSPECTIVES:
        s = _num(None if scores is None else scores[p])
        setattr(snap, f"{p}_score", s)
        setattr(snap, f"{p}_status", scoring.status_for(s, thresholds))
    return snap


# What an in-place update of a month's snapshot rewrites.
IN_PLACE_FIELDS = [
    "overall_score",
    "overall_status",
    "kpis",
    "definition",
    "weights",
    "taken_at",
    *(f"{p}_{x}" for p in PERSPECTIVES for x in ("score", "status")),
]


@dataclass
class _SnapshotWrites:
    """What snapshot_engagements writes, gathered month by month, and its counts."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "restated": 0, "updated": 0, "unchanged": 0}
    )
    new_rows: list[ScoreSnapshot] = field(default_factory=list)
    retire: list[int] = field(default_factory=list)  # the snapshots a restatement replaces
    in_place: list[ScoreSnapshot] = field(default_factory=list)

    def add(
        self, old: ScoreSnapshot | None, snap: ScoreSnapshot, own: list[dict], *, closed: bool
    ) -> None:
        """Compare a month's new snapshot with its current one (`old`; `closed`: the month is
        submitted or approved) and record the write it needs."""
        if old is None:
            self.new_rows.append(snap)
            self.counts["created"] += 1
            return
        if _same_scores(old, snap):
            self.counts["unchanged"] += 1
            return
        reason, changed = _reason(old, snap, own)
        if reason is None and not closed:
            # Actuals arriving for a month still being reported: not a restatement.
            for name in IN_PLACE_FIELDS:
                setattr(old, name, getattr(snap, name))
            self.in_place.append(old)
            self.counts["updated"] += 1
            return
        snap.reason = reason or RestatementReason.LATE_DATA
        snap.changed_kpis = changed
        self.retire.append(old.pk)
        self.new_rows.append(snap)
        self.counts["restated"] += 1

    def save(self) -> None:
        if self.retire:
            ScoreSnapshot.objects.filter(pk__in=self.retire).update(is_current=False)
        if self.in_place:
            ScoreSnapshot.objects.bulk_update(self.in_place, IN_PLACE_FIELDS, batch_size=500)
        ScoreSnapshot.objects.bulk_create(self.new_rows, batch_size=500)


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, DIGITS)


def _same_scores(a: ScoreSnapshot, b: ScoreSnapshot) -> bool:
    names = ["overall_score"] + [f"{p}_score" for p in PERSPECTIVES]
    return all(_rounded(getattr(a, n)) == _rounded(getattr(b, n)) for n in names)


def _reason(old: ScoreSnapshot, new: ScoreSnapshot, nodes: list[dict]) -> tuple[str | None, list]:
    """Why the scores changed; None when only missing values were filled in."""
    names = {str(n["id"]): (n["code"], n["name"]) for n in nodes}
    changed, target_changed, actual_changed = [], False, False
    for key in sorted(set(old.kpis) | set(new.kpis), key=lambda k: int(k)):
        a0, t0, ach0 = (old.kpis.get(key) or [None, None, None])[:3]
        a1, t1, ach1 = (new.kpis.get(key) or [None, None, None])[:3]
        if (_rounded(a0), _rounded(t0), _rounded(ach0)) == (
            _rounded(a1),
            _rounded(t1),
            _rounded(ach1),
        ):
            continue
        changed.append(list(names.get(key, (key, key))))
        if t0 is not None and _rounded(t0) != _rounded(t1):
            target_changed = True
        if a0 is not None and _rounded(a0) != _rounded(a1):
            actual_changed = True
    if old.definition != new.definition:
        return RestatementReason.DEFINITION_CHANGED, changed
    if {k: float(v) for k, v in old.weights.items()} != {
        k: float(v) for k, v in new.weights.items()
    }:
        return RestatementReason.WEIGHTS_CHANGED, changed
    if target_changed:
        return RestatementReason.TARGET_CHANGED, changed
    if actual_changed:
        return RestatementReason.ACTUAL_CORRECTED, changed
    if not changed:  # no KPI moved, yet the scores did: a commitment's assessment did
        return RestatementReason.COMMITMENT_ASSESSED, changed
    return None, changed


def _definitions(kpis: list[dict]) -> dict[int, str]:
    """Per engagement, a hash of what defines its scores: its KPIs (perspective, weight, the
    tree's cap and thresholds) and every node their values are computed from (their subtrees)."""
    tree_ids = {n["tree_id"] for n in kpis}
    tree_nodes = list(Node.objects.filter(tree_id__in=tree_ids).values(*DEFINITION_FIELDS))
    children: dict[int | None, list[dict]] = defaultdict(list)
    for n in tree_nodes:
        children[n["parent_id"]].append(n)
    subtree_cache: dict[int, list] = {}

    def subtree(node_id: int) -> list:
        if node_id not in subtree_cache:
            out, stack = [], [node_id]
            while stack:
                current = stack.pop()
                for child in children.get(current, []):
                    out.append([child[f] for f in DEFINITION_FIELDS])
                    stack.append(child["id"])
            subtree_cache[node_id] = sorted(out, key=lambda r: r[0])
        return subtree_cache[node_id]

    per_engagement: dict[int, list] = defaultdict(list)
    for n in kpis:
        per_engagement[n["engagement_id"]].append(
            [
                n["id"],
                n["perspective"],
                n["weight"],
                n["direction"],
                n["rollup"],
                n["formula"],
                n["time_aggregation"],
                n["tree__score_cap"],
                n["tree__green_threshold"],
                n["tree__amber_threshold"],
                n["tree__fiscal_year_start"],
                subtree(n["id"]),
            ]
        )
    return {
        pk: hashlib.sha256(
            json.dumps(sorted(rows, key=lambda r: r[0]), default=str).encode()
        ).hexdigest()
        for pk, rows in per_engagement.items()
    }


# -- forecasts ---------------------------------------------------------------------------------------


def forecast_frame(
    months: list[dt.date], values: Mapping[dt.date, tuple[float | None, float | None]]
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "actual": [values.get(m, (None, None))[0] for m in months],
            "target": [values.get(m, (None, None))[1] for m in months],
        },
        index=pd.Index(months, name="period"),
    )
    return frame.apply(pd.to_numeric, errors="coerce").astype(float)


def forecast_for(node: Mapping, frame: pd.DataFrame, year_targets: Mapping[dt.date, float | None]):
    """The forecast of one KPI (node as a values() dict) against its years' rollup targets."""
    return forecast.forecast_kpi(
        frame,
        time_aggregation=node["time_aggregation"],
        direction=node["direction"],
        fiscal_year_start=node["tree__fiscal_year_start"],
        period_targets=year_targets,
    )


def forecast_fingerprint(
    node: Mapping, frame: pd.DataFrame, year_targets: Mapping[dt.date, float | None]
) -> str:
    return forecast.fingerprint(
        frame,
        node["time_aggregation"],
        node["direction"],
        node["tree__fiscal_year_start"],
        sorted(year_targets.items()),
    )


def forecast_of(
    node: Mapping, frame: pd.DataFrame, year_targets: Mapping[dt.date, float | None]
) -> forecast.ForecastResult | None:
    """The KPI's forecast: the stored one when its series has not changed since (a page reads
    what the worker computed), else computed now (the worker has not caught up yet)."""
    stored = KpiForecast.objects.filter(node_id=node["id"]).first()
    if stored is not None and stored.fingerprint == forecast_fingerprint(node, frame, year_targets):
        points = stored.points
        return forecast.ForecastResult(
            method=stored.method,
            months=[month_of(p[0]) for p in points],
            mean=np.array([p[1] for p in points], dtype=float),
            lower=np.array([p[2] for p in points], dtype=float),
            upper=np.array([p[3] for p in points], dtype=float),
            period=stored.period,
            target=stored.target,
            expected=stored.expected,
            probability=stored.probability,
        )
    return forecast_for(node, frame, year_targets)


def forecast_tree(tree_id: int) -> dict[str, int]:
    """Refresh the forecasts of the tree's scorecard KPIs; KPIs whose series did not change
    are skipped (their fingerprint is the same), so a write re-forecasts only what it moved."""
    tree = Tree.objects.filter(pk=tree_id).first()
    counts = {"forecast": 0, "unchanged": 0, "removed": 0}
    if tree is None:
        return counts
    months = month_range(tree.start_month, tree.end_month)
    node_filter = Node.objects.filter(
        tree=tree, engagement__isnull=False, perspective__in=PERSPECTIVES
    )
    nodes = list(node_filter.values(*queries.NODE_FIELDS))
    monthly: dict[int, dict] = defaultdict(dict)
    years: dict[int, dict] = defaultdict(dict)
    for node_id, grain, period, actual, target in Rollup.objects.filter(
        node__in=node_filter, grain__in=["month", "year"]
    ).values_list("node_id", "grain", "period", "actual", "target"):
        if grain == "month":
            monthly[node_id][period] = (actual, target)
        else:
            years[node_id][period] = target
    existing = {f.node_id: f for f in KpiForecast.objects.filter(node__in=node_filter)}
    now = timezone.now()
    upserts: list[KpiForecast] = []
    stale: list[int] = []
    for n in nodes:
        frame = forecast_frame(months, monthly.get(n["id"], {}))
        fp = forecast_fingerprint(n, frame, years.get(n["id"], {}))
        old = existing.get(n["id"])
        if old is not None and old.fingerprint == fp:
            counts["unchanged"] += 1
            continue
        result = forecast_for(n, frame, years.get(n["id"], {}))
        if result is None:
            if old is not None:
                stale.append(n["id"])
            continue
        upserts.append(
            KpiForecast(
                node_id=n["id"],
                fingerprint=fp,
                method=result.method,
                period=result.period,
                target=result.target,
                expected=result.expected,
                probability=result.probability,
                at_risk=result.at_risk,
                points=result.points(),
                computed_at=now,
            )
        )
    with transaction.atomic():
        if stale:
            KpiForecast.objects.filter(node_id__in=stale).delete()
            counts["removed"] = len(stale)
        KpiForecast.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["node"],
            update_fields=[
                "fingerprint",
                "method",
                "period",
                "target",
                "expected",
                "probability",
                "at_risk",
                "points",
                "computed_at",
            ],
            batch_size=500,
        )
    counts["forecast"] = len(upserts)
    return counts
