"""GET actuals/{tree}/{node}/{period}/: one actual by its natural key, scoped like the list."""

from kpitree.models import Actual
from tests.api.helpers import errors_of

URL = "/api/v1/actuals/rev/visits/2026-04/"


def seed(api) -> None:
    rows = [
        {"tree": "rev", "node": "visits", "period": "2026-04", "value": 50000, "comment": "速報値"},
        {"tree": "ads", "node": "clicks", "period": "2026-04", "value": 300, "comment": ""},
    ]
    assert api.post("/api/v1/actuals/bulk/", rows).status_code == 200


def without_time(body: dict) -> dict:
    assert body["updated_at"]
    return {k: v for k, v in body.items() if k != "updated_at"}


def test_it_reads_one_actual_by_tree_node_and_month(mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    response = mgr_api.get(URL)
    assert response.status_code == 200
    assert without_time(response.json()) == {
        "tree": "rev",
        "node": "visits",
        "period": "2026-04",
        "value": 50000.0,
        "comment": "速報値",
        "status": "draft",
        "channel": "api",
        "updated_by": "mgr",
    }


def test_the_id_route_is_an_alias_with_the_same_body(mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    actual = Actual.objects.get(node__code="visits")
    assert mgr_api.get(f"/api/v1/actuals/{actual.pk}/").json() == mgr_api.get(URL).json()


def test_a_vendor_reads_its_own_actual(mgr_api, vendor_api, rev_tree, ads_tree):
    seed(mgr_api)
    response = vendor_api.get(URL)
    assert response.status_code == 200
    assert (response.json()["tree"], response.json()["node"], response.json()["value"]) == (
        "rev",
        "visits",
        50000.0,
    )


def test_another_vendors_actual_answers_404_like_a_missing_one(
    mgr_api, vendor_api, other_vendor_api, rev_tree, ads_tree
):
    seed(mgr_api)
    hidden = other_vendor_api.get(URL)
    missing = other_vendor_api.get("/api/v1/actuals/rev/visits/2026-05/")
    assert (hidden.status_code, errors_of(hidden)) == (404, [{"field": None}])
    assert hidden.json() == missing.json()
    assert vendor_api.get("/api/v1/actuals/ads/clicks/2026-04/").status_code == 404
    actual = Actual.objects.get(node__code="clicks")
    assert vendor_api.get(f"/api/v1/actuals/{actual.pk}/").status_code == 404


def test_missing_and_malformed_keys_answer_404(mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    for path in (
        "rev/visits/2026-05",  # no actual that month
        "rev/nope/2026-04",  # no such node
        "nope/visits/2026-04",  # no such tree
        "ads/visits/2026-04",  # the node is in another tree
        "rev/visits/2026-13",  # not a month
        "rev/visits/2026-4",
        "rev/visits/202604",
        "rev/visits/%202026-04",
        "rev/vis%00its/2026-04",  # not a code
    ):
        response = mgr_api.get(f"/api/v1/actuals/{path}/")
        assert (response.status_code, errors_of(response)) == (404, [{"field": None}]), path


def test_anonymous_callers_get_401(anon_api, mgr_api, rev_tree, ads_tree):
    seed(mgr_api)
    response = anon_api.get(URL)
    assert (response.status_code, errors_of(response)) == (401, [{"field": None}])


def test_the_schema_documents_the_natural_key_and_deprecates_the_id(mgr_api):
    schema = mgr_api.get("/api/schema/?format=json").json()
    by_key = schema["paths"]["/api/v1/actuals/{tree_code}/{node_code}/{period}/"]["get"]
    assert not by_key.get("deprecated", False)
    assert schema["paths"]["/api/v1/actuals/{id}/"]["get"]["deprecated"] is True
