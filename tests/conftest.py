"""Shared fixtures: the demo-like cast of users, and Celery run eagerly for unit tests.

The fixtures are made with tests/factories.py; use the factories for any other row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from engagements.models import Engagement, Role, User, Vendor
from tests.factories import EngagementFactory, UserFactory, VendorFactory


def pytest_configure(config: pytest.Config) -> None:
    # Every layer makes users; the production hasher (~0.3-0.8 s a hash) would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_eager(request: pytest.FixtureRequest) -> None:
    # Unit and browser tests run tasks in-process; the integration suite uses a real worker.
    if "integration" in request.node.keywords:
        return
    from kpi_planner.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # The API's throttles count in the cache (a local-memory one in tests): each test starts
    # with no request counted.
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # Each test starts in the default language (ja), whatever an earlier test activated.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def make_user(username: str, role: str, vendor: Vendor | None = None, **extra) -> User:
    """A user without a name (pages show the username), password `pw-<username>`."""
    names = {"first_name": "", "last_name": "", **extra}
    return UserFactory(username=username, role=role, vendor=vendor, **names)


@pytest.fixture
def vendor_a(db) -> Vendor:
    return VendorFactory(code="callnavi", name="株式会社コールナビ")


@pytest.fixture
def vendor_b(db) -> Vendor:
    return VendorFactory(code="adbridge", name="株式会社アドブリッジ")


@pytest.fixture
def engagement_a(vendor_a: Vendor) -> Engagement:
    return EngagementFactory(
        code="CALL-1",
        name="テレアポ",
        vendor=vendor_a,
        outsourcing_type="outbound_call",
        phase="improvement",
        monthly_fee=1_200_000,
    )


@pytest.fixture
def engagement_b(vendor_b: Vendor) -> Engagement:
    return EngagementFactory(
        code="ADS-1",
        name="広告運用",
        vendor=vendor_b,
        outsourcing_type="marketing",
        phase="expansion",
        monthly_fee=800_000,
    )


@pytest.fixture
def manager(db) -> User:
    return make_user("mgr", Role.MANAGER)


@pytest.fixture
def supervisor(db) -> User:
    return make_user("sv", Role.SUPERVISOR)


@pytest.fixture
def vendor_user(vendor_a: Vendor) -> User:
    return make_user("vend", Role.VENDOR, vendor_a)


@pytest.fixture
def other_vendor_user(vendor_b: Vendor) -> User:
    return make_user("vend_b", Role.VENDOR, vendor_b)


@pytest.fixture
def viewer(db) -> User:
    return make_user("view", Role.VIEWER, language="en")
