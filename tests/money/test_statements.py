"""Statements from approved months (money.services.statements): computed when rules are adopted
and when months are approved, answered by the vendor, resolved by the manager, locked once
agreed, reopened only with a reason; the back-test equals what the rules produce."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from engagements.models import Submission
from kpi_planner.errors import ServiceError
from money import engine
from money.models import Relief, RuleSet, Statement, StatementEvent
from money.services import (
    backtest,
    charge_add,
    relief_add,
    rule_set_adopt,
    rule_set_save,
    statement_accept,
    statement_dispute,
    statement_reopen,
    statement_resolve,
    statements_compute,
)
from tests.money.conftest import ISSUE_BANDS

APR, MAY, JUN = dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)


def adjustments(sla) -> dict[str, tuple[str, int]]:
    return {
        f"{s.period:%Y-%m}": (s.status, s.adjustment)
        for s in Statement.objects.filter(engagement=sla.engagement).order_by("period")
    }


def test_adopting_rules_computes_the_statements_of_approved_months(sla) -> None:
    sla.month("2026-04", appts=112)
    sla.month("2026-05", appts=95)
    sla.month("2026-06", appts=80)
    sla.rules()
    assert adjustments(sla) == {
        "2026-04": ("open", 50_000),
        "2026-05": ("open", -30_000),
        "2026-06": ("open", -80_000),
    }
    line = Statement.objects.get(period=APR).lines.get()
    with translation.override("en"):
        text = engine.explain(line.reason, line.params)
    assert text == (
        "アポ数 achieved 112.0%, in the band 110% or more: +5% of the fee ¥1,000,000 = +¥50,000."
    )
    with translation.override("ja"):
        text = engine.explain(line.reason, line.params)
    assert text == (
        "アポ数の達成率は112.0%で、区分「110%以上」に該当：月額費用1,000,000円の+5% = +50,000円。"
    )


def test_an_approved_month_gets_its_statement_from_the_worker(
    sla, django_capture_on_commit_callbacks
) -> None:
    sla.rules()
    from portal import events

    sla.month("2026-04", appts=95)
    with django_capture_on_commit_callbacks(execute=True):
        events.month_lock_changed.send(
            sender=Submission, engagement_id=sla.engagement.pk, period=APR, approved=True, user=None
        )
    assert adjustments(sla) == {"2026-04": ("open", -30_000)}


def test_the_vendor_accepts_and_the_statement_is_locked(sla, vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement = Statement.objects.get(period=APR)
    statement_accept(user=vendor_user, statement=statement)
    relief = Relief.objects.count()
    with pytest.raises(ServiceError) as exc:
        relief_add(user=sla.manager, engagement=sla.engagement, period="2026-04", reason="障害")
    assert exc.value.problems[0].code == "locked"
    assert Relief.objects.count() == relief
    assert adjustments(sla) == {"2026-04": ("agreed", -30_000)}


def test_a_dispute_is_resolved_by_a_relief_and_then_accepted(sla, vendor_user) -> None:
    sla.month("2026-04", appts=80)
    sla.rules()
    statement = Statement.objects.get(period=APR)
    statement_dispute(
        user=vendor_user, statement=statement, line=0, comment="4月は先方のリスト不備です"
    )
    with pytest.raises(ServiceError):
        statement_accept(user=vendor_user, statement=statement)
    relief_add(
        user=sla.manager,
        engagement=sla.engagement,
        period="2026-04",
        reason="リスト不備（当社起因）",
    )
    statement_resolve(user=sla.manager, statement=statement, line=0, resolution="免責としました")
    statement_accept(user=vendor_user, statement=statement)
    statement.refresh_from_db()
    line = statement.lines.get()
    assert (statement.status, statement.adjustment, line.reason, line.dispute, line.resolution) == (
        "agreed",
        0,
        "relief",
        "4月は先方のリスト不備です",
        "免責としました",
    )
    assert list(
        statement.events.values_list("action", "adjustment_before", "adjustment_after")
    ) == [
        ("computed", None, -80_000),
        ("disputed", -80_000, -80_000),
        ("recomputed", -80_000, 0),
        ("resolved", 0, 0),
        ("accepted", 0, 0),
    ]


def test_only_the_vendor_answers_and_only_the_manager_resolves(
    sla, vendor_user, other_vendor_user
) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement = Statement.objects.get(period=APR)
    for user in (sla.manager, other_vendor_user):
        with pytest.raises(ServiceError) as exc:
            statement_accept(user=user, statement=statement)
        assert exc.value.problems[0].code == "forbidden"
    with pytest.raises(ServiceError) as exc:
        statement_dispute(user=vendor_user, statement=statement, line=0, comment="  ")
    assert exc.value.problems[0].field == "comment"
    statement.refresh_from_db()
    assert (statement.status, statement.events.count()) == ("open", 1)


def test_an_agreed_statement_changes_only_through_an_audited_reopen(sla, vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement = Statement.objects.get(period=APR)
    statement_accept(user=vendor_user, statement=statement)
    with pytest.raises(ServiceError):
        statement_reopen(user=sla.manager, statement=statement, reason="")
    statement_reopen(user=sla.manager, statement=statement, reason="目標の誤りを訂正")
    relief_add(user=sla.manager, engagement=sla.engagement, period="2026-04", reason="先方都合")
    assert adjustments(sla) == {"2026-04": ("open", 0)}
    event = StatementEvent.objects.get(action="reopened")
    assert (event.comment, event.user) == ("目標の誤りを訂正", sla.manager)


def test_a_rule_set_cannot_take_effect_inside_an_agreed_month(sla, vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement_accept(user=vendor_user, statement=Statement.objects.get(period=APR))
    draft = rule_set_save(
        user=sla.manager,
        engagement=sla.engagement,
        data={
            "name": "v2",
            "effective_from": "2026-04",
            "rules": [{"node": sla.appts.pk, "bands": ISSUE_BANDS}],
        },
    )
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        rule_set_adopt(user=sla.manager, rule_set=draft)
    assert exc.value.messages == [
        "The statement of 2026-04 is agreed; choose a month after it, or reopen the statement first."
    ]
    draft.refresh_from_db()
    assert draft.status == "draft"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"cap_pct": "-1"}, "cap_pct", "The cap cannot be below zero."),
        (
            {
                "rules": [
                    {
                        "node": "appts",
                        "bands": [
                            {"lower": "90", "upper": "110", "pct_of_fee": "-3"},
                            {"lower": "100", "upper": None, "pct_of_fee": "5"},
                        ],
                    }
                ]
            },
            "rules[0].bands",
            "The bands 90% to below 110% and 100% or more overlap.",
        ),
        ({"effective_from": "2026-13"}, "effective_from", "Enter the month as YYYY-MM."),
        ({"rules": []}, "rules", "Add at least one rule."),
        (
            {"rules": [{"node": "appts", "bands": [{"lower": "x", "pct_of_fee": "5"}]}]},
            "rules[0].bands[0].lower",
            "Enter a number.",
        ),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_written(sla, data, field, message) -> None:
    payload = {
        "name": "v1",
        "effective_from": "2026-04",
        "rules": [{"node": "appts", "bands": ISSUE_BANDS}],
        **data,
    }
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        rule_set_save(user=sla.manager, engagement=sla.engagement, data=payload)
    assert [(p.field, p.message) for p in exc.value.problems] == [(field, message)]
    assert RuleSet.objects.count() == 0


def test_a_kpi_of_another_engagement_is_refused(sla, engagement_b) -> None:
    from kpitree.models import Node

    foreign = Node.objects.create(
        tree=sla.tree, code="ads", name="広告CPA", engagement=engagement_b
    )
    for key in ("node", "min_volume_node"):
        rule = {"node": sla.appts.pk, "bands": ISSUE_BANDS, key: foreign.pk, "min_volume": 10}
        with translation.override("en"), pytest.raises(ServiceError) as exc:
            rule_set_save(
                user=sla.manager,
                engagement=sla.engagement,
                data={"name": "v1", "effective_from": "2026-04", "rules": [rule]},
            )
        assert (
            exc.value.messages[0]
            == "“広告CPA” is a KPI of another engagement; choose one of this engagement."
        )
    assert RuleSet.objects.count() == 0


def test_rules_by_month_and_the_minimum_volume(sla) -> None:
    sla.month("2026-04", appts=95, calls=400)
    sla.month("2026-05", appts=95, calls=400)
    sla.rules()
    sla.rules(
        name="v2",
        effective_from="2026-05",
        rules=[
            {
                "node": sla.appts.pk,
                "bands": ISSUE_BANDS,
                "min_volume_node": sla.calls.pk,
                "min_volume": 500,
            }
        ],
    )
    assert adjustments(sla) == {"2026-04": ("open", -30_000), "2026-05": ("open", 0)}
    assert Statement.objects.get(period=MAY).lines.get().reason == "low_volume"


def test_the_back_test_of_the_rules_in_force_equals_their_statements(sla) -> None:
    for period, appts in (("2026-04", 112), ("2026-05", 95), ("2026-06", 80)):
        sla.month(period, appts=appts)
    adopted = sla.rules(cap_pct="5")
    draft = rule_set_save(
        user=sla.manager,
        engagement=sla.engagement,
        data={
            "name": "案",
            "effective_from": "2026-07",
            "rules": [
                {
                    "node": sla.appts.pk,
                    "bands": [
                        {"lower": "100", "upper": None, "pct_of_fee": "2"},
                        {"lower": None, "upper": "100", "pct_of_fee": "-2"},
                    ],
                }
            ],
        },
    )
    rows = backtest(draft)
    assert [(r.period, r.in_force.adjustment, r.draft.adjustment, r.difference) for r in rows] == [
        (APR, 50_000, 20_000, -30_000),
        (MAY, -30_000, -20_000, 10_000),
        (JUN, -50_000, -20_000, 30_000),
    ]
    stored = {s.period: s.adjustment for s in Statement.objects.all()}
    assert {r.period: r.in_force.adjustment for r in rows} == stored
    # The adopted set back-tested as a draft would be: the same yen as its statements.
    assert {r.period: r.draft.adjustment for r in backtest(adopted)} == stored
    assert Statement.objects.count() == 3  # the back-test wrote nothing


def test_recomputing_twice_writes_nothing_the_second_time(sla) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    assert statements_compute(engagement_ids=[sla.engagement.pk]).unchanged == 1
    assert Statement.objects.get().version == 1


def test_a_charge_in_an_agreed_month_is_refused(sla, vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement_accept(user=vendor_user, statement=Statement.objects.get(period=APR))
    with pytest.raises(ServiceError) as exc:
        charge_add(
            user=sla.manager,
            engagement=sla.engagement,
            period="2026-04",
            amount="50,000",
            description="追加リスト",
        )
    assert exc.value.problems[0].code == "locked"


def test_the_statements_sweep_run_twice_writes_them_once(sla) -> None:
    from money import tasks

    sla.rules()
    sla.month("2026-04", appts=95)  # approved after the rules: the sweep catches it
    assert tasks.compute_statements() == {"created": 1, "updated": 0, "unchanged": 0, "locked": 0}
    assert tasks.compute_statements() == {"created": 0, "updated": 0, "unchanged": 1, "locked": 0}
    assert StatementEvent.objects.count() == 1


def test_the_exposure_forecast_applies_the_rules_to_the_kpi_forecasts(sla) -> None:
    from django.utils import timezone

    from money.services import exposure
    from scorecard.models import KpiForecast

    sla.rules()
    nov = dt.date(2026, 11, 1)
    from kpitree.services import targets_record

    targets_record(
        user=sla.manager,
        tree=sla.tree,
        rows=[{"node": "appts", "period": "2026-11", "value": 100}],
        channel="api",
    )
    KpiForecast.objects.create(
        node=sla.appts,
        fingerprint="x",
        method="trend",
        period=APR,
        points=[["2026-11", 88.0, 80.0, 96.0]],
        computed_at=timezone.now(),
    )
    result = exposure(sla.engagement, nov)
    assert result is not None
    assert (result.adjustment, result.lines[0].achievement) == (-80_000, 88.0)
    assert Statement.objects.count() == 0  # a forecast writes nothing
