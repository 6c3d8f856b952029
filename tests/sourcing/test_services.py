"""Opening a round, saving and withdrawing proposals, and choosing one (sourcing.services)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from engagements.models import Engagement, Vendor
from kpi_planner.errors import ServiceError
from kpitree.models import Node, Target, Tree
from money.models import Band, RuleSet
from sourcing import queries, services
from sourcing.models import Promise, Tender, TenderKpi, VendorProposal
from tests.sourcing.conftest import propose


def fields(exc: pytest.ExceptionInfo) -> list[tuple[str | None, str]]:
    return [(p.field, p.message) for p in exc.value.problems]


def test_it_opens_a_round_with_the_catalogue_kpis_and_their_benchmarks(manager) -> None:
    tender = services.tender_create(
        user=manager,
        data={
            "name": "サポート委託",
            "outsourcing_type": "support",
            "start_month": "2027-04",
            "end_month": "2028-03",
            "outcome_code": "support.csat",
            "kpis": "support.first_response, support.csat",
        },
    )
    assert (tender.status, tender.outcome_code, tender.start_month, tender.end_month) == (
        "open",
        "support.csat",
        dt.date(2027, 4, 1),
        dt.date(2028, 3, 1),
    )
    assert list(tender.kpis.values_list("template_code", "unit", "direction", "benchmark")) == [
        ("support.csat", "%", "up", 80.0),
        ("support.first_response", "時間", "down", 24.0),
    ]
    assert tender.created_by == manager


def test_it_refuses_a_bad_round_and_writes_nothing(manager) -> None:
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.tender_create(
            user=manager,
            data={
                "name": " ",
                "outsourcing_type": "consulting",
                "start_month": "2027-04",
                "end_month": "2027-03",
                "outcome_code": "call.nothing",
                "kpis": ["call.appt_rate"],
            },
        )
    assert fields(exc) == [
        ("name", "Name the round."),
        ("outsourcing_type", "Choose an outsourcing type."),
        ("end_month", "The end month is before the start month."),
        ("outcome_code", "“call.nothing” is not a KPI of the catalogue."),
    ]
    assert (Tender.objects.count(), TenderKpi.objects.count()) == (0, 0)


def test_it_refuses_anyone_but_a_manager(supervisor, tender) -> None:
    with pytest.raises(ServiceError) as exc:
        services.proposal_save(user=supervisor, tender=tender, data={})
    assert exc.value.status == 403
    assert VendorProposal.objects.count() == 0


def test_it_saves_a_proposal_with_an_existing_or_a_new_vendor(proposals, vendor_a) -> None:
    callnavi, telecom = proposals["callnavi"], proposals["telecom"]
    assert (callnavi.vendor, callnavi.monthly_price) == (vendor_a, 1_200_000)
    assert (telecom.vendor.name, telecom.vendor.code, telecom.monthly_price) == (
        "株式会社テレコム",
        "vendor",
        1_000_000,
    )
    assert proposals["bigtalk"].vendor.code == "vendor-2"
    assert proposals["bigtalk"].monthly_price == 900_000
    assert sorted(Promise.objects.filter(proposal=telecom).values_list("value", flat=True)) == [
        11.0,
        80.0,
    ]


def test_it_takes_an_existing_vendor_by_its_name(manager, tender, vendor_a) -> None:
    proposal = propose(manager, tender, "株式会社コールナビ", 1_000_000, 90, 12)
    assert proposal.vendor == vendor_a
    assert Vendor.objects.count() == 1


@pytest.mark.parametrize(
    ("price", "promises", "problems"),
    [
        (
            "0",
            {"call.orders": 100, "call.appt_rate": 12},
            [("monthly_price", "Enter the monthly price as a whole number of yen above zero.")],
        ),
        (
            "1200000.5",
            {"call.orders": 100, "call.appt_rate": 12},
            [("monthly_price", "Enter the monthly price as a whole number of yen above zero.")],
        ),
        (
            "百万",
            {"call.orders": "たくさん", "call.ctr": 1},
            [
                ("monthly_price", "Enter the monthly price as a whole number of yen above zero."),
                ("promises", "“call.ctr” is not a KPI of this round."),
                ("promises.call.orders", "Enter the promised monthly Orders won."),
                ("promises.call.appt_rate", "Enter the promised monthly Appointment rate."),
            ],
        ),
        (
            1_000_000,
            {"call.orders": -1, "call.appt_rate": 12},
            [("promises.call.orders", "The promise for Orders won cannot be negative.")],
        ),
    ],
)
def test_it_refuses_a_bad_proposal_and_writes_nothing(
    manager, tender, price, promises, problems
) -> None:
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.proposal_save(
            user=manager,
            tender=tender,
            data={
                "new_vendor_name": "株式会社テレコム",
                "monthly_price": price,
                "promises": promises,
            },
        )
    assert fields(exc) == problems
    assert (VendorProposal.objects.count(), Promise.objects.count(), Vendor.objects.count()) == (
        0,
        0,
        0,
    )


def test_it_refuses_a_second_proposal_of_a_vendor(manager, proposals, tender, vendor_a) -> None:
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        propose(manager, tender, vendor_a, 1, 1, 1)
    assert fields(exc) == [
        ("vendor", "株式会社コールナビ already has a proposal in this round; change that one.")
    ]
    assert VendorProposal.objects.count() == 3


def test_it_changes_a_proposal_in_place(manager, tender, proposals) -> None:
    proposal = services.proposal_save(
        user=manager,
        tender=tender,
        proposal=proposals["telecom"],
        data={"monthly_price": "960,000", "promises": {"call.orders": 96, "call.appt_rate": 11}},
    )
    assert (proposal.pk, proposal.monthly_price) == (proposals["telecom"].pk, 960_000)
    assert Promise.objects.filter(proposal=proposal).count() == 2
    assert (
        Promise.objects.get(proposal=proposal, tender_kpi__template_code="call.orders").value == 96
    )


def test_a_withdrawn_proposal_is_kept_and_no_longer_ranked(manager, tender, proposals) -> None:
    services.proposal_withdraw(user=manager, proposal=proposals["callnavi"], reason="辞退")
    withdrawn = VendorProposal.objects.get(pk=proposals["callnavi"].pk)
    assert (withdrawn.withdrawn_by, withdrawn.withdraw_reason) == (manager, "辞退")
    comparison = queries.comparison(tender)
    assert [r.vendor for r in comparison.ranked] == ["株式会社テレコム", "株式会社ビッグトーク"]
    assert comparison.withdrawn == [withdrawn]


def test_it_compares_with_past_actuals_of_the_same_outsourcing_type(tender, proposals) -> None:
    comparison = queries.comparison(tender)
    assert [(k.code, k.past_median, k.past_months) for k in comparison.kpis] == [
        ("call.orders", 100.0, 3),
        ("call.appt_rate", 12.0, 3),
    ]
    assert [(r.vendor, r.cost_per_outcome, r.unrealistic) for r in comparison.ranked] == [
        ("株式会社コールナビ", 12_000, False),
        ("株式会社テレコム", 12_500, False),
        ("株式会社ビッグトーク", 4_500, True),
    ]


def test_past_actuals_of_another_outsourcing_type_do_not_count(manager, engagement_b) -> None:
    from tests.factories import ActualFactory, NodeFactory

    node = NodeFactory(engagement=engagement_b, template_code="call.orders")
    ActualFactory(node=node, value=5)
    assert queries.past_medians("outbound_call", ["call.orders"]) == {}
    assert queries.past_medians("marketing", ["call.orders"]) == {"call.orders": (5.0, 1)}


def test_choosing_makes_the_engagement_its_tree_targets_and_adopted_rules(
    manager, tender, proposals
) -> None:
    chosen = proposals["telecom"]
    decided = services.tender_choose(
        user=manager,
        proposal=chosen,
        data={"code": "CALL-2027", "name": "テレアポ 2027", "manager": manager.username},
    )
    engagement = Engagement.objects.get(code="CALL-2027")
    assert (decided.status, decided.chosen, decided.engagement) == ("decided", chosen, engagement)
    assert (
        engagement.vendor,
        engagement.outsourcing_type,
        engagement.phase,
        engagement.start_month,
        engagement.end_month,
        engagement.monthly_fee,
        engagement.manager,
    ) == (
        chosen.vendor,
        "outbound_call",
        "launch",
        dt.date(2027, 4, 1),
        dt.date(2027, 6, 1),
        1_000_000,
        manager,
    )
    tree = Tree.objects.get(code="CALL-2027")
    nodes = list(Node.objects.filter(tree=tree).order_by("pk"))
    assert [(n.code, n.kind, n.parent_id, n.template_code, n.engagement_id) for n in nodes] == [
        ("call_orders", "kgi", None, "call.orders", engagement.pk),
        ("call_appt_rate", "kpi", nodes[0].pk, "call.appt_rate", engagement.pk),
    ]
    targets = Target.objects.filter(node__tree=tree).order_by("node_id", "period")
    assert [(t.node.code, t.period.month, t.value, t.rationale) for t in targets] == [
        ("call_orders", 4, 80.0, "agreement"),
        ("call_orders", 5, 80.0, "agreement"),
        ("call_orders", 6, 80.0, "agreement"),
        ("call_appt_rate", 4, 11.0, "agreement"),
        ("call_appt_rate", 5, 11.0, "agreement"),
        ("call_appt_rate", 6, 11.0, "agreement"),
    ]
    rule_set = RuleSet.objects.get(engagement=engagement)
    assert (rule_set.status, rule_set.effective_from, rule_set.adopted_by) == (
        "adopted",
        dt.date(2027, 4, 1),
        manager,
    )
    rule = rule_set.rules.get()
    assert rule.node == nodes[0]
    bands = Band.objects.filter(rule=rule).order_by("lower")
    assert [
        (b.lower and float(b.lower), b.upper and float(b.upper), float(b.pct_of_fee)) for b in bands
    ] == [(None, 90.0, -8.0), (90.0, 100.0, -3.0), (110.0, None, 5.0)]


def test_a_refused_choice_writes_nothing(manager, tender, proposals, engagement_a) -> None:
    before = (Engagement.objects.count(), Tree.objects.count(), Target.objects.count())
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.tender_choose(
            user=manager,
            proposal=proposals["telecom"],
            data={"code": "CALL-2027", "bands": [{"lower": 90, "upper": 80, "pct_of_fee": 1}]},
        )
    assert fields(exc) == [("bands", "The band from 90% below 80% is empty.")]
    assert (Engagement.objects.count(), Tree.objects.count(), Target.objects.count()) == before
    assert RuleSet.objects.count() == 0
    assert Tender.objects.get(pk=tender.pk).status == "open"


def test_it_refuses_a_taken_engagement_code(manager, tender, proposals, engagement_a) -> None:
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.tender_choose(user=manager, proposal=proposals["telecom"], data={"code": "CALL-1"})
    assert [p.field for p in exc.value.problems] == ["code"]
    assert Engagement.objects.count() == 1


def test_a_decided_round_takes_no_more_changes(manager, tender, proposals) -> None:
    services.tender_choose(user=manager, proposal=proposals["telecom"], data={"code": "CALL-2027"})
    for write in (
        lambda: services.tender_choose(
            user=manager, proposal=proposals["callnavi"], data={"code": "CALL-2028"}
        ),
        lambda: services.proposal_withdraw(user=manager, proposal=proposals["callnavi"]),
        lambda: propose(manager, tender, "株式会社あとから", 1, 1, 1),
    ):
        with pytest.raises(ServiceError) as exc:
            write()
        assert exc.value.status == 409
    assert Engagement.objects.filter(code="CALL-2028").exists() is False
    assert VendorProposal.objects.filter(withdrawn_at__isnull=False).count() == 0


def test_choosing_designates_a_counted_outcome_as_the_acquired_customers(
    manager, tender, proposals
) -> None:
    from money.models import MoneySettings

    services.tender_choose(
        user=manager, proposal=proposals["telecom"], data={"code": "CALL-2027", "name": "x"}
    )
    settings = MoneySettings.objects.get(engagement__code="CALL-2027")
    assert (settings.acquired_node.template_code, settings.gain_node) == ("call.orders", None)
