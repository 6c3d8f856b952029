import datetime as dt

import pytest
from rest_framework.test import APIClient

from engagements.models import Engagement, Role, User, Vendor
from kpitree.models import Node, Tree
from tests.integration.conftest import wait_for


@pytest.mark.django_db(transaction=True)
def test_a_bulk_write_is_rolled_up_by_the_worker(celery_worker_process) -> None:
    vendor = Vendor.objects.create(code="adbridge", name="株式会社アドブリッジ")
    engagement = Engagement.objects.create(
        code="ADS-1",
        name="広告運用",
        vendor=vendor,
        outsourcing_type="marketing",
        phase="expansion",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
    )
    User.objects.create_user("vend", password="pw-vend-123", role=Role.VENDOR, vendor=vendor)
    tree = Tree.objects.create(
        code="FY2026",
        name="売上計画",
        start_month=dt.date(2026, 4, 1),
        end_month=dt.date(2027, 3, 1),
    )
    sales = Node.objects.create(
        tree=tree,
        code="sales",
        name="売上",
        rollup="formula",
        formula="visits * cvr / 100 * avg_price",
        engagement=engagement,
    )
    for code in ("visits", "cvr", "avg_price"):
        Node.objects.create(tree=tree, code=code, name=code, parent=sales, engagement=engagement)

    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "vend", "password": "pw-vend-123"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    payload = [
        {
            "tree": "FY2026",
            "node": "visits",
            "period": "2026-04",
            "value": 50000,
            "comment": "展示会",
        },
        {"tree": "FY2026", "node": "cvr", "period": "2026-04", "value": 2},
        {"tree": "FY2026", "node": "avg_price", "period": "2026-04", "value": 10000},
    ]
    response = client.post("/api/v1/actuals/bulk/", payload, format="json")
    assert response.status_code == 200
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0}

    def sales_actual():
        body = client.get("/api/v1/trees/FY2026/rollup/?period=2026-04&grain=month").json()
        node = {n["node"]: n for n in body["nodes"]}["sales"]
        return node if node["actual"] is not None else None

    sales_row = wait_for(sales_actual, timeout=60)
    assert sales_row == {
        "node": "sales",
        "actual": 10_000_000.0,
        "target": None,
        "achievement": None,
        "status": "none",
        "computed": True,
    }
    tree.refresh_from_db()
    assert tree.computed_version == tree.data_version == 1
