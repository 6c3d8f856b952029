"""The monthly grid loads in a fixed number of queries (6 KPIs or 60), and saving it is one
transaction: a failure after the values were written leaves nothing behind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kpitree.models import Actual, Node, Target, Tree
from kpitree.services import actuals_record
from portal.services import workflow


def url(engagement) -> str:
    return f"/portal/engagements/{engagement.code}/2026-10/"


def engagement_with(base, n: int):
    """A copy of CALL-1 (same vendor) named CALL-<n>, with its own tree of n input KPIs."""
    engagement = type(base).objects.create(
        code=f"CALL-{n}",
        name=f"{n} KPIs",
        vendor=base.vendor,
        outsourcing_type=base.outsourcing_type,
        phase=base.phase,
        start_month=base.start_month,
        end_month=base.end_month,
    )
    return engagement, build(engagement, n)


def build(engagement, n: int) -> list[Node]:
    tree = Tree.objects.create(
        code=f"T{engagement.code}",
        name="big",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
    )
    kgi = Node.objects.create(tree=tree, code="kgi", name="KGI", kind="kgi", rollup="sum")
    nodes = Node.objects.bulk_create(
        Node(
            tree=tree, code=f"k{i}", name=f"KPI {i}", parent=kgi, engagement=engagement, position=i
        )
        for i in range(n)
    )
    Target.objects.bulk_create(
        Target(node=node, period=dt.date(2026, 10, 1), value=100) for node in nodes
    )
    return nodes


def filled(nodes, period="2026-09") -> list[dict]:
    return [
        {"tree": n.tree.code, "node": n.code, "period": period, "value": i, "comment": "理由"}
        for i, n in enumerate(nodes)
    ]


def grid_queries(client, user, base, n: int) -> int:
    engagement, nodes = engagement_with(base, n)
    actuals_record(user=user, rows=filled(nodes), channel="web")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(engagement))
    assert response.status_code == 200
    assert len(response.context["rows"]) == n
    return len(queries)


def test_it_loads_the_grid_in_the_same_number_of_queries_for_6_and_60_kpis(
    client, vendor_user, engagement_a, frozen_now
):
    client.force_login(vendor_user)
    small = grid_queries(client, vendor_user, engagement_a, 6)
    large = grid_queries(client, vendor_user, engagement_a, 60)
    assert small == large
    assert large <= 16


def test_it_saves_a_60_kpi_month_in_a_fixed_number_of_queries(
    client, vendor_user, engagement_a, frozen_now
):
    client.force_login(vendor_user)
    client.get("/portal/")  # the session is settled before counting
    counts = []
    for n in (6, 60):
        engagement, nodes = engagement_with(engagement_a, n)
        post = {f"value-{node.pk}": str(i) for i, node in enumerate(nodes)}
        with CaptureQueriesContext(connection) as queries:
            assert client.post(url(engagement), {**post, "do": "save"}).status_code == 302
        counts.append(len(queries))
        assert Actual.objects.filter(node__engagement=engagement).count() == n
    assert counts[0] == counts[1]


@pytest.mark.django_db(transaction=True)
def test_it_saves_the_month_in_one_transaction(
    client, vendor_user, engagement_a, frozen_now, monkeypatch
):
    engagement, nodes = engagement_with(engagement_a, 3)
    client.force_login(vendor_user)

    def crash(*args, **kwargs):
        raise RuntimeError("after the values were written")

    monkeypatch.setattr(workflow, "after_write", crash)
    post = {f"value-{node.pk}": "5" for node in nodes}
    client.raise_request_exception = False
    response = client.post(url(engagement), {**post, "do": "save"})
    assert response.status_code == 500
    assert Actual.objects.count() == 0
