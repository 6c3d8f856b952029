import pytest
from rest_framework.test import APIClient

from scorecard.models import EngagementScoring

URL = "/api/v1/engagements/CALL-1/scorecard/"


@pytest.fixture
def api(supervisor) -> APIClient:
    client = APIClient()
    client.force_authenticate(supervisor)
    return client


def test_it_returns_the_scores_as_defined_in_the_contract(api, small) -> None:
    body = api.get(URL, {"period": "2026-10"}).json()
    assert body["engagement"] == "CALL-1"
    assert body["period"] == "2026-10"
    assert body["overall"] == {"score": 95.0, "status": "amber"}
    financial = body["perspectives"]["financial"]
    assert (financial["score"], financial["status"]) == (110.0, "green")
    assert [(k["node"], k["achievement"], k["status"], k["weight"]) for k in financial["kpis"]] == [
        ("fin_a", 150.0, "green", 2.0),
        ("fin_b", 90.0, "amber", 1.0),
    ]
    assert body["perspectives"]["customer"]["kpis"][0]["achievement"] == 80.0


def test_it_answers_null_for_a_perspective_without_kpi(api, small) -> None:
    body = api.get(URL, {"period": "2026-10"}).json()
    assert body["perspectives"]["process"] == {
        "score": None,
        "status": "none",
        "weight": 1.0,
        "kpis": [],
    }


def test_it_uses_the_engagements_perspective_weights(api, small, engagement_a) -> None:
    EngagementScoring.objects.create(engagement=engagement_a, financial_weight=3)
    assert api.get(URL, {"period": "2026-10"}).json()["overall"] == {
        "score": 102.5,
        "status": "green",
    }


def test_it_scores_a_quarter(api, small) -> None:
    body = api.get(URL, {"period": "2026-11", "grain": "quarter"}).json()
    assert (body["period"], body["grain"]) == ("2026-10", "quarter")
    # Q3 of the fiscal year has targets only in October: the quarter's actual/target is October's.
    assert body["overall"]["score"] == 95.0


def test_it_rejects_a_bad_period_with_the_error_format(api, small) -> None:
    response = api.get(URL, {"period": "2026-13", "grain": "week"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["period", "grain"]


def test_it_hides_another_vendors_engagement(small, other_vendor_user) -> None:
    client = APIClient()
    client.force_authenticate(other_vendor_user)
    assert client.get(URL, {"period": "2026-10"}).status_code == 404
    assert (
        client.get("/api/v1/engagements/ADS-1/scorecard/", {"period": "2026-10"}).status_code == 200
    )


def test_it_needs_authentication(small) -> None:
    assert APIClient().get(URL, {"period": "2026-10"}).status_code in (401, 403)


def test_the_schema_describes_it(api, db) -> None:
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/engagements/{code}/scorecard/" in schema["paths"]
