import pytest
from rest_framework.test import APIClient

from engagements.demo import seed_accounts_and_engagements
from engagements.models import User
from kpitree.demo import seed_trees
from tests.factories import TreeFactory


@pytest.fixture
def demo(db) -> None:
    seed_accounts_and_engagements()
    seed_trees()


def client_for(username: str, language: str = "ja") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    user = User.objects.get(username=username)
    user.language = language
    user.save()
    client.force_authenticate(user)
    return client


def test_it_lists_the_demo_trees_findings_in_the_callers_language(demo) -> None:
    response = client_for("manager", "en").get("/api/v1/trees/FY2026-ACQ/lint/")
    assert response.status_code == 200
    findings = response.json()
    assert {
        "rule",
        "severity",
        "node",
        "message",
        "advice",
        "field",
        "subject",
        "acknowledged",
    } == set(findings[0])
    by_rule = {(f["rule"], f["node"]) for f in findings}
    assert ("no-risk-kpi", None) in by_rule
    assert ("no-owner", "quality") not in by_rule  # an in-house KPI owned by a department
    assert ("orphan-kpi", "ads_cpa") in by_rule  # ads_cpa hangs under no KGI in the demo


def test_it_answers_404_for_a_tree_a_vendor_cannot_see(demo) -> None:
    TreeFactory(code="HIDDEN", name="x")
    assert client_for("vendor").get("/api/v1/trees/HIDDEN/lint/").status_code == 404


def test_it_is_described_in_the_schema(demo) -> None:
    schema = client_for("manager").get("/api/schema/").content.decode()
    assert "/api/v1/trees/{tree_code}/lint/" in schema
