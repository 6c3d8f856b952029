"""Segments of an input KPI (issue 15): per-segment actuals, their total as the KPI's actual."""

import datetime as dt

import pytest
from django.utils import translation

from engagements.models import Submission
from kpitree.models import Actual, Rollup, SegmentActual, SegmentAudit, ValueAudit
from kpitree.services import RecordError, actuals_record
from kpitree.services.values import segment_total
from tests.kpitree.conftest import row

APR = dt.date(2026, 4, 1)


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in English (the Japanese are in locale/ja)."""
    with translation.override("en"):
        yield


MAY = dt.date(2026, 5, 1)


def seg(node, period, value, segment, **extra) -> dict:
    return {**row(node, period, value), "segment": segment, **extra}


OPERATORS = [
    seg("visits", "2026-04", 1_000, "operator:田中"),
    seg("visits", "2026-04", 1_200, "operator:佐藤"),
    seg("visits", "2026-04", 800, "operator:鈴木"),
]


def test_it_sums_the_segments_of_a_count_into_the_actual(manager, revenue):
    result = actuals_record(user=manager, rows=OPERATORS, channel="api")
    assert result.as_dict() == {"created": 3, "updated": 0, "unchanged": 0}
    actual = Actual.objects.get(node=revenue["visits"], period=APR)
    assert actual.value == 3_000
    assert sorted(SegmentActual.objects.values_list("segment", "value")) == [
        ("operator:佐藤", 1_200),
        ("operator:田中", 1_000),
        ("operator:鈴木", 800),
    ]
    assert SegmentAudit.objects.count() == 3
    audit = ValueAudit.objects.get(node=revenue["visits"])
    assert (audit.old_value, audit.new_value, audit.channel) == (None, 3_000, "api")


def test_it_recomputes_the_total_when_one_segment_changes(manager, revenue):
    actuals_record(user=manager, rows=OPERATORS, channel="api")
    result = actuals_record(
        user=manager,
        rows=[seg("visits", "2026-04", 900, "operator:鈴木", comment="欠勤")],
        channel="web",
    )
    assert result.as_dict() == {"created": 0, "updated": 1, "unchanged": 0}
    assert Actual.objects.get(node=revenue["visits"], period=APR).value == 3_100
    latest = SegmentAudit.objects.first()
    assert (latest.segment, latest.old_value, latest.new_value, latest.new_text) == (
        "operator:鈴木",
        800,
        900,
        "欠勤",
    )
    assert list(
        ValueAudit.objects.filter(node=revenue["visits"]).values_list("old_value", "new_value")
    ) == [(3_000, 3_100), (None, 3_000)]


def test_it_reports_the_same_segments_twice_as_unchanged(manager, revenue):
    actuals_record(user=manager, rows=OPERATORS, channel="api")
    result = actuals_record(user=manager, rows=OPERATORS, channel="api")
    assert result.as_dict() == {"created": 0, "updated": 0, "unchanged": 3}
    assert SegmentAudit.objects.count() == 3
    assert ValueAudit.objects.count() == 1


def test_it_recomputes_a_rate_from_numerators_and_denominators(manager, revenue):
    rows = [
        seg("cvr", "2026-04", 60, "script-a", numerator=600, denominator=1_000),
        seg("cvr", "2026-04", 65, "script-b", numerator=780, denominator=1_200),
        seg("cvr", "2026-04", 52.5, "script-c", numerator=420, denominator=800),
    ]
    actuals_record(user=manager, rows=rows, channel="api")
    # 1,800 / 3,000 = 60 %, not the plain mean of 60, 65 and 52.5 (59.17).
    assert Actual.objects.get(node=revenue["cvr"], period=APR).value == 60


def test_it_weights_a_rate_by_its_denominators_or_else_averages():
    assert segment_total("%", [(50, None, 1), (80, None, 3)]) == 72.5
    assert segment_total("%", [(50, None, None), (80, None, 3)]) == 65
    assert segment_total("件", [(1_000, None, None), (1_200, None, None)]) == 2_200


def test_it_feeds_the_rollup_with_the_total(manager, revenue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(
            user=manager,
            rows=[
                *OPERATORS,
                row("cvr", "2026-04", 2),
                row("avg_price", "2026-04", 10_000),
            ],
            channel="api",
        )
    sales = Rollup.objects.get(node=revenue["sales"], grain="month", period=APR)
    assert sales.actual == 600_000  # 3,000 × 2 % × 10,000


def test_it_refuses_a_total_and_segments_of_one_month_and_writes_nothing(manager, revenue):
    with pytest.raises(RecordError) as exc:
        actuals_record(
            user=manager, rows=[*OPERATORS, row("visits", "2026-04", 3_000)], channel="api"
        )
    assert exc.value.errors == [
        {
            "field": "segment",
            "index": 3,
            "message": "“visits” 2026-04 is given both as a total and per segment (row 0): "
            "give one or the other.",
            "code": "invalid",
        }
    ]
    assert Actual.objects.count() == 0
    assert SegmentActual.objects.count() == 0


def test_it_refuses_a_total_of_a_month_entered_per_segment(manager, revenue):
    actuals_record(user=manager, rows=OPERATORS, channel="api")
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=[row("visits", "2026-04", 5)], channel="api")
    assert [e["message"] for e in exc.value.errors] == [
        "“visits” 2026-04 is entered per segment: enter its segments instead."
    ]
    assert Actual.objects.get(node=revenue["visits"], period=APR).value == 3_000


def test_it_refuses_segments_of_a_locked_month(vendor_user, revenue, engagement_a):
    Submission.objects.create(engagement=engagement_a, period=APR, status="approved")
    with pytest.raises(RecordError) as exc:
        actuals_record(user=vendor_user, rows=OPERATORS, channel="upload")
    assert [(e["index"], e["code"]) for e in exc.value.errors] == [
        (0, "locked"),
        (1, "locked"),
        (2, "locked"),
    ]
    assert SegmentActual.objects.count() == 0
    assert Actual.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"segment": "x" * 65}, "segment", "The segment must be text of at most 64 characters."),
        ({"segment": 7}, "segment", "The segment must be text of at most 64 characters."),
        ({"segment": "a\x00"}, "segment", "The segment must be text of at most 64 characters."),
        (
            {"numerator": 1, "denominator": 2},
            "segment",
            "A numerator and a denominator are given per segment.",
        ),
        (
            {"segment": "a", "numerator": 1, "denominator": 2},
            "numerator",
            "“visits” is not a rate (unit %): give its segments' values only.",
        ),
    ],
)
def test_it_rejects_bad_segment_fields(manager, revenue, extra, field, message):
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=[{**row("visits", "2026-04", 1), **extra}], channel="api")
    assert [(e["field"], e["message"]) for e in exc.value.errors] == [(field, message)]
    assert Actual.objects.count() == 0
    assert SegmentActual.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            {"numerator": "abc", "denominator": 2},
            "numerator",
            "The numerator must be a number of 0 or more.",
        ),
        (
            {"numerator": 1, "denominator": -2},
            "denominator",
            "The denominator must be a number of 0 or more.",
        ),
        ({"numerator": 1}, "denominator", "Give the denominator of the numerator."),
    ],
)
def test_it_rejects_bad_rate_parts(manager, revenue, extra, field, message):
    rows = [seg("cvr", "2026-04", 1, "script-a", **extra)]
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=rows, channel="api")
    assert [(e["field"], e["message"]) for e in exc.value.errors] == [(field, message)]
    assert SegmentActual.objects.count() == 0


def test_it_refuses_the_same_segment_twice(manager, revenue):
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=[OPERATORS[0], OPERATORS[0]], channel="api")
    assert [(e["index"], e["message"]) for e in exc.value.errors] == [
        (1, "Same node, month and segment as row 0.")
    ]


def test_it_treats_an_empty_segment_as_none(manager, revenue):
    actuals_record(user=manager, rows=[seg("visits", "2026-04", 7, "  ")], channel="api")
    assert Actual.objects.get(node=revenue["visits"], period=APR).value == 7
    assert SegmentActual.objects.count() == 0


# -- the KPI page's breakdown ({% segment_breakdown node %}) --------------------------------------


def render(node) -> str:
    from django.template import Context, Template

    return Template("{% load segments %}{% segment_breakdown node %}").render(
        Context({"node": node})
    )


def test_it_finds_the_segment_that_drives_a_count(manager, revenue):
    from kpitree.templatetags.segments import segment_analysis

    actuals_record(user=manager, rows=OPERATORS, channel="api")
    may = [
        seg("visits", "2026-05", 1_050, "operator:田中"),
        seg("visits", "2026-05", 900, "operator:佐藤"),
        seg("visits", "2026-05", 850, "operator:鈴木"),
    ]
    actuals_record(user=manager, rows=may, channel="api")
    found = segment_analysis(revenue["visits"])
    assert found["totals"] == {APR: 3_000, MAY: 2_800}
    assert [(c.segment, c.part) for c in found["contributions"]] == [
        ("operator:佐藤", -300),
        ("operator:田中", 50),
        ("operator:鈴木", 50),
    ]


def test_it_splits_a_rate_change_into_rate_and_mix(manager, revenue):
    from kpitree.templatetags.segments import segment_analysis

    april = [
        seg("cvr", "2026-04", 60, "script-a", numerator=600, denominator=1_000),
        seg("cvr", "2026-04", 40, "script-b", numerator=400, denominator=1_000),
    ]
    may = [
        seg("cvr", "2026-05", 60, "script-a", numerator=300, denominator=500),
        seg("cvr", "2026-05", 40, "script-b", numerator=600, denominator=1_500),
    ]
    actuals_record(user=manager, rows=april + may, channel="api")
    found = segment_analysis(revenue["cvr"])
    assert found["totals"] == {APR: 50, MAY: 45}  # 1,000/2,000; 900/2,000
    parts = {c.segment: (c.part, c.rate_effect, c.mix_effect) for c in found["contributions"]}
    # Same rates, the volume moved to the weaker script: all mix. 0.5→0.25 × 60; 0.5→0.75 × 40.
    assert parts == {"script-a": (-15, 0, -15), "script-b": (10, 0, 10)}
    assert sum(p for p, _r, _m in parts.values()) == -5


def test_it_renders_the_breakdown_trend_and_driver(manager, revenue):
    actuals_record(user=manager, rows=OPERATORS, channel="api")
    actuals_record(
        user=manager, rows=[seg("visits", "2026-05", 900, "operator:佐藤")], channel="api"
    )
    with translation.override("ja"):
        html = render(revenue["visits"])
    # Only 佐藤 reported May: 田中's missing 1,000 is the largest part of the −2,100.
    assert "変化の主因は operator:田中 です：−2,100 のうち −1,000。" in html
    assert "2026年5月：合計 900件" in html
    assert (
        '<tr data-segment="operator:佐藤"><th scope="row">operator:佐藤</th><td class="num">'
        '900件</td><td class="num">100.0%</td><td class="num">−300</td></tr>'
    ) in html
    assert (
        '<tr data-segment="operator:田中"><th scope="row">operator:田中</th><td class="num">—'
        '</td><td class="num"></td><td class="num">−1,000</td></tr>'
    ) in html
    assert html.count("<meter") == 4  # 3 segments in April, 1 in May
    # The trend starts at the first month with segments (the plan's first month, April).
    assert (
        '<th scope="col">セグメント</th><th scope="col" class="num">2026年4月</th>'
        '<th scope="col" class="num">2026年5月</th></tr></thead>'
    ) in html
    assert "2026年3月" not in html


def test_it_says_which_segment_drives_a_rate_in_english(manager, revenue, settings):
    from django.utils import translation

    rows = [
        seg("cvr", "2026-04", 60, "script-a", numerator=600, denominator=1_000),
        seg("cvr", "2026-04", 40, "script-b", numerator=400, denominator=1_000),
        seg("cvr", "2026-05", 60, "script-a", numerator=300, denominator=500),
        seg("cvr", "2026-05", 40, "script-b", numerator=600, denominator=1_500),
    ]
    actuals_record(user=manager, rows=rows, channel="api")
    with translation.override("en"):
        html = render(revenue["cvr"])
    assert (
        "script-a drives the change: −15 of −5 points (its rate 0, its share of the volume −15)."
    ) in html
    assert "Share of the volume" in html


def test_it_renders_nothing_without_segments(manager, revenue):
    actuals_record(user=manager, rows=[row("visits", "2026-04", 5)], channel="api")
    assert render(revenue["visits"]).strip() == ""


def test_it_refuses_segments_whose_total_overflows(manager, revenue):
    rows = [seg("visits", "2026-04", 1e308, "a"), seg("visits", "2026-04", 1e308, "b")]
    with pytest.raises(RecordError) as exc:
        actuals_record(user=manager, rows=rows, channel="api")
    assert [(e["index"], e["message"]) for e in exc.value.errors] == [
        (0, "The total of the segments is too large.")
    ]
    assert (SegmentActual.objects.count(), Actual.objects.count()) == (0, 0)
