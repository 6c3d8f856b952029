"""Exports of a monthly statement (money.exports): one Excel sheet whose amounts and percentages
are numbers with number formats, and a PDF with the same figures, in the current language."""

from __future__ import annotations

import datetime as dt
import io

import time_machine
from django.utils import translation
from openpyxl import load_workbook

from engagements.models import Engagement
from money.exports import statement_filename, statement_pdf, statement_xlsx
from money.models import Statement
from money.services import (
    charge_add,
    statement_accept,
    statement_dispute,
    statement_resolve,
    statements_compute,
)
from tests.scorecard import pdf

APR, MAY = dt.date(2026, 4, 1), dt.date(2026, 5, 1)
AGREED = dt.datetime(2026, 5, 8, 1, 30, tzinfo=dt.UTC)  # 10:30 in Tokyo
DISPUTED = dt.datetime(2026, 6, 3, 0, 15, tzinfo=dt.UTC)
RESOLVED = dt.datetime(2026, 6, 4, 9, 0, tzinfo=dt.UTC)


def sheet_of(content: bytes):
    return load_workbook(io.BytesIO(content)).active


def values(sheet) -> list[list]:
    return [[c.value for c in row] for row in sheet.iter_rows()]


def agreed_april(sla, vendor_user) -> Statement:
    """アポ数 112 in April: +5% of the fee, agreed by the vendor."""
    sla.month("2026-04", appts=112)
    sla.rules()
    with time_machine.travel(AGREED, tick=False):
        statement_accept(user=vendor_user, statement=Statement.objects.get(period=APR))
    return Statement.objects.get(period=APR)


def disputed_may(sla, vendor_user) -> Statement:
    """アポ数 95 in May (−3%), a charge of 20,000 yen, the line disputed then answered."""
    sla.month("2026-05", appts=95)
    sla.rules()
    charge_add(
        user=sla.manager,
        engagement=sla.engagement,
        period="2026-05",
        amount="20,000",
        description="追加リスト",
    )
    statements_compute(engagement_ids=[sla.engagement.pk])
    statement = Statement.objects.get(period=MAY)
    with time_machine.travel(DISPUTED, tick=False):
        statement_dispute(
            user=vendor_user, statement=statement, line=0, comment='=HYPERLINK("http://x")'
        )
    with time_machine.travel(RESOLVED, tick=False):
        statement_resolve(
            user=sla.manager, statement=statement, line=0, resolution="架電数は正しい値です"
        )
    return Statement.objects.get(period=MAY)


def test_it_writes_the_statement_in_english_with_numbers_and_formats(sla, vendor_user) -> None:
    statement = agreed_april(sla, vendor_user)
    with translation.override("en"):
        sheet = sheet_of(statement_xlsx(statement))
    assert sheet.title == "Statement"
    assert values(sheet) == [
        ["Statement April 2026: テレアポ", *[None] * 8],
        ["Engagement", "CALL-SLA", "テレアポ", *[None] * 6],
        ["Vendor", "株式会社コールナビ", *[None] * 7],
        ["Month", "2026-04", *[None] * 7],
        ["Status", "Agreed by vend on 2026-05-08 10:30", *[None] * 7],
        ["Rule set", "SLA 2026", *[None] * 7],
        [None] * 9,
        ["Fee", 1_000_000, *[None] * 7],
        ["Extra charges", 0, *[None] * 7],
        ["Adjustment", 50_000, *[None] * 7],
        ["Invoice total", 1_050_000, *[None] * 7],
        [None] * 9,
        [
            "Kind",
            "KPI",
            "Achievement (%)",
            "Band",
            "Share of the fee (%)",
            "Amount (JPY)",
            "How it was reached",
            "Dispute",
            "Answer to the dispute",
        ],
        [
            "Rule",
            "アポ数",
            112,
            "110% or more",
            5,
            50_000,
            "アポ数 achieved 112.0%, in the band 110% or more: +5% of the fee ¥1,000,000 "
            "= +¥50,000.",
            None,
            None,
        ],
        ["Adjustment", None, None, None, None, 50_000, None, None, None],
        [None] * 9,
        [
            "Each line is exact; the total is rounded once to whole yen, half away from zero "
            "(+¥50,000 → +¥50,000).",
            *[None] * 8,
        ],
    ]
    formats = {c: sheet[c].number_format for c in ("B8", "B10", "B11", "C14", "E14", "F14", "F15")}
    assert formats == {
        "B8": "#,##0",
        "B10": "#,##0",
        "B11": "#,##0",
        "C14": "0.0",
        "E14": "0.0#",
        "F14": "#,##0",
        "F15": "#,##0",
    }
    assert sheet["B11"].data_type == "n"


