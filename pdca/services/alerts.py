"""Alerts: a KPI that went red, or whose forecast fell below the at-risk threshold, notified once.

`alerts_evaluate(tree_id)` runs after the tree's rollups and forecasts are current
(scorecard.events.forecasts_refreshed). For each KPI of an engagement in the tree:
- red: the status of its latest month with an actual (monthly rollup) is red;
- at risk: its stored forecast (scorecard.KpiForecast) says at_risk.
A KPI that is red (at risk) and has no open alert of that kind gets one, and its people one
notice each; one that is no longer red (at risk) has its open alert cleared. An open alert is
never raised twice: the partial unique constraint on (node, kind) while open makes a second
insert fail, whichever worker tries it, so running the evaluation three times, or on several
workers at once, notifies once; after the KPI recovered (cleared) and fell again, a new alert
is raised and notified.

Who is told: the KPI's owner — the active vendor users of the KPI's engagement (the vendor owns
the KPI; `Node.owner` is a free-text department or person, not an account) — and the
engagement's manager in charge (every manager when it has none), each in their own language,
in-app and by e-mail, or in their daily digest when they chose it (User.alert_digest).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from kpi_planner.months import current_month
from kpi_planner.numbers import pct
from kpitree.models import Grain, Node, Rollup, Status
from pdca.models import Alert
from portal import notifications
from scorecard.models import KpiForecast


def alerts_evaluate(tree_id: int, *, today: dt.date | None = None) -> dict[str, int]:
    """Raise and clear the alerts of one tree's KPIs; returns the counts of each."""
    nodes = {
        n.pk: n
        for n in Node.objects.filter(tree_id=tree_id, engagement__isnull=False).select_related(
            "engagement__manager", "tree"
        )
    }
    latest: dict[int, tuple[dt.date, str, float | None]] = {}
    rows = (
        Rollup.objects.filter(
            node_id__in=nodes,
            grain=Grain.MONTH,
            actual__isnull=False,
            period__lte=current_month(today),
        )
        .order_by("node_id", "period")
        .values_list("node_id", "period", "status", "achievement")
    )
    for node_id, period, status, achievement in rows:
        latest[node_id] = (period, status, achievement)  # the last one wins: the latest month
    forecasts = {
        f.node_id: f
        for f in KpiForecast.objects.filter(node_id__in=nodes).only(
            "node_id", "at_risk", "probability", "period"
        )
    }
    counts = {"raised": 0, "cleared": 0}
    for node_id, node in nodes.items():
        month = latest.get(node_id)
        forecast = forecasts.get(node_id)
        red = month is not None and month[1] == Status.RED
        at_risk = forecast is not None and forecast.at_risk
        checks: list[tuple[str, bool, dt.date | None]] = [
            (Alert.Kind.RED, red, month[0] if month else None),
            (Alert.Kind.AT_RISK, at_risk, forecast.period if forecast else None),
        ]
        for kind, on, when in checks:
            if on:
                counts["raised"] += _raise(node, kind, when, month, forecast)
            else:
                counts["cleared"] += Alert.objects.filter(
                    node=node, kind=kind, cleared_at__isnull=True
                ).update(cleared_at=timezone.now())
    return counts


def _raise(
    node: Node,
    kind: str,
    period: dt.date | None,
    month: tuple[dt.date, str, float | None] | None,
    forecast: KpiForecast | None,
) -> int:
    """Open the alert and notify, once: 0 when one is open already (here or on another worker)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            alert = Alert.objects.create(node=node, kind=kind, period=period, raised_at=now)
            _notify(alert, node, month, forecast)
    except IntegrityError:
        return 0
    return 1


def _notify(
    alert: Alert,
    node: Node,
    month: tuple[dt.date, str, float | None] | None,
    forecast: KpiForecast | None,
) -> None:
    engagement = node.engagement
    assert engagement is not None  # the evaluation takes only engagements' KPIs
    people = notifications.vendor_users(engagement) + notifications.managers_of(engagement)
    achievement = month[2] if month else None
    probability = forecast.probability if forecast else None
    notifications.notify(
        recipients=people,
        kind=f"kpi_{alert.kind}",
        engagement=engagement,
        period=alert.period,
        extra={
            "kpi": node.name,
            "achievement": pct(achievement),
            "probability": pct(None if probability is None else probability * 100),
        },
        url=reverse("scorecard:kpi", args=[node.tree.code, node.code]),
    )
    Alert.objects.filter(pk=alert.pk).update(notified_at=timezone.now())
