"""The monthly scorecard report of an engagement, as Excel and as PDF, in the reader's language.

- Excel (openpyxl): a summary sheet, one sheet per perspective with the KPIs' values (numbers,
  not pictures, so the reader can compute with them) and a sheet of the monthly scores.
- PDF (reportlab): a summary page with two charts drawn by reportlab.graphics (perspective
  scores, the overall score's trend) and the KPI tables. Japanese text uses reportlab's built-in
  CID font HeiseiKakuGo-W5, so no font file and no network are needed.

`monthly_report_attachments(engagement, period, language)` returns both as e-mail attachments
(the monthly reminder to the manager attaches them). The caller decides who may receive them.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from engagements.models import Engagement
from kpi_planner import numbers
from kpi_planner.months import month_of, month_text
from kpi_planner.templatetags.kpi_format import month as month_filter
from scorecard import charts, queries
from scorecard.scoring import PERSPECTIVES
from scorecard.tables import status_label

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
FONT = "HeiseiKakuGo-W5"
STATUS_FILL = {"green": "009E73", "amber": "E69F00", "red": "D55E00", "none": "999999"}


def _month_of(period: dt.date | str) -> dt.date:
    return period.replace(day=1) if isinstance(period, dt.date) else month_of(period)


def _page(engagement: Engagement, month: dt.date) -> queries.EngagementPage:
    return queries.engagement_page(engagement, month, "month")


def _filename(engagement: Engagement, month: dt.date, ext: str) -> str:
    return f"scorecard-{engagement.code}-{month:%Y-%m}.{ext}"


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _fmt(x: Any, digits: int = 1) -> str:
    return numbers.number(_num(x), digits)


def no_formulas(book) -> None:
    """Keep every text as text: openpyxl stores a string starting with "=" as a formula, so a
    vendor's comment such as =HYPERLINK(…) would run in the reader's Excel. The reports write
    no formula of their own."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _title(engagement: Engagement, month: dt.date) -> str:
    return _("Monthly scorecard report: %(engagement)s") % {"engagement": engagement.name}


# -- Excel -------------------------------------------------------------------------------------------


def excel_report(
    engagement: Engagement, period: dt.date | str, language: str
) -> tuple[str, bytes, str]:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    month = _month_of(period)
    with translation.override(language):
        page = _page(engagement, month)
        card = page.scorecard
        labels = charts.perspective_labels()
        bold = Font(bold=True)
        book = Workbook()
        summary = book.active
        summary.title = _("Summary")
        summary.append([_title(engagement, month)])
        summary["A1"].font = Font(bold=True, size=14)
        summary.append([_("Engagement"), engagement.code, engagement.name])
        summary.append([_("Vendor"), engagement.vendor.name])
        summary.append([_("Month"), month_text(month)])
        summary.append([])
        summary.append([_("Perspective"), _("Score"), _("Status"), _("Weight"), _("KPIs")])
        header_row = summary.max_row
        summary.append(
            [
                _("Overall"),
                _num(card.overall_score),
                status_label(card.overall_status),
                None,
                len(card.kpis()),
            ]
        )
        for p in PERSPECTIVES:
            ps = card.perspectives[p]
            summary.append(
                [labels[p], _num(ps.score), status_label(ps.status), ps.weight, len(ps.kpis)]
            )
        for cell in summary[header_row]:
            cell.font = bold
        for row in summary.iter_rows(min_row=header_row + 1, max_row=summary.max_row):
            row[1].number_format = "0.0"
            status = {status_label(s): s for s in STATUS_FILL}.get(row[2].value, "none")
            row[2].fill = PatternFill("solid", fgColor=STATUS_FILL[status])
        summary.append([])
        summary.append([_explanation(card)])
        summary.cell(row=summary.max_row, column=1).alignment = Alignment(wrap_text=False)
        for restated in page.restated:
            summary.append([_restatement_text(restated)])
        for heading, texts in _sections(engagement, month):
            summary.append([])
            summary.append([heading])
            summary.cell(row=summary.max_row, column=1).font = bold
            for text in texts:
                summary.append([text])
        summary.column_dimensions["A"].width = 28
        summary.column_dimensions["C"].width = 16

        prev_label, yago_label = _("vs previous month"), _("vs same month last year")
        headers = [
            _("Code"),
            _("KPI"),
            _("KPI tree"),
            _("Unit"),
            _("Actual"),
            _("Target"),
            _("Achievement (%)"),
            _("Score"),
            _("Status"),
            _("Weight"),
            prev_label + " (%)",
            yago_label + " (%)",
            _("Probability of reaching the year's target (%)"),
            _("Vendor's comment"),
        ]
        for perspective, lines in page.perspective_lines():
            sheet = book.create_sheet(labels[perspective.key])
            sheet.append(headers)
            for cell in sheet[1]:
                cell.font = bold
            if not lines:
                sheet.append([_("No KPI in this perspective.")])
            for line in lines:
                k = line.kpi
                f = line.forecast
                sheet.append(
                    [
                        k.code,
                        k.name,
                        k.extra.get("tree_code"),
                        k.extra.get("unit"),
                        _num(k.extra.get("actual")),
                        _num(k.extra.get("target")),
                        _num(k.achievement),
                        _num(k.score),
                        status_label(k.status),
                        k.weight,
                        _num(line.previous),
                        _num(line.year_ago),
                        None
                        if f is None or f.probability is None
                        else round(f.probability * 100, 1),
                        " / ".join(c for _m, c in line.comments),
                    ]
                )
                sheet.cell(row=sheet.max_row, column=9).fill = PatternFill(
                    "solid", fgColor=STATUS_FILL.get(k.status, "999999")
                )
                for col in (7, 8, 11, 12):
                    sheet.cell(row=sheet.max_row, column=col).number_format = "0.0"
                for col in (5, 6):
                    sheet.cell(row=sheet.max_row, column=col).number_format = "#,##0.##"
            sheet.column_dimensions["B"].width = 24
            sheet.column_dimensions["N"].width = 60
            sheet.freeze_panes = "C2"

        trend = book.create_sheet(_("Scores by month"))
        trend.append([_("Month"), _("Overall"), *(labels[p] for p in PERSPECTIVES)])
        for cell in trend[1]:
            cell.font = bold
        for m in page.trend.index:
            trend.append(
                [month_text(m), *(_num(page.trend.loc[m, c]) for c in ["overall", *PERSPECTIVES])]
            )
        no_formulas(book)
        buffer = io.BytesIO()
        book.save(buffer)
        return _filename(engagement, month, "xlsx"), buffer.getvalue(), XLSX


