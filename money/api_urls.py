"""money's REST endpoints under /api/v1/money/ (money.api)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
