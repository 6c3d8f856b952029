import math

import numpy as np
import pandas as pd
import pytest

from scorecard.scoring import (
    Thresholds,
    build_scorecard,
    change_pct,
    score_table,
    sort_attention_first,
    status_for,
)


def row(code, perspective, achievement, weight=1.0, cap=120.0, status="none", **extra):
    return {
        "node_id": hash(code) % 10_000,
        "code": code,
        "name": code,
        "perspective": perspective,
        "weight": weight,
        "achievement": achievement,
        "cap": cap,
        "status": status,
        **extra,
    }


SMALL = [
    row("fin_a", "financial", 150.0, weight=2),
    row("fin_b", "financial", 90.0),
    row("cus_a", "customer", 80.0),
    row("lrn_a", "learning", None),
]


def test_it_scores_a_small_scorecard_exactly() -> None:
    card = build_scorecard(SMALL)
    assert card.perspectives["financial"].score == 110.0  # (120 × 2 + 90) / 3
    assert card.perspectives["customer"].score == 80.0
    assert card.overall_score == 95.0
    assert card.overall_status == "amber"


def test_it_weights_perspectives() -> None:
    card = build_scorecard(
        SMALL, weights={"financial": 3, "customer": 1, "process": 1, "learning": 1}
    )
    assert card.overall_score == 102.5  # (110 × 3 + 80) / 4
    assert card.overall_status == "green"


def test_it_shows_a_perspective_without_kpi_as_missing_not_zero() -> None:
    card = build_scorecard(SMALL)
    process = card.perspectives["process"]
    assert (process.score, process.status, process.missing) == (None, "none", True)
    assert card.as_dict()["perspectives"]["process"]["score"] is None


def test_it_leaves_a_perspective_whose_kpis_have_no_score_out_of_the_overall() -> None:
    card = build_scorecard(SMALL)
    assert card.perspectives["learning"].score is None
    assert card.perspectives["learning"].missing is False
    assert card.overall_score == 95.0  # not (110 + 80 + 0) / 3


def test_it_clamps_scores_to_zero_and_the_cap() -> None:
    card = build_scorecard([row("a", "financial", -20.0), row("b", "customer", 300.0, cap=150.0)])
    assert [k.score for k in card.kpis()] == [0.0, 150.0]


def test_it_ignores_kpis_of_zero_weight() -> None:
    card = build_scorecard([row("a", "financial", 50.0, weight=0), row("b", "financial", 100.0)])
    assert card.perspectives["financial"].score == 100.0


def test_it_has_no_overall_score_without_any_score() -> None:
    card = build_scorecard([row("a", "financial", None)])
    assert (card.overall_score, card.overall_status) == (None, "none")


def test_its_statuses_use_the_thresholds() -> None:
    t = Thresholds(green=105, amber=95)
    assert [status_for(s, t) for s in (105, 104.9, 95, 94.9, None)] == [
        "green",
        "amber",
        "amber",
        "red",
        "none",
    ]


def test_the_frame_scoring_agrees_with_the_scorecard() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for engagement in range(20):
        for i in range(int(rng.integers(1, 9))):
            achievement = None if rng.random() < 0.2 else float(rng.uniform(-10, 200))
            rows.append(
                row(
                    f"e{engagement}k{i}",
                    str(rng.choice(["financial", "customer", "process", "learning"])),
                    achievement,
                    weight=float(rng.choice([0.5, 1, 2])),
                    engagement_id=engagement,
                )
            )
    weights = pd.DataFrame(
        {e: {"financial": 2, "customer": 1, "process": 1, "learning": 0.5} for e in range(20)}
    ).T
    table = score_table(pd.DataFrame(rows), ["engagement_id"], weights)
    for engagement in range(20):
        own = [r for r in rows if r["engagement_id"] == engagement]
        card = build_scorecard(own, weights=weights.loc[engagement].to_dict())
        expected = card.overall_score
        got = table.loc[engagement, "overall"]
        assert (expected is None and math.isnan(got)) or got == pytest.approx(expected)
        for p, ps in card.perspectives.items():
            assert (ps.score is None and math.isnan(table.loc[engagement, p])) or table.loc[
                engagement, p
            ] == pytest.approx(ps.score)


def test_the_frame_scoring_counts_each_group_and_perspective_exactly() -> None:
    rows = [
        row("a1", "financial", 150.0, weight=2, engagement_id=2, period="2026-05"),
        row("a2", "financial", 80.0, weight=1, engagement_id=2, period="2026-05"),
        row("a3", "customer", None, engagement_id=2, period="2026-05"),
        row("b1", "process", 100.0, engagement_id=1, period="2026-06"),
        row("b2", "", 100.0, engagement_id=1, period="2026-06"),  # unscored: left out
        row("b3", "learning", 90.0, weight=0, engagement_id=1, period="2026-06"),
    ]
    table = score_table(pd.DataFrame(rows), ["engagement_id", "period"])
    assert list(table.index) == [(1, "2026-06"), (2, "2026-05")]  # sorted by the keys
    first, second = table.loc[(1, "2026-06")], table.loc[(2, "2026-05")]
    # (min(150, cap 120) × 2 + 80 × 1) ÷ 3 = 106.67; the customer KPI counts but is not scored.
    assert second["financial"] == pytest.approx(320 / 3)
    assert (second["financial_kpis"], second["customer_kpis"], second["customer_scored"]) == (
        2,
        1,
        0,
    )
    assert math.isnan(second["customer"])
    assert second["overall"] == pytest.approx(320 / 3)
    # A KPI of weight 0 is counted and scored but weighs nothing: no learning score.
    assert (first["process"], first["learning_kpis"], first["learning_scored"]) == (100.0, 1, 1)
    assert math.isnan(first["learning"])
    assert first["overall"] == 100.0


def test_the_frame_scoring_of_kpis_without_a_perspective_is_empty() -> None:
    table = score_table(pd.DataFrame([row("x", "", 100.0, engagement_id=1)]), ["engagement_id"])
    assert table.empty
    assert "overall" in table.columns


def test_it_puts_off_track_kpis_first() -> None:
    card = build_scorecard(
        [
            row("ok", "financial", 120, status="green", importance=5),
            row("bad", "financial", 50, status="red", importance=1),
            row("amber", "financial", 95, status="amber", importance=3),
            row("nodata", "financial", None, importance=3),
        ]
    )
    assert [k.code for k in sort_attention_first(card.kpis())] == ["bad", "amber", "nodata", "ok"]


def test_it_computes_changes_against_a_base() -> None:
    assert change_pct(110, 100) == pytest.approx(10.0)
    assert change_pct(90, -100) == pytest.approx(190.0)
    assert change_pct(5, 0) is None
    assert change_pct(None, 3) is None


@pytest.mark.parametrize("language", ["ja", "en"])
def test_numbers_are_rounded_and_grouped_for_the_reader(language) -> None:
    from django.utils import translation

    from scorecard.tables import Numbers

    with translation.override(language):
        n = Numbers()
        assert [
            n.number(v, d)
            for v, d in [(1234567.891, 0), (1234567.891, 2), (-0.04, 1), (999.95, 1), (95.96, 1)]
        ] == ["1,234,568", "1,234,567.89", "0.0", "1,000.0", "96.0"]
        assert (n.pct(88.33333), n.change(-13.1), n.change(4.0), n.value(None)) == (
            "88.3%",
            "-13.1%",
            "+4.0%",
            "—",
        )
