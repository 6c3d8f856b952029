"""Uploading a month as CSV or Excel: good files are written through actuals_record (channel
"upload"); a file with any bad line writes nothing and every bad line is reported."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from engagements.models import Submission
from kpitree.models import Actual, ValueAudit
from kpitree.services import actuals_record
from portal import services
from portal.uploads import UploadError, upload_actuals
from tests.portal.helpers import OCT, month_rows

HEADER = "tree,node,name,unit,period,value,comment,next_action\r\n"
GOOD = HEADER + (
    "FY2026,calls,架電数,件,2026-10,3100,オペレーター2名増員で架電数が増加,11月もこの体制を維持\r\n"
    "FY2026,appt_rate,アポ取得率,%,2026-10,10.5,,\r\n"
)


def upload(plan, user, data: bytes):
    return upload_actuals(user=user, engagement=plan["calls"].engagement, period=OCT, data=data)


def problems(exc: pytest.ExceptionInfo) -> list[tuple[int | None, str]]:
    return [(e.line, e.message) for e in exc.value.errors]


def test_it_writes_a_good_utf8_file_through_the_one_write_path(plan, vendor_user):
    result, count = upload(plan, vendor_user, GOOD.encode("utf-8"))
    assert (result.as_dict(), count) == ({"created": 2, "updated": 0, "unchanged": 0}, 2)
    calls = Actual.objects.get(node=plan["calls"], period=OCT)
    assert (calls.value, calls.comment) == (
        3100,
        "オペレーター2名増員で架電数が増加\n▶ 11月もこの体制を維持",
    )
    assert set(ValueAudit.objects.filter(kind="actual").values_list("channel", flat=True)) == {
        "upload"
    }
    assert Submission.objects.get(period=OCT).status == "draft"


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "cp932", "shift_jis", "utf-16"], ids=["bom", "cp932", "sjis", "utf16"]
)
def test_it_reads_the_encodings_excel_writes(plan, vendor_user, encoding):
    text = GOOD.replace(",", "\t") if encoding == "utf-16" else GOOD
    upload(plan, vendor_user, text.encode(encoding))
    assert Actual.objects.get(node=plan["calls"]).comment.startswith("オペレーター2名増員")


def test_it_reads_an_excel_workbook_with_a_percent_cell_and_a_date_cell(plan, vendor_user):
    import datetime as dt

    book = Workbook()
    sheet = book.active
    sheet.append(["node", "period", "value", "コメント"])
    sheet.append(["calls", dt.date(2026, 10, 1), 3100, "増加"])
    sheet.append(["appt_rate", "2026/10", 0.105, ""])
    sheet["C3"].number_format = "0.0%"
    buffer = io.BytesIO()
    book.save(buffer)
    upload(plan, vendor_user, buffer.getvalue())
    assert dict(Actual.objects.values_list("node__code", "value")) == {
        "calls": 3100,
        "appt_rate": 10.5,
    }


def test_it_defaults_the_month_and_skips_template_lines_left_empty(plan, vendor_user):
    data = b"node,value\ncalls,3000\nappt_rate,\n"
    _result, count = upload(plan, vendor_user, data)
    assert (count, Actual.objects.get().period) == (1, OCT)


def test_it_reports_every_bad_line_by_its_number_and_writes_nothing(plan, vendor_user):
    data = HEADER + (
        "FY2026,calls,架電数,件,2026-10,3千,,\n"  # line 2: bad number
        "FY2026,visits,訪問数,件,2026-10,10,,\n"  # line 3: unknown KPI code
        "FY2026,appt_rate,アポ取得率,%,2027-06,10,,\n"  # line 4: month outside the tree
        "FY2026,ads_cv,広告CV,件,2026-10,80,,\n"  # line 5: another vendor's KPI
        "FY2026,inhouse,社内リード,件,2026-10,80,,\n"  # line 6: in-house KPI
        "FY2026,orders,受注数,件,2026-10,80,,\n"  # line 7: computed
        "FY2026,proposals,改善提案件数,件,2026-10,3,,\n"  # line 8: fed automatically
        "FY2026,calls,架電数,件,2026-09,3000,,\n"  # line 9: fine
        "FY2026,calls,架電数,件,2026-09,3000,,\n"  # line 10: same as line 9
    )
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, data.encode())
    assert problems(exc) == [
        (2, "「3千」は数値ではありません。"),
        (3, "この契約に「visits」というKPIコードはありません。"),
        (4, "2027-06は契約期間（2026-04〜2027-03）の外です。"),
        (5, "この契約に「ads_cv」というKPIコードはありません。"),
        (6, "この契約に「inhouse」というKPIコードはありません。"),
        (7, "「orders」は他のKPIから計算される値です。元になるKPIを入力してください。"),
        # The service's message, as for every channel (the upload had its own wording).
        (8, "「proposals」はアプリが自動集計する値（改善提案）のため入力できません。"),
        (10, "9行目と同じKPI・月です。"),
    ]
    assert Actual.objects.count() == 0
    assert Submission.objects.count() == 0


def test_it_reports_a_month_outside_the_tree_but_inside_the_engagement(
    plan, vendor_user, engagement_a
):
    import datetime as dt

    engagement_a.end_month = dt.date(2027, 6, 1)
    engagement_a.save()
    data = b"node,period,value\ncalls,2027-05,10\n"
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, data)
    assert problems(exc) == [(2, "2027-05は計画期間（2026-04〜2027-03）の外です。")]


def test_it_refuses_a_locked_month_with_the_line(plan, vendor_user, manager):
    engagement = plan["calls"].engagement
    actuals_record(user=vendor_user, rows=month_rows(), channel="web")
    services.submission_submit(user=vendor_user, engagement=engagement, period=OCT)
    services.submission_approve(user=manager, engagement=engagement, period=OCT)
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, b"node,value\ncalls,1\n")
    assert problems(exc) == [
        (
            2,
            "2026-10は承認済みでロックされています。マネージャーに再オープンを依頼してください。",
        )
    ]
    assert Actual.objects.get(node=plan["calls"], period=OCT).value == 3000


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "ファイルが空です。"),
        (b"\r\n \r\n", "ファイルが空です。"),
        (HEADER.encode(), "見出し行のみで、データ行がありません。"),
        (b"node,value\ncalls,\n", "保存する値がありません。"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "CSV または Excel（.xlsx）ファイルではありません。",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest",
            "旧形式の Excel ファイル（.xls）は読み込めません。.xlsx または CSV で保存してください。",
        ),
        (
            b"PK\x03\x04broken zip",
            "Excel ファイルを読み取れませんでした。.xlsx 形式で保存し直してください。",
        ),
    ],
    ids=["empty", "blank", "header-only", "no-values", "png", "xls", "broken-xlsx"],
)
def test_it_explains_a_file_it_cannot_use(plan, vendor_user, data, message):
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, data)
    assert problems(exc) == [(None, message)]
    assert Actual.objects.count() == 0


def test_it_refuses_text_in_an_encoding_it_cannot_read(plan, vendor_user):
    data = "node,value,comment\ncalls,3000,café olé\n".encode("latin-1")
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, data)
    assert "UTF-8 でも Shift_JIS でもありません" in exc.value.errors[0].message
    assert Actual.objects.count() == 0


def test_it_names_the_missing_columns_of_a_wrong_header(plan, vendor_user):
    with pytest.raises(UploadError) as exc:
        upload(plan, vendor_user, "KPI名,実績メモ\n架電数,3000\n".encode())
    assert problems(exc) == [
        (
            1,
            "1行目は見出し行（tree, node, name, unit, period, value, comment, next_action）にしてください。"
            "不足している列：node, value",
        )
    ]


def test_it_offers_a_template_that_uploads_back_unchanged(client, vendor_user, plan):
    actuals_record(user=vendor_user, rows=month_rows(comment="理由\n▶ 次の手"), channel="web")
    client.force_login(vendor_user)
    response = client.get("/portal/engagements/CALL-1/2026-10/template.csv")
    assert response["Content-Disposition"] == 'attachment; filename="actuals_CALL-1_2026-10.csv"'
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "tree,node,name,unit,period,value,comment,next_action",
        "FY2026,calls,架電数,件,2026-10,3000,理由,次の手",
        "FY2026,appt_rate,アポ取得率,%,2026-10,10,,",
    ]
    result, _count = upload(plan, vendor_user, response.content)
    assert result.as_dict() == {"created": 0, "updated": 0, "unchanged": 2}


def test_it_offers_an_excel_template(client, vendor_user, plan):
    client.force_login(vendor_user)
    response = client.get("/portal/engagements/CALL-1/2026-10/template.xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[2]][:5] == ["FY2026", "calls", "架電数", "件", "2026-10"]
    sheet["F2"], sheet["F3"] = 2950, 9.5
    buffer = io.BytesIO()
    sheet.parent.save(buffer)
    upload(plan, vendor_user, buffer.getvalue())
    assert dict(Actual.objects.values_list("node__code", "value")) == {
        "calls": 2950,
        "appt_rate": 9.5,
    }


def test_it_shows_the_bad_lines_on_the_page(client, vendor_user, plan):
    client.force_login(vendor_user)
    bad = io.BytesIO("node,value\ncalls,abc\n".encode("cp932"))
    bad.name = "実績.csv"
    response = client.post("/portal/engagements/CALL-1/2026-10/upload/", {"file": bad})
    assert response.status_code == 200  # shown again with the errors
    assert "2行目: 「abc」は数値ではありません。" in response.content.decode()


def test_it_uploads_from_the_page_and_says_how_many_rows(client, vendor_user, plan):
    client.force_login(vendor_user)
    good = io.BytesIO(GOOD.encode("cp932"))
    good.name = "実績.csv"
    response = client.post(
        "/portal/engagements/CALL-1/2026-10/upload/", {"file": good}, follow=True
    )
    assert "2行を読み込みました（新規 2件、更新 0件、変更なし 0件）。" in response.content.decode()
