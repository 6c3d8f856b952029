"""A monthly statement as Excel and as PDF, in the current language (Japanese first).

Both show the same things: the engagement, vendor and month; the status (and who agreed, when);
the fee and the extra charges; each line (KPI, achievement, band, % of the fee, the exact amount,
how it was reached — money.engine.explain — and any dispute and its resolution); the total
adjustment, rounded once to whole yen; and the invoice total (Statement.invoice).

In Excel every amount and percentage is a number with a number format, so the reader can compute
with it; texts never become formulas (scorecard.reports.no_formulas). The PDF uses reportlab's
built-in CID font (no font file, no network), registered as the scorecard report does. The
caller decides who may read the statement (kpi_planner.access).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kpi_planner import numbers
from kpi_planner.months import month_text
from kpi_planner.templatetags.kpi_format import month as month_filter
from money import engine
from money.models import Statement, StatementLine
from scorecard.reports import FONT, PDF, XLSX, _register_font, no_formulas

YEN = "#,##0"
EXACT_YEN = "#,##0.00##"  # a line's exact amount when it has sen (at most 4 decimals are kept)
PCT = "0.0"
PCT_OF_FEE = "0.0#"  # a band's % of the fee has up to 2 decimals (1.25 % must not read 1.3 %)

__all__ = ["PDF", "XLSX", "statement_filename", "statement_pdf", "statement_xlsx"]


def statement_filename(statement: Statement, ext: str) -> str:
    return f"statement-{statement.engagement.code}-{statement.period:%Y-%m}.{ext}"


@dataclass(frozen=True)
class _Row:
    kind: str
    kpi: str
    achievement: float | None
    band: str
    pct: Decimal | None
    amount: Decimal
    explanation: str
    dispute: str
    resolution: str


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def _answer(text: str, user: Any, at: dt.datetime | None) -> str:
    """A dispute or a resolution with who wrote it and when: "…（vend, 2026-05-03 10:00）"."""
    if not text:
        return ""
    who = ", ".join(x for x in (user.display_name if user else "", _when(at)) if x)
    return f"{text} ({who})" if who else text


def _band(line: StatementLine) -> str:
    band = line.params.get("band") if line.reason == "band" else None
    if not band:
        return ""
    return engine.band_label(
        engine.BandSpec(
            lower=None if band["lower"] is None else Decimal(band["lower"]),
            upper=None if band["upper"] is None else Decimal(band["upper"]),
            pct=Decimal(line.params["pct"]),
        )
    )


def _rows(statement: Statement) -> list[_Row]:
    lines = statement.lines.select_related("node", "disputed_by", "resolved_by").order_by(
        "position"
    )
    rows = []
    for line in lines:
        name = line.node.name if line.node else ""
        rows.append(
            _Row(
                kind=line.get_kind_display(),
                kpi=name,
                achievement=line.achievement,
                band=_band(line),
                pct=line.pct_of_fee,
                amount=line.amount,
                explanation=engine.explain(line.reason, line.params, kpi=name or None),
                dispute=_answer(line.dispute, line.disputed_by, line.disputed_at),
                resolution=_answer(line.resolution, line.resolved_by, line.resolved_at),
            )
        )
    return rows


def _title(statement: Statement) -> str:
    return _("Statement %(month)s: %(name)s") % {
        "month": month_filter(statement.period),
        "name": statement.engagement.name,
    }


def _status(statement: Statement) -> str:
    """The status, and for an agreed statement who agreed it and when."""
    label = str(statement.get_status_display())
    if statement.status != Statement.Status.AGREED:
        return label
    return _("%(status)s by %(user)s on %(at)s") % {
        "status": label,
        "user": statement.agreed_by.display_name if statement.agreed_by else "—",
        "at": _when(statement.agreed_at) or "—",
    }


def _rounding(statement: Statement) -> str:
    n = numbers.Numbers()
    return _(
        "Each line is exact; the total is rounded once to whole yen, half away from zero "
        "(%(exact)s → %(total)s)."
    ) % {
        "exact": _exact_yen(n, statement.exact_adjustment),
        "total": n.signed_yen(statement.adjustment),
    }


def _digits(x: Decimal) -> int:
    """How many decimals an exact value has (50000.0000 → 0, 12.5000 → 1)."""
    exponent = x.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _exact_yen(n: numbers.Numbers, amount: Decimal) -> str:
    """A signed amount with every decimal it has (numbers' signed_yen shows at most two)."""
    digits = _digits(amount)
    if digits <= 2:
        return n.signed_yen(amount)
    text = n.number(abs(amount), digits)
    sign = "+" if amount > 0 else "-"
    return f"{sign}¥{text}" if n.english else f"{sign}{text}円"


def _headers() -> list[str]:
    return [
        _("Kind"),
        _("KPI"),
        _("Achievement (%)"),
        _("Band"),
        _("Share of the fee (%)"),
        _("Amount (JPY)"),
        _("How it was reached"),
        _("Dispute"),
        _("Answer to the dispute"),
    ]


def _exact(amount: Decimal) -> int | float:
    """An exact amount as an Excel number: an int when it is whole yen."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


# -- Excel -------------------------------------------------------------------------------------------


def statement_xlsx(statement: Statement) -> bytes:
    """The statement as an Excel book of one sheet (see the module's docstring)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    e = statement.engagement
    book = Workbook()
    sheet = book.active
    sheet.title = _("Statement")
    sheet.append([_title(statement)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([_("Engagement"), e.code, e.name])
    sheet.append([_("Vendor"), e.vendor.name])
    sheet.append([_("Month"), month_text(statement.period)])
    sheet.append([_("Status"), _status(statement)])
    sheet.append([_("Rule set"), str(statement.rule_set.name)])
    sheet.append([])
    for label, amount in (
        (_("Fee"), statement.fee),
        (_("Extra charges"), statement.charges),
        (_("Adjustment"), statement.adjustment),
        (_("Invoice total"), statement.invoice),
    ):
        sheet.append([label, amount])
        sheet.cell(row=sheet.max_row, column=2).number_format = YEN
    sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.cell(row=sheet.max_row, column=2).font = bold
    sheet.append([])
    sheet.append(_headers())
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for row in _rows(statement):
        sheet.append(
            [
                row.kind,
                row.kpi,
                row.achievement,
                row.band,
                None if row.pct is None else float(row.pct),
                _exact(row.amount),
                row.explanation,
                row.dispute,
                row.resolution,
            ]
        )
        r = sheet.max_row
        sheet.cell(row=r, column=3).number_format = PCT
        sheet.cell(row=r, column=5).number_format = PCT_OF_FEE
        sheet.cell(row=r, column=6).number_format = (
            YEN if row.amount == row.amount.to_integral_value() else EXACT_YEN
        )
        for col in (7, 8, 9):
            sheet.cell(row=r, column=col).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.append([_("Adjustment"), None, None, None, None, statement.adjustment])
    sheet.cell(row=sheet.max_row, column=1).font = bold
    total = sheet.cell(row=sheet.max_row, column=6)
    total.number_format, total.font = YEN, bold
    sheet.append([])
    sheet.append([_rounding(statement)])
    for letter, width in zip("ABCDEFGHI", (22, 20, 14, 22, 12, 16, 60, 36, 36), strict=True):
        sheet.column_dimensions[letter].width = width
    no_formulas(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# -- PDF ---------------------------------------------------------------------------------------------


def _pdf_styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    return {
        "title": ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK"),
        "small": ParagraphStyle("small", fontName=FONT, fontSize=7, leading=9, wordWrap="CJK"),
    }


def _p(text: str, style: Any) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


def _pdf_summary(statement: Statement, styles: dict[str, Any]) -> Any:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    n = numbers.Numbers()
    e = statement.engagement
    rows = [
        [_("Engagement"), _p(f"{e.code} {e.name}", styles["body"])],
        [_("Vendor"), _p(e.vendor.name, styles["body"])],
        [_("Month"), month_filter(statement.period)],
        [_("Status"), _p(_status(statement), styles["body"])],
        [_("Rule set"), _p(statement.rule_set.name, styles["body"])],
        [_("Fee"), n.yen(statement.fee)],
        [_("Extra charges"), n.signed_yen(statement.charges)],
        [_("Adjustment"), n.signed_yen(statement.adjustment)],
        [_("Invoice total"), n.yen(statement.invoice)],
    ]
    table = Table(rows, colWidths=[50 * mm, 110 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#D9DEE5")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F1F5F9")),
                ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#E8F0FE")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _pdf_lines(statement: Statement, styles: dict[str, Any]) -> Any:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    n = numbers.Numbers()
    small = styles["small"]
    data: list[list[Any]] = [[_p(h, small) for h in _headers()]]
    for row in _rows(statement):
        data.append(
            [
                _p(row.kind, small),
                _p(row.kpi, small),
                n.pct(row.achievement, 1),
                _p(row.band, small),
                "" if row.pct is None else n.pct(row.pct.normalize(), _digits(row.pct)),
                _exact_yen(n, row.amount),
                _p(row.explanation, small),
                _p(row.dispute, small),
                _p(row.resolution, small),
            ]
        )
    data.append(
        [
            _p(_("Adjustment"), small),
            "",
            "",
            "",
            "",
            n.signed_yen(statement.adjustment),
            "",
            "",
            "",
        ]
    )
    widths = [16, 26, 18, 26, 14, 26, 75, 38, 38]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F1F5F9")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#D9DEE5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (2, 1), (2, -1), "RIGHT"),
                ("ALIGN", (4, 1), (5, -1), "RIGHT"),
                ("SPAN", (0, -1), (4, -1)),
            ]
        )
    )
    return table


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF (A4 landscape; see the module's docstring)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate, Spacer

    _register_font()
    styles = _pdf_styles()
    story: list = [
        _p(_title(statement), styles["title"]),
        _pdf_summary(statement, styles),
        Spacer(1, 5 * mm),
        _pdf_lines(statement, styles),
        Spacer(1, 3 * mm),
        _p(_rounding(statement), styles["body"]),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=15 * mm,
        title=_title(statement),
        author="KPI Planner",
        lang=get_language(),
    )
    e, period = statement.engagement, statement.period

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(12 * mm, 8 * mm, f"KPI Planner · {e.code} · {period:%Y-%m}")
        canvas.drawRightString(doc.pagesize[0] - 12 * mm, 8 * mm, _("Page %(n)s") % {"n": doc.page})
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