def _explanation(card) -> str:
    return _(
        "Scores: each KPI's achievement (%%) counts up to %(cap)s; a perspective's score is the "
        "weighted mean of its KPIs' scores (weights of the KPIs); the overall score is the mean of "
        "the perspective scores weighted by the perspective weights. A perspective without a KPI "
        "is missing, not zero. On track from %(green)s, at risk from %(amber)s."
    ) % {
        "cap": _fmt(max((k.extra.get("cap", 120) for k in card.kpis()), default=120), 0),
        "green": _fmt(card.thresholds.green, 0),
        "amber": _fmt(card.thresholds.amber, 0),
    }


def _sections(engagement: Engagement, month: dt.date) -> list[tuple[str, list[str]]]:
    """The report's sections after the summary, each a heading and its lines, in the active
    language: the commitments and how the manager assessed them (scorecard.commitment_services),
    and what moved the computed KPIs (kpitree.attribution_queries). Empty ones left out."""
    from kpitree.attribution_queries import REPORT_HEADING, attribution_lines
    from scorecard.commitment_services import commitment_rows

    commitments = [
        f"{text}: {assessment}" + (f" — {note}" if note else "")
        for text, assessment, note in commitment_rows(engagement, month)
    ]
    sections = [
        (_("Commitments"), commitments),
        (str(REPORT_HEADING), attribution_lines(engagement, month)),
    ]
    return [(heading, lines) for heading, lines in sections if lines]


def _restatement_text(snapshot) -> str:
    return _("Restated on %(date)s (%(reason)s): the score was %(old)s before.") % {
        "date": f"{snapshot.taken_at:%Y-%m-%d}",
        "reason": snapshot.get_reason_display(),
        "old": _fmt(snapshot.previous.overall_score if snapshot.previous else None),
    }


# -- PDF ---------------------------------------------------------------------------------------------


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _colour(status: str):
    from reportlab.lib import colors

    return colors.HexColor("#" + STATUS_FILL.get(status, "999999"))


def _perspective_chart(card, labels: dict[str, str]):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, Line, String
    from reportlab.lib import colors

    drawing = Drawing(240, 170)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 35, 35, 190, 105
    scores = [_num(card.perspectives[p].score) or 0 for p in PERSPECTIVES]
    chart.data = [scores]
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(120, *(s for s in scores))
    chart.valueAxis.valueStep = 20
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [labels[p] for p in PERSPECTIVES]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.barWidth = 12
    for i, p in enumerate(PERSPECTIVES):
        chart.bars[(0, i)].fillColor = _colour(card.perspectives[p].status)
    drawing.add(chart)
    green = card.thresholds.green
    y = chart.y + chart.height * green / chart.valueAxis.valueMax
    drawing.add(
        Line(
            chart.x,
            y,
            chart.x + chart.width,
            y,
            strokeColor=colors.HexColor("#009E73"),
            strokeDashArray=[2, 2],
        )
    )
    drawing.add(String(5, 155, _("Score by perspective"), fontName=FONT, fontSize=9))
    for i, p in enumerate(PERSPECTIVES):
        if card.perspectives[p].score is None:
            x = chart.x + chart.width * (i + 0.5) / 4
            drawing.add(
                String(x, chart.y + 4, _("missing"), fontName=FONT, fontSize=6, textAnchor="middle")
            )
    return drawing


