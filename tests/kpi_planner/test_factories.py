"""The test factories (tests/factories.py) make rows the models' own validation accepts."""

from __future__ import annotations

import datetime as dt

import pytest

from kpi_planner.codes import is_code
from kpi_planner.roles import Role
from tests.factories import (
    ActualFactory,
    EngagementFactory,
    NodeFactory,
    TargetFactory,
    TreeFactory,
    UserFactory,
    VendorFactory,
)


@pytest.mark.parametrize(
    "factory",
    [VendorFactory, EngagementFactory, TreeFactory, NodeFactory, TargetFactory, ActualFactory],
)
def test_its_defaults_pass_the_models_validation(db, factory) -> None:
    obj = factory()
    obj.full_clean()
    if hasattr(obj, "code"):
        assert is_code(obj.code)
    for name in ("start_month", "end_month", "period"):
        value = getattr(obj, name, None)
        assert value is None or (isinstance(value, dt.date) and value.day == 1)


@pytest.mark.parametrize("role", list(Role))
def test_a_user_of_each_role_is_valid_and_logs_in_with_its_password(db, role) -> None:
    user = UserFactory(role=role)
    user.full_clean()
    assert (user.vendor is not None) == (role == Role.VENDOR)
    assert user.is_staff == (role == Role.MANAGER)
    assert user.check_password(f"pw-{user.username}")
    assert user.password.startswith("md5$")  # the suite's fast hasher (tests/conftest.py)


def test_a_child_node_goes_in_its_parents_tree(db) -> None:
    kgi = NodeFactory(kgi=True)
    assert NodeFactory(parent=kgi).tree == kgi.tree
    assert kgi.kind == "kgi"
