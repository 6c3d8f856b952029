"""API fixtures: a token-authenticated client per role and two small trees.

`rev` is the worked revenue tree: KGI `sales` (in-house, formula
`visits * cvr / 100 * avg_price`) over the inputs `visits`, `cvr` and `avg_price` owned by
CALL-1 (vendor callnavi), plus `ad_clicks` owned by ADS-1 (vendor adbridge).
`ads` holds only ADS-1's node `clicks`, so callnavi's users cannot see it.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from engagements.services import token_create, token_used
from kpitree import services
from kpitree.models import Node, Tree
from tests.factories import TreeFactory


def client_for(user) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    token, key = token_create(user=user, name="tests")
    # Noted as just used: the first request does not write last_used_at (at most once a minute),
    # so that tests counting a request's queries count the same for every request.
    token_used(token, timezone.now())
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def anon_api(db) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture
def mgr_api(manager) -> APIClient:
    return client_for(manager)


@pytest.fixture
def sv_api(supervisor) -> APIClient:
    return client_for(supervisor)


@pytest.fixture
def vendor_api(vendor_user) -> APIClient:
    return client_for(vendor_user)


@pytest.fixture
def other_vendor_api(other_vendor_user) -> APIClient:
    return client_for(other_vendor_user)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return client_for(viewer)


def add_node(user, tree: Tree, code: str, **data) -> Node:
    return services.node_save(
        user=user, node=Node(tree=tree), data={"code": code, "name": code, **data}
    )


@pytest.fixture
def rev_tree(manager, engagement_a, engagement_b) -> Tree:
    tree = TreeFactory(code="rev", name="売上ツリー")
    sales = add_node(manager, tree, "sales", name="売上", kind="kgi", rollup="formula", unit="円")
    add_node(
        manager, tree, "visits", name="訪問数", parent=sales, engagement=engagement_a, unit="件"
    )
    add_node(
        manager,
        tree,
        "cvr",
        name="CVR",
        parent=sales,
        engagement=engagement_a,
        unit="%",
        time_aggregation="avg",
    )
    add_node(
        manager,
        tree,
        "avg_price",
        name="客単価",
        parent=sales,
        engagement=engagement_a,
        unit="円",
        time_aggregation="avg",
    )
    add_node(
        manager,
        tree,
        "ad_clicks",
        name="広告クリック",
        parent=sales,
        engagement=engagement_b,
        unit="件",
    )
    services.node_save(user=manager, node=sales, data={"formula": "visits * cvr / 100 * avg_price"})
    return tree


@pytest.fixture
def ads_tree(manager, engagement_b) -> Tree:
    tree = TreeFactory(code="ads", name="広告ツリー")
    add_node(
        manager, tree, "clicks", name="クリック数", kind="kgi", engagement=engagement_b, unit="件"
    )
    return tree