def _trend_chart(trend):
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.graphics.widgets.markers import makeMarker
    from reportlab.lib import colors

    drawing = Drawing(260, 170)
    drawing.add(
        String(5, 155, _("Overall score over the last 12 months"), fontName=FONT, fontSize=9)
    )
    points = [(i, x) for i, v in enumerate(trend["overall"]) if (x := _num(v)) is not None]
    if len(points) < 1:
        drawing.add(String(60, 80, _("No scores yet."), fontName=FONT, fontSize=8))
        return drawing
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 35, 35, 210, 105
    plot.data = [points]
    plot.lines[0].strokeColor = colors.HexColor("#0072B2")
    plot.lines[0].strokeWidth = 2
    plot.lines[0].symbol = makeMarker("FilledCircle", size=3)
    plot.xValueAxis.valueMin = 0
    plot.xValueAxis.valueMax = max(len(trend) - 1, 1)
    plot.xValueAxis.valueSteps = list(range(0, len(trend), 2))
    months = list(trend.index)
    plot.xValueAxis.labelTextFormat = lambda i: (
        f"{months[int(i)]:%y/%m}" if 0 <= int(i) < len(months) else ""
    )
    plot.xValueAxis.labels.fontName = FONT
    plot.xValueAxis.labels.fontSize = 6
    plot.yValueAxis.valueMin = 0
    plot.yValueAxis.valueMax = max(120, *(p[1] for p in points))
    plot.yValueAxis.labels.fontName = FONT
    plot.yValueAxis.labels.fontSize = 7
    drawing.add(plot)
    return drawing


def pdf_report(
    engagement: Engagement, period: dt.date | str, language: str
) -> tuple[str, bytes, str]:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    _register_font()
    month = _month_of(period)
    with translation.override(language):
        page = _page(engagement, month)
        card = page.scorecard
        labels = charts.perspective_labels()
        styles = _pdf_styles()
        story: list = [
            Paragraph(_title(engagement, month), styles["title"]),
            Paragraph(
                f"{_('Vendor')}: {engagement.vendor.name} ／ {_('Engagement')}: {engagement.code} ／ "
                f"{_('Month')}: {month_filter(month)}",
                styles["body"],
            ),
            Spacer(1, 4 * mm),
        ]
        story += [_pdf_summary_table(card, labels), Spacer(1, 4 * mm)]
        story += _pdf_charts_and_notes(page, labels, styles)
        for heading, texts in _sections(engagement, month):
            story.append(Paragraph(heading, styles["h2"]))
            story += [Paragraph(text, styles["body"]) for text in texts]
        story.append(PageBreak())
        story.append(Paragraph(_("KPIs by perspective"), styles["h2"]))
        story += _pdf_perspective_tables(page, labels, styles)
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=landscape(A4),
            leftMargin=15 * mm,
            rightMargin=15 * mm,
            topMargin=12 * mm,
            bottomMargin=15 * mm,
            title=_title(engagement, month),
            author="KPI Planner",
            lang=language,
        )
        footer = _pdf_footer(engagement, month)
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
        return _filename(engagement, month, "pdf"), buffer.getvalue(), PDF


def _pdf_styles() -> dict[str, Any]:
    """The paragraph styles of the PDF report: title, h2, body, small."""
    from reportlab.lib.styles import ParagraphStyle

    return {
        "title": ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, spaceAfter=4),
        "h2": ParagraphStyle(
            "h2", fontName=FONT, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4
        ),
        "body": ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=12, wordWrap="CJK"),
        "small": ParagraphStyle("small", fontName=FONT, fontSize=7, leading=9, wordWrap="CJK"),
    }


def _status_cell_style(column: int, row: int, status: str) -> list[tuple]:
    """A status cell filled with its colour (white text, black on amber)."""
    from reportlab.lib import colors

    return [
        ("BACKGROUND", (column, row), (column, row), _colour(status)),
        (
            "TEXTCOLOR",
            (column, row),
            (column, row),
            colors.white if status != "amber" else colors.black,
        ),
    ]


