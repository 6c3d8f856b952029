import io

from django.test import Client
from openpyxl import load_workbook

from scorecard.reports import excel_report, monthly_report_attachments, pdf_report
from tests.scorecard import pdf
from tests.scorecard.conftest import OCT


def test_the_excel_report_has_a_sheet_per_perspective_with_values(small, engagement_a) -> None:
    name, content, _mimetype = excel_report(engagement_a, OCT, "ja")
    assert name == "scorecard-CALL-1-2026-10.xlsx"
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["概要", "財務", "顧客", "内部プロセス", "学習と成長", "月別スコア"]
    summary = book["概要"]
    assert [c.value for c in summary[7]] == ["総合", 95.0, "注意", None, 4]
    assert [c.value for c in summary[8]] == ["財務", 110.0, "順調", 1.0, 2]
    assert [c.value for c in summary[10]][:3] == ["内部プロセス", None, "データなし"]
    financial = book["財務"]
    assert [c.value for c in financial[2]][:10] == [
        "fin_b",
        "粗利",
        "SC",
        "件",
        90.0,
        100.0,
        90.0,
        90.0,
        "注意",
        1.0,
    ]
    assert [c.value for c in financial[3]][:10] == [
        "fin_a",
        "受注金額",
        "SC",
        "件",
        150.0,
        100.0,
        150.0,
        120.0,
        "順調",
        2.0,
    ]
    assert book["内部プロセス"]["A2"].value == "この視点にはKPIがありません。"


def test_the_excel_report_follows_the_readers_language(small, engagement_a) -> None:
    book = load_workbook(io.BytesIO(excel_report(engagement_a, "2026-10", "en")[1]))
    assert book.sheetnames == [
        "Summary",
        "Financial",
        "Customer",
        "Internal process",
        "Learning and growth",
        "Scores by month",
    ]
    assert book["Summary"]["A7"].value == "Overall"


def test_the_pdf_report_has_two_pages_with_the_scores_and_charts(small, engagement_a) -> None:
    name, content, mimetype = pdf_report(engagement_a, OCT, "ja")
    assert (name, mimetype) == ("scorecard-CALL-1-2026-10.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    assert pdf.page_count(content) == 2
    text = pdf.text(content)
    for expected in (
        "月次スコアカード報告: テレアポ",
        "総合",
        "95.0",
        "110.0",
        "視点別スコア",
        "受注金額",
        "解約数",
        "欠落",
    ):
        assert expected in text, expected


def test_the_pdf_report_in_english(small, engagement_a) -> None:
    text = pdf.text(pdf_report(engagement_a, OCT, "en")[1])
    assert "Monthly scorecard report: テレアポ" in text
    assert "Score by perspective" in text


def test_the_reminder_gets_both_reports_as_attachments(small, engagement_a) -> None:
    attachments = monthly_report_attachments(engagement_a, "2026-10", "ja")
    assert [(name, mimetype) for name, _content, mimetype in attachments] == [
        (
            "scorecard-CALL-1-2026-10.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("scorecard-CALL-1-2026-10.pdf", "application/pdf"),
    ]


def test_the_reports_download_for_whoever_sees_the_engagement(
    vendor_user, other_vendor_user, small
) -> None:
    client = Client()
    client.force_login(vendor_user)
    response = client.get("/scorecards/engagements/CALL-1/report.pdf", {"period": "2026-10"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="scorecard-CALL-1-2026-10.pdf"'
    assert client.get("/scorecards/engagements/CALL-1/report.doc").status_code == 404
    client.force_login(other_vendor_user)
    assert client.get("/scorecards/engagements/CALL-1/report.xlsx").status_code == 404
