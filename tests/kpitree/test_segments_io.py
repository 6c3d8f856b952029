"""Segments through the API's actuals/bulk/ and the portal's upload (issue 15)."""

import datetime as dt

import pytest
from django.utils import translation

from kpitree.models import Actual, SegmentActual, ValueAudit
from portal.uploads import UploadError, upload_actuals
from tests.api.conftest import client_for
from tests.kpitree.conftest import row
from tests.portal.conftest import frozen_now, plan  # noqa: F401 (fixtures)
from tests.portal.helpers import OCT

URL = "/api/v1/actuals/bulk/"


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in English (the Japanese are in locale/ja)."""
    with translation.override("en"):
        yield


APR = dt.date(2026, 4, 1)


def test_it_writes_segments_through_the_bulk_api(manager, revenue):
    rows = [
        {**row("visits", "2026-04", 1_000), "segment": "operator:田中"},
        {**row("visits", "2026-04", 1_200), "segment": "operator:佐藤"},
        {**row("visits", "2026-04", 800), "segment": "operator:鈴木"},
        {**row("cvr", "2026-04", 65), "segment": "script-b", "numerator": 780, "denominator": 1200},
        {**row("cvr", "2026-04", 60), "segment": "script-a", "numerator": 600, "denominator": 1000},
    ]
    r = client_for(manager).post(URL, rows)
    assert (r.status_code, r.json()) == (200, {"created": 5, "updated": 0, "unchanged": 0})
    assert Actual.objects.get(node=revenue["visits"], period=APR).value == 3_000
    assert Actual.objects.get(node=revenue["cvr"], period=APR).value == pytest.approx(
        1380 / 2200 * 100
    )
    assert SegmentActual.objects.count() == 5


def test_it_writes_rows_without_a_segment_as_before(manager, revenue):
    r = client_for(manager).post(URL, [row("visits", "2026-04", 3_000)])
    assert (r.status_code, r.json()) == (200, {"created": 1, "updated": 0, "unchanged": 0})
    assert Actual.objects.get(node=revenue["visits"], period=APR).value == 3_000
    assert SegmentActual.objects.count() == 0


def test_it_answers_400_for_a_bad_mix_and_writes_nothing(manager, revenue):
    """In the user's language (Japanese)."""
    rows = [
        {**row("visits", "2026-04", 1_000), "segment": "operator:田中"},
        row("visits", "2026-04", 3_000),
        {**row("visits", "2026-04", 5), "segment": ["not", "text"]},
    ]
    r = client_for(manager).post(URL, rows)
    assert r.status_code == 400
    assert r.json() == {
        "errors": [
            {
                "field": "segment",
                "index": 1,
                "message": "「visits」2026-04 に合計とセグメント別（0 行目）の両方が入力されています。"
                "どちらか一方にしてください。",
            },
            {
                "field": "segment",
                "index": 2,
                "message": "セグメントは64文字以内のテキストで入力してください。",
            },
        ]
    }
    assert (Actual.objects.count(), SegmentActual.objects.count(), ValueAudit.objects.count()) == (
        0,
        0,
        0,
    )


HEADER = "tree,node,period,value,comment,segment\r\n"


def upload(plan, user, text: str):  # noqa: F811
    return upload_actuals(
        user=user, engagement=plan["calls"].engagement, period=OCT, data=text.encode()
    )


def test_it_uploads_a_file_with_a_segment_column(plan, vendor_user):  # noqa: F811
    text = HEADER + (
        "FY2026,calls,2026-10,1000,,operator:田中\r\n"
        "FY2026,calls,2026-10,1200,,operator:佐藤\r\n"
        "FY2026,calls,2026-10,800,欠員,operator:鈴木\r\n"
        "FY2026,appt_rate,2026-10,10.5,,\r\n"
    )
    result, count = upload(plan, vendor_user, text)
    assert (result.as_dict(), count) == ({"created": 4, "updated": 0, "unchanged": 0}, 4)
    assert Actual.objects.get(node=plan["calls"], period=OCT).value == 3_000
    assert Actual.objects.get(node=plan["appt_rate"], period=OCT).value == 10.5
    assert sorted(SegmentActual.objects.values_list("segment", "value", "comment", "channel")) == [
        ("operator:佐藤", 1_200, "", "upload"),
        ("operator:田中", 1_000, "", "upload"),
        ("operator:鈴木", 800, "欠員", "upload"),
    ]


def test_it_reads_the_japanese_header_of_the_segment_column(plan, vendor_user):  # noqa: F811
    text = "KPIコード,実績,セグメント\r\ncalls,1000,list:展示会\r\ncalls,2000,list:Web\r\n"
    upload(plan, vendor_user, text)
    assert Actual.objects.get(node=plan["calls"], period=OCT).value == 3_000


def test_it_reports_a_repeated_segment_line_and_writes_nothing(plan, vendor_user):  # noqa: F811
    text = HEADER + (
        "FY2026,calls,2026-10,1000,,operator:田中\r\nFY2026,calls,2026-10,1200,,operator:田中\r\n"
    )
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, text)
    assert [(e.line, e.message) for e in exc.value.errors] == [
        (3, "Same KPI, month and segment as line 2.")
    ]
    assert SegmentActual.objects.count() == 0
    assert Actual.objects.count() == 0