def _pdf_summary_table(card: Any, labels: dict[str, str]) -> Any:
    """The first page's table: the overall score, then each perspective's."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    summary = [[_("Perspective"), _("Score"), _("Status"), _("Weight"), _("KPIs")]]
    summary.append(
        [
            _("Overall"),
            _fmt(card.overall_score),
            status_label(card.overall_status),
            "",
            str(len(card.kpis())),
        ]
    )
    statuses = [card.overall_status]
    for p in PERSPECTIVES:
        ps = card.perspectives[p]
        summary.append(
            [
                labels[p],
                _fmt(ps.score),
                status_label(ps.status),
                _fmt(ps.weight, 0),
                str(len(ps.kpis)),
            ]
        )
        statuses.append(ps.status)
    table = Table(summary, colWidths=[45 * mm, 25 * mm, 30 * mm, 20 * mm, 18 * mm])
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F1F5F9")),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#D9DEE5")),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ]
    for i, status in enumerate(statuses, start=1):
        style += _status_cell_style(2, i, status)
    table.setStyle(TableStyle(style))
    return table


def _pdf_charts_and_notes(page: Any, labels: dict[str, str], styles: dict[str, Any]) -> list:
    """The two charts, the explanation, the restatements and what needs attention."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table

    card = page.scorecard
    small, body = styles["small"], styles["body"]
    charts_row = Table(
        [[_perspective_chart(card, labels), _trend_chart(page.trend)]],
        colWidths=[125 * mm, 135 * mm],
    )
    story: list = [charts_row, Paragraph(_explanation(card), small)]
    for restated in page.restated:
        story.append(Paragraph(_restatement_text(restated), small))
    attention = page.attention()
    if attention:
        story.append(Paragraph(_("Needs attention"), styles["h2"]))
        for line in attention[:8]:
            text = f"{line.kpi.name}: {status_label(line.kpi.status)} ({numbers.pct(_num(line.kpi.achievement), 1)})"
            forecast = line.forecast
            if forecast and forecast.at_risk and forecast.probability is not None:
                text += " — " + _("may miss the year's target (%(pct)s)") % {
                    "pct": numbers.pct(_num(forecast.probability * 100), 0)
                }
            story.append(Paragraph(text, body))
    return story


def _pdf_perspective_tables(page: Any, labels: dict[str, str], styles: dict[str, Any]) -> list:
    """One table of KPIs for each perspective, kept together with its heading."""
    from reportlab.platypus import Paragraph
    from reportlab.platypus.flowables import KeepTogether

    story: list = []
    for perspective, lines in page.perspective_lines():
        table = _pdf_kpi_table(lines, styles["small"])
        score = _fmt(perspective.score) if perspective.kpis else _("missing")
        heading = f"{labels[perspective.key]} — {_('Score')}: {score}"
        story.append(KeepTogether([Paragraph(heading, styles["h2"]), table]))
    return story


def _pdf_kpi_table(lines: list, small: Any) -> Any:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    header = [
        _("KPI"),
        _("Actual"),
        _("Target"),
        _("Achievement"),
        _("Status"),
        _("vs previous month"),
        _("vs same month last year"),
        _("Vendor's comment"),
    ]
    widths = [48 * mm, 24 * mm, 24 * mm, 20 * mm, 20 * mm, 22 * mm, 24 * mm, 85 * mm]
    rows: list[list] = [[Paragraph(h, small) for h in header]]
    status_cells = []
    for i, line in enumerate(lines, start=1):
        k = line.kpi
        unit = k.extra.get("unit") or ""
        rows.append(
            [
                Paragraph(k.name, small),
                _fmt(k.extra.get("actual"), 1) + unit,
                _fmt(k.extra.get("target"), 1) + unit,
                numbers.pct(_num(k.achievement), 1),
                status_label(k.status),
                _signed(line.previous),
                _signed(line.year_ago),
                Paragraph(" / ".join(c for _m, c in line.comments) or "—", small),
            ]
        )
        status_cells.append((i, k.status))
    if not lines:
        rows.append([_("No KPI in this perspective."), "", "", "", "", "", "", ""])
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F1F5F9")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#D9DEE5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (1, 1), (6, -1), "RIGHT"),
    ]
    for i, status in status_cells:
        style += _status_cell_style(4, i, status)
    table.setStyle(TableStyle(style))
    return table


def _pdf_footer(engagement: Engagement, month: dt.date) -> Callable[[Any, Any], None]:
    """What every page of the PDF ends with: the engagement, the month, the page number."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.HexColor("#5F6B7A"))
        canvas.drawString(15 * mm, 8 * mm, f"KPI Planner · {engagement.code} · {month:%Y-%m}")
        canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm, _("Page %(n)s") % {"n": doc.page})
        canvas.restoreState()

    return footer


def _signed(x: float | None) -> str:
    return numbers.change(_num(x))


def monthly_report_attachments(
    engagement: Engagement, period: dt.date | str, language: str
) -> list[tuple[str, bytes, str]]:
    """The month's Excel and PDF reports as (filename, content, mimetype) for an e-mail."""
    return [excel_report(engagement, period, language), pdf_report(engagement, period, language)]
