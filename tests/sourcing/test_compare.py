"""The comparison and its ranking rule (sourcing.compare), without the database."""

from __future__ import annotations

from django.utils import translation

from sourcing.compare import KpiSpec, ProposalInput, cost_per_outcome, rank, too_ambitious

KPIS = [
    KpiSpec(
        "call.orders", "Orders won", "件", "up", benchmark=None, past_median=100, past_months=3
    ),
    KpiSpec("call.appt_rate", "Appointment rate", "%", "up", past_median=12, past_months=3),
    KpiSpec("ads.ctr", "CTR", "%", "up", benchmark=1.5),
]


def proposal(pk: int, vendor: str, price: int, orders: float, appt: float, ctr: float):
    return ProposalInput(
        pk, vendor, price, {"call.orders": orders, "call.appt_rate": appt, "ads.ctr": ctr}
    )


PROPOSALS = [
    proposal(1, "Bigtalk", 900_000, 200, 13, 1.5),  # orders: 200 % of the past median
    proposal(2, "Telecom", 1_000_000, 80, 11, 2.0),
    proposal(3, "Zero", 1_000_000, 0, 12, 1.5),
    proposal(4, "Callnavi", 1_200_000, 100, 12, 1.5),
]


def test_it_divides_the_price_by_the_promised_outcome_in_whole_yen() -> None:
    assert cost_per_outcome(1_200_000, 100) == 12_000
    assert cost_per_outcome(1_000_000, 3) == 333_333
    assert cost_per_outcome(1_000_000, 8) == 125_000
    assert cost_per_outcome(5, 2) == 3  # 2.5: half away from zero
    assert cost_per_outcome(1_000_000, 0) is None
    assert cost_per_outcome(1_000_000, None) is None


def test_it_flags_a_promise_beyond_150_percent_in_the_kpis_good_direction() -> None:
    assert too_ambitious(151, 100, "up") is True
    assert too_ambitious(150, 100, "up") is False
    assert too_ambitious(15, 24, "down") is True  # 15 × 1.5 = 22.5 < 24 hours
    assert too_ambitious(16, 24, "down") is False
    assert too_ambitious(1000, None, "up") is False
    assert too_ambitious(1000, 0, "up") is False


def test_it_ranks_the_realistic_proposals_by_cost_per_outcome_and_the_unrealistic_last() -> None:
    with translation.override("en"):
        ranked = rank(KPIS, "call.orders", PROPOSALS)
    assert [(r.rank, r.vendor, r.cost_per_outcome, r.unrealistic) for r in ranked] == [
        (1, "Callnavi", 12_000, False),
        (2, "Telecom", 12_500, False),
        (3, "Zero", None, False),
        (4, "Bigtalk", 4_500, True),
    ]
    assert [r.reasoning for r in ranked] == [
        "Lowest cost per unit of outcome among the realistic proposals: ¥12,000 per 件.",
        "¥12,500 per 件: ¥500 (4.2%) more than Callnavi.",
        "No cost per unit of outcome: the proposal promises no outcome above zero.",
        "Lowest cost per unit of outcome among the unrealistic proposals: ¥4,500 per 件. "
        "Ranked after the realistic proposals: “Orders won” promised beyond 150 % of the "
        "benchmark or of past results.",
    ]


def test_it_compares_each_promise_with_the_benchmark_and_past_actuals() -> None:
    ranked = {r.vendor: r for r in rank(KPIS, "call.orders", PROPOSALS)}
    checks = {c.code: c for c in ranked["Telecom"].checks}
    assert (checks["call.orders"].vs_benchmark, checks["call.orders"].vs_past) == (None, 0.8)
    assert checks["call.appt_rate"].vs_past == 11 / 12
    assert checks["ads.ctr"].vs_benchmark == 2.0 / 1.5
    assert [c.code for c in ranked["Bigtalk"].checks if c.unrealistic] == ["call.orders"]


def test_it_breaks_a_tie_of_cost_by_price_then_name() -> None:
    ranked = rank(
        KPIS,
        "call.orders",
        [
            proposal(1, "B", 2_000_000, 100, 12, 1.5),
            proposal(2, "C", 1_000_000, 50, 12, 1.5),
            proposal(3, "A", 1_000_000, 50, 12, 1.5),
        ],
    )
    assert [r.vendor for r in ranked] == ["A", "C", "B"]


def test_it_writes_the_reasoning_in_the_readers_language() -> None:
    with translation.override("ja"):
        ranked = rank(KPIS, "call.orders", PROPOSALS)
    assert "12,000円" in ranked[0].reasoning
    assert "「Orders won」" in ranked[3].reasoning
