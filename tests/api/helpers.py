"""Small helpers shared by the API tests (not a test module)."""

from __future__ import annotations

from django.db.models import Model


def errors_of(response) -> list[dict]:
    """The errors of a response without their messages, after checking the body's exact shape:
    {"errors": [{"field", "message", "index"?}]} with a non-empty text message each."""
    body = response.json()
    assert list(body) == ["errors"], body
    out = []
    for error in body["errors"]:
        assert set(error) in ({"field", "message"}, {"field", "message", "index"}), error
        assert isinstance(error["message"], str), error
        assert error["message"], error
        out.append({k: v for k, v in error.items() if k != "message"})
    return out


def counts(*models: type[Model]) -> dict[str, int]:
    """Row counts, to show that a refused write wrote nothing."""
    return {m.__name__: m.objects.count() for m in models}


def codes(response) -> list[str]:
    return [row["code"] for row in response.json()["results"]]


def revenue_rows(period: str = "2026-04", visits=50000, cvr=2, avg_price=10000) -> list[dict]:
    return [
        {"tree": "rev", "node": "visits", "period": period, "value": visits, "comment": ""},
        {"tree": "rev", "node": "cvr", "period": period, "value": cvr, "comment": ""},
        {"tree": "rev", "node": "avg_price", "period": period, "value": avg_price, "comment": ""},
    ]
