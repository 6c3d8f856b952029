"""On PostgreSQL the rollup API's nodes are written as JSON by the database: the same
answer, number for number and node for node, as the Python read the other databases use."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from kpitree.models import Rollup
from kpitree.queries import rollup_nodes, rollup_nodes_json
from kpitree.recompute import tree_recompute
from kpitree.services import actuals_record, targets_record
from tests.api.conftest import rev_tree  # noqa: F401 - the fixture

APR = dt.date(2026, 4, 1)


@pytest.fixture
def recorded(manager, rev_tree):  # noqa: F811
    actuals_record(
        user=manager,
        rows=[
            {"tree": "rev", "node": "visits", "period": "2026-04", "value": 50_000},
            {"tree": "rev", "node": "cvr", "period": "2026-04", "value": 2},
            {"tree": "rev", "node": "avg_price", "period": "2026-04", "value": 10_000},
            {"tree": "rev", "node": "ad_clicks", "period": "2026-04", "value": 7},
        ],
        channel="api",
    )
    targets_record(
        user=manager,
        tree=rev_tree,
        rows=[{"node": "sales", "period": "2026-04", "value": 12_500_000}],
        channel="api",
    )
    tree_recompute(tree_id=rev_tree.pk, full=True)
    return rev_tree


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["manager", "vendor_user", "other_vendor_user"])
def test_the_database_json_equals_the_python_read(request, recorded, who) -> None:
    user = request.getfixturevalue(who)
    for grain, start in (("month", APR), ("quarter", APR), ("year", APR)):
        assert json.loads(rollup_nodes_json(user, recorded, grain, start)) == rollup_nodes(
            user, recorded, grain, start
        )
    # Rows stored before fragments existed are formatted by PostgreSQL, to the same answer.
    Rollup.objects.update(fragment="")
    assert json.loads(rollup_nodes_json(user, recorded, "month", APR)) == rollup_nodes(
        user, recorded, "month", APR
    )


@pytest.mark.django_db
def test_the_api_answers_the_worked_example(manager, recorded) -> None:
    client = APIClient()
    client.force_authenticate(manager)
    body = client.get("/api/v1/trees/rev/rollup/?period=2026-04&grain=month").json()
    assert body["stale"] is False
    sales = next(n for n in body["nodes"] if n["node"] == "sales")
    assert sales == {
        "node": "sales",
        "actual": 10_000_000.0,
        "target": 12_500_000.0,
        "achievement": 80.0,
        "status": "red",
        "computed": True,
    }
    assert [n["node"] for n in body["nodes"]] == [
        "sales",
        "visits",
        "cvr",
        "avg_price",
        "ad_clicks",
    ]
