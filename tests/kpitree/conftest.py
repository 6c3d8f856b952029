import pytest

from kpitree.models import Node, Tree
from tests.factories import TreeFactory


@pytest.fixture
def tree(db) -> Tree:
    return TreeFactory(code="FY2026", name="FY2026 新規顧客獲得")


@pytest.fixture
def revenue(tree, engagement_a, engagement_b) -> dict[str, Node]:
    """売上 = 訪問数 × CVR × 平均単価, inputs owned by callnavi, one in-house, one of adbridge."""
    sales = Node.objects.create(
        tree=tree,
        code="sales",
        name="売上",
        kind="kgi",
        rollup="formula",
        formula="visits * cvr / 100 * avg_price",
        unit="円",
    )
    nodes = {"sales": sales}
    nodes["visits"] = Node.objects.create(
        tree=tree, code="visits", name="訪問数", parent=sales, engagement=engagement_a, unit="件"
    )
    nodes["cvr"] = Node.objects.create(
        tree=tree,
        code="cvr",
        name="CVR",
        parent=sales,
        engagement=engagement_a,
        unit="%",
        time_aggregation="avg",
    )
    nodes["avg_price"] = Node.objects.create(
        tree=tree,
        code="avg_price",
        name="平均単価",
        parent=sales,
        unit="円",
        time_aggregation="avg",
    )
    nodes["ads_cpa"] = Node.objects.create(
        tree=tree, code="ads_cpa", name="CPA", engagement=engagement_b, unit="円", direction="down"
    )
    return nodes


def row(node: str, period: str, value, comment: str = "", tree: str = "FY2026") -> dict:
    return {"tree": tree, "node": node, "period": period, "value": value, "comment": comment}
