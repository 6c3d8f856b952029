"""factory_boy factories for test setup: users, vendors, engagements, trees, nodes, values.

Defaults are valid for the models' own validation (`full_clean`, see
tests/kpi_planner/test_factories.py): codes match kpi_planner.codes.CODE_RE, months are the
first of the month and the plan is FY2026 (2026-04 .. 2027-03), like most fixtures here.

The factories write through the ORM, not through the services (engagements/services.py,
kpitree.services). That is fine for fixtures, but it skips what the services add: no audit rows,
no RollupChange, no data_version bump, no recompute. A test of those behaviours writes through
the service it tests; `TargetFactory` and `ActualFactory` are for state a test only reads.

    manager = UserFactory(role=Role.MANAGER)
    vend = UserFactory(role=Role.VENDOR)               # with a vendor of its own
    tree = TreeFactory(code="FY2026")
    kgi = NodeFactory(tree=tree, kind=Kind.KGI, rollup=RollupRule.SUM)
    kpi = NodeFactory(parent=kgi, engagement=EngagementFactory(vendor=vend.vendor))
"""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth.hashers import make_password
from factory.django import DjangoModelFactory

from engagements.models import Engagement, OutsourcingType, Phase, User, Vendor
from kpi_planner.roles import Role
from kpitree.models import Actual, Kind, Node, Target, Tree

FIRST_MONTH = dt.date(2026, 4, 1)
LAST_MONTH = dt.date(2027, 3, 1)


class UserFactory(DjangoModelFactory):
    """A user whose password is `pw-<username>` (or `raw_password=`), hashed with the hasher
    the suite configures (MD5, tests/conftest.py). A vendor user gets a vendor unless given one;
    no other role gets a vendor by default (User.clean)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        raw_password = factory.LazyAttribute(lambda o: f"pw-{o.username}")

    username = factory.Sequence(lambda n: f"user{n}")
    last_name = factory.Iterator(["佐藤", "鈴木", "高橋", "田中", "伊藤"])
    first_name = factory.Iterator(["健", "美咲", "翔太", "陽菜", "大輔"])
    role = Role.VIEWER
    vendor = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role == Role.VENDOR),
        yes_declaration=factory.SubFactory("tests.factories.VendorFactory"),
        no_declaration=None,
    )
    password = factory.LazyAttribute(lambda o: make_password(o.raw_password))


class VendorFactory(DjangoModelFactory):
    class Meta:
        model = Vendor

    code = factory.Sequence(lambda n: f"vendor-{n}")
    name = factory.Sequence(lambda n: f"株式会社ベンダー{n}")


class EngagementFactory(DjangoModelFactory):
    class Meta:
        model = Engagement

    code = factory.Sequence(lambda n: f"ENG-{n}")
    name = factory.Sequence(lambda n: f"外注業務{n}")
    vendor = factory.SubFactory(VendorFactory)
    outsourcing_type = OutsourcingType.OUTBOUND_CALL
    phase = Phase.IMPROVEMENT
    start_month = FIRST_MONTH
    end_month = LAST_MONTH
    monthly_fee = 1_000_000


class TreeFactory(DjangoModelFactory):
    class Meta:
        model = Tree

    code = factory.Sequence(lambda n: f"TREE-{n}")
    name = factory.Sequence(lambda n: f"KPIツリー{n}")
    start_month = FIRST_MONTH
    end_month = LAST_MONTH


class NodeFactory(DjangoModelFactory):
    """An input KPI (the model's defaults). Given a `parent`, it goes in the parent's tree."""

    class Meta:
        model = Node

    class Params:
        kgi = factory.Trait(kind=Kind.KGI)

    parent = None
    tree = factory.Maybe(
        "parent",
        yes_declaration=factory.SelfAttribute("parent.tree"),
        no_declaration=factory.SubFactory(TreeFactory),
    )
    code = factory.Sequence(lambda n: f"node{n}")
    name = factory.Sequence(lambda n: f"指標{n}")


class TargetFactory(DjangoModelFactory):
    """A target written straight to the table: no audit row, no recompute (see the module).
    Set by a manager unless `updated_by=` says who (the model requires one in full_clean)."""

    class Meta:
        model = Target

    node = factory.SubFactory(NodeFactory)
    period = FIRST_MONTH
    value = 100.0
    updated_by = factory.SubFactory(UserFactory, role=Role.MANAGER)


class ActualFactory(DjangoModelFactory):
    """An actual written straight to the table: no audit row, no recompute (see the module).
    Entered by a manager on the web unless `updated_by=` and `channel=` say otherwise."""

    class Meta:
        model = Actual

    node = factory.SubFactory(NodeFactory)
    period = FIRST_MONTH
    value = 100.0
    updated_by = factory.SubFactory(UserFactory, role=Role.MANAGER)
