"""sourcing's REST endpoints under /api/v1/sourcing/ (sourcing.api)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