def test_it_writes_the_japanese_headers(sla, vendor_user) -> None:
    statement = agreed_april(sla, vendor_user)
    with translation.override("ja"):
        sheet = sheet_of(statement_xlsx(statement))
    assert [sheet[c].value for c in ("A2", "A3", "A4", "A5")] == ["契約", "外注先", "月", "状態"]
    assert sheet["A1"].value == "精算書 2026年4月：テレアポ"
    assert sheet["B5"].value.startswith("合意済み")
    assert "vend" in sheet["B5"].value and "2026-05-08 10:30" in sheet["B5"].value
    assert [sheet.cell(row=13, column=c).value for c in (1, 2, 3, 6, 7, 8)] == [
        "種別",
        "KPI",
        "達成率（%）",
        "金額（円）",
        "算定の根拠",
        "異議",
    ]
    assert [c.value for c in sheet[14]][:7] == [
        "ルール",
        "アポ数",
        112,
        "110%以上",
        5,
        50_000,
        "アポ数の達成率は112.0%で、区分「110%以上」に該当：月額費用1,000,000円の+5% = +50,000円。",
    ]
    assert [sheet["B8"].value, sheet["B11"].value, sheet["F15"].value] == [
        1_000_000,
        1_050_000,
        50_000,
    ]


def test_it_shows_the_charges_the_dispute_and_its_answer(sla, vendor_user) -> None:
    statement = disputed_may(sla, vendor_user)
    with translation.override("en"):
        sheet = sheet_of(statement_xlsx(statement))
    assert sheet["B5"].value == "Awaiting the vendor"
    assert [sheet[c].value for c in ("B8", "B9", "B10", "B11")] == [
        1_000_000,
        20_000,
        -30_000,
        990_000,
    ]
    assert [c.value for c in sheet[14]][4:] == [
        -3,
        -30_000,
        "アポ数 achieved 95.0%, in the band 90% to below 100%: -3% of the fee ¥1,000,000 "
        "= -¥30,000.",
        '=HYPERLINK("http://x") (vend, 2026-06-03 09:15)',
        "架電数は正しい値です (mgr, 2026-06-04 18:00)",
    ]
    assert sheet["H14"].data_type == "s"  # a vendor's text never becomes a formula


def test_it_keeps_the_exact_line_amount_and_rounds_the_total_once(sla) -> None:
    Engagement.objects.filter(pk=sla.engagement.pk).update(monthly_fee=1_234_567)
    sla.month("2026-04", appts=95)
    bands = [{"lower": "90", "upper": "100", "pct_of_fee": "-1.25"}]
    sla.rules(rules=[{"node": sla.appts.pk, "bands": bands}])
    statement = Statement.objects.get(period=APR)
    with translation.override("en"):
        sheet = sheet_of(statement_xlsx(statement))
        text = pdf.text(statement_pdf(statement))
    assert (sheet["E14"].value, sheet["E14"].number_format) == (-1.25, "0.0#")
    assert (sheet["F14"].value, sheet["F14"].number_format) == (-15_432.0875, "#,##0.00##")
    assert [sheet["B10"].value, sheet["B11"].value, sheet["F15"].value] == [
        -15_432,
        1_219_135,
        -15_432,
    ]
    assert sheet["A17"].value == (
        "Each line is exact; the total is rounded once to whole yen, half away from zero "
        "(-¥15,432.0875 → -¥15,432)."
    )
    assert "-¥15,432.0875" in text
    assert "¥1,219,135" in text


def test_the_pdf_has_the_figures_and_the_total(sla, vendor_user) -> None:
    statement = disputed_may(sla, vendor_user)
    with translation.override("ja"):
        content = statement_pdf(statement)
    assert content.startswith(b"%PDF-")
    assert pdf.page_count(content) == 1
    text = pdf.text(content)
    for expected in (
        "精算書 2026年5月：テレアポ",
        "株式会社コールナビ",
        "1,000,000円",
        "+20,000円",
        "-30,000円",
        "990,000円",
        "95.0%",
        "90%以上100%未満",
        "架電数は正しい値です",
    ):
        assert expected in text, expected


def test_the_filename_names_the_engagement_and_the_month(sla, vendor_user) -> None:
    statement = agreed_april(sla, vendor_user)
    assert statement_filename(statement, "xlsx") == "statement-CALL-SLA-2026-04.xlsx"
    assert statement_filename(statement, "pdf") == "statement-CALL-SLA-2026-04.pdf"


def test_it_lists_the_cap_as_a_line_of_its_own(sla) -> None:
    sla.month("2026-04", appts=95)
    sla.rules(cap_pct="2")
    statement = Statement.objects.get(period=APR)
    with translation.override("en"):
        sheet = sheet_of(statement_xlsx(statement))
    assert [c.value for c in sheet[15]] == [
        "Cap",
        None,
        None,
        None,
        None,
        10_000,
        "The month's total -¥30,000 is held within ±2% of the fee (¥20,000).",
        None,
        None,
    ]
    assert [sheet["B10"].value, sheet["B11"].value, sheet["F16"].value] == [
        -20_000,
        980_000,
        -20_000,
    ]
