"""Money (issue 14) with two real workers on PostgreSQL and a private Redis: approving a month
computes its statement in a worker, once, however many sweeps run on both workers at once."""

from __future__ import annotations

import pytest

from kpitree.services import targets_record
from money.models import Statement, StatementEvent
from money.services import rule_set_adopt, rule_set_save
from money.tasks import compute_statements
from portal.services import workflow
from tests.integration.conftest import Broker, wait_for
from tests.integration.test_recompute_pipeline import (
    MONTHS,
    api_client,
    cast,
    post_actual,
    settled,
    small_tree,
    task_failures,
    tasks_run,
)

pytestmark = pytest.mark.django_db(transaction=True)

BANDS = [
    {"lower": "110", "upper": None, "pct_of_fee": "5"},
    {"lower": "90", "upper": "100", "pct_of_fee": "-3"},
    {"lower": None, "upper": "90", "pct_of_fee": "-8"},
]


def test_an_approved_month_gets_one_statement_from_two_workers(
    private_broker: Broker, start_worker
) -> None:
    workers = [start_worker(f"money-{x}", env=private_broker.env) for x in "ab"]
    engagement, vendor_user, manager = cast("MONEY")
    engagement.monthly_fee = 1_000_000
    engagement.save()
    tree, _total = small_tree("IT-MONEY", engagement, ["appts"])
    month = MONTHS[4]  # an ended month of the plan
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "appts", "period": f"{month:%Y-%m}", "value": 100}],
        channel="system",
    )
    rule_set_adopt(
        user=manager,
        rule_set=rule_set_save(
            user=manager,
            engagement=engagement,
            data={
                "name": "SLA",
                "effective_from": f"{MONTHS[0]:%Y-%m}",
                "rules": [{"node": "appts", "bands": BANDS}],
            },
        ),
    )
    client = api_client(vendor_user.username, "pw-vendor-123")
    assert post_actual(client, tree, "appts", month, 95).status_code == 200  # 95 %: −3 %
    wait_for(lambda: settled(tree, private_broker), 30, message="the actual's recompute")
    workflow.submission_submit(user=vendor_user, engagement=engagement, period=month)
    workflow.submission_approve(user=manager, engagement=engagement, period=month)

    wait_for(
        lambda: Statement.objects.filter(engagement=engagement, period=month).exists(),
        60,
        message="the statement computed by a worker",
    )
    for _ in range(6):  # sweeps on both workers at once: nothing more is written
        compute_statements.delay(engagement.pk)
    wait_for(
        lambda: sum(tasks_run(w, "money.compute_statements") for w in workers) >= 7,
        60,
        message="the sweeps",
    )
    (statement,) = Statement.objects.filter(engagement=engagement)
    assert (statement.status, statement.adjustment, statement.version) == ("open", -30_000, 1)
    assert StatementEvent.objects.filter(statement=statement).count() == 1
    assert task_failures(private_broker, workers) == []


def test_lines_are_copied_in_with_their_blank_fields_on_postgresql() -> None:
    """Above kpitree.bulk.COPY_FROM rows the lines go in by COPY, which fills no defaults: the
    dispute and resolution texts must be written as blanks (the bench caught it)."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from money.services.statements import _insert_lines

    engagement, _vendor_user, _manager = cast("MONEY-COPY")
    from money.models import RuleSet

    rule_set = RuleSet.objects.create(engagement=engagement, name="SLA", effective_from=MONTHS[0])
    statement = Statement.objects.create(
        engagement=engagement,
        period=dt.date(2026, 4, 1),
        rule_set=rule_set,
        fee=1,
        exact_adjustment=Decimal(0),
        adjustment=0,
        computed_at=timezone.now(),
    )
    row = {
        "kind": "band",
        "node_id": None,
        "achievement": 95.0,
        "volume": None,
        "pct_of_fee": Decimal("-3"),
        "amount": Decimal("-30000"),
        "reason": "band",
        "params": {"kpi": "アポ数"},
    }
    _insert_lines([(statement.pk, {**row, "position": i}) for i in range(600)])
    lines = statement.lines.all()
    assert lines.count() == 600
    assert set(lines.values_list("dispute", "resolution")) == {("", "")}
    assert {str(p) for p in lines.values_list("params", flat=True)} == {"{'kpi': 'アポ数'}"}
