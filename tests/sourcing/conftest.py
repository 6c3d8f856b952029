"""Sourcing fixtures: an outbound-call round on 受注数 (the outcome) and アポ取得率, with three
candidates, and past actuals of both KPIs in an earlier outbound-call engagement.

Past actuals (engagement_a, outbound call): orders 90, 100, 120 (median 100); appointment rate
10, 12, 14 (median 12). The proposals:
- callnavi (existing vendor): 1,200,000円 for 100 orders and 12 % → 12,000円 an order;
- 株式会社テレコム (new): 1,000,000円 for 80 orders and 11 % → 12,500円 an order;
- 株式会社ビッグトーク (new): 900,000円 for 200 orders (200 % of the past median: unrealistic)
  and 13 % → 4,500円 an order, ranked last.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engagements.models import Engagement, User, Vendor
from sourcing import services
from sourcing.models import Tender, VendorProposal
from tests.factories import ActualFactory, NodeFactory


@pytest.fixture
def past(engagement_a: Engagement) -> None:
    orders = NodeFactory(
        code="orders", kgi=True, engagement=engagement_a, template_code="call.orders"
    )
    appt = NodeFactory(
        code="appt", parent=orders, engagement=engagement_a, template_code="call.appt_rate"
    )
    for month, (o, a) in enumerate([(90, 10), (100, 12), (120, 14)], start=4):
        period = dt.date(2026, month, 1)
        ActualFactory(node=orders, period=period, value=o)
        ActualFactory(node=appt, period=period, value=a)


@pytest.fixture
def tender(manager: User) -> Tender:
    return services.tender_create(
        user=manager,
        data={
            "name": "2027年度 テレアポ委託",
            "outsourcing_type": "outbound_call",
            "start_month": "2027-04",
            "end_month": "2027-06",
            "outcome_code": "call.orders",
            "kpis": ["call.appt_rate"],
        },
    )


def propose(
    manager: User, tender: Tender, vendor: Vendor | str, price, orders, appt
) -> VendorProposal:
    data = {"vendor": vendor} if isinstance(vendor, Vendor) else {"new_vendor_name": vendor}
    return services.proposal_save(
        user=manager,
        tender=tender,
        data={
            **data,
            "monthly_price": price,
            "promises": {"call.orders": orders, "call.appt_rate": appt},
        },
    )


@pytest.fixture
def proposals(manager, tender, vendor_a, past) -> dict[str, VendorProposal]:
    return {
        "callnavi": propose(manager, tender, vendor_a, "1,200,000円", 100, 12),
        "telecom": propose(manager, tender, "株式会社テレコム", 1_000_000, 80, 11),
        "bigtalk": propose(manager, tender, "株式会社ビッグトーク", "９０００００", 200, 13),
    }
