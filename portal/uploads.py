"""Monthly actuals from a CSV or Excel (.xlsx) file, and the template to fill in.

The file is read completely and every line checked before anything is written; a file with one
bad line writes nothing and the answer lists every bad line with its number and the reason.
The rows then go through `kpitree.services.actuals_record` (channel "upload"), the same write
path as the grid and the API, whose errors are mapped back to file lines as a last guard.

Accepted: CSV in UTF-8 (with or without BOM), Shift_JIS/CP932 (what Excel writes as "CSV" on a
Japanese Windows) or UTF-16 with BOM ("Unicode text", tab-separated); comma or tab separated;
and .xlsx (first sheet). The header row names the columns (any order, English codes or the
Japanese labels below); `node` and `value` are required, `period` defaults to the page's month.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from engagements.models import Engagement, User
from kpi_planner.access import can_report
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import clean_month, month_text, parse_month
from kpi_planner.numbers import clean_number, input_text, parse_number
from kpitree.models import Actual, Node
from kpitree.services import RecordError, RecordResult, actuals_record
from portal.queries import in_plan, is_typed, portal_nodes
from portal.services.comments import join_comment, split_comment
from portal.services.errors import WorkflowError

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
COLUMNS = ("tree", "node", "name", "unit", "period", "value", "comment", "next_action")
REQUIRED = ("node", "value")
# Read when present, not in the template: `segment` (issue 15) makes a line one segment's actual
# (an operator, a talk script, a list, a channel); actuals_record writes the KPI's total of its
# segments. Several lines of a KPI and month then differ by segment.
OPTIONAL = ("segment",)
# Header labels people may write instead of the codes (compared after NFKC and lower-casing).
ALIASES = {
    "ツリー": "tree",
    "ツリーコード": "tree",
    "kpiツリー": "tree",
    "code": "node",
    "kpi": "node",
    "kpiコード": "node",
    "コード": "node",
    "kpi名": "name",
    "名前": "name",
    "単位": "unit",
    "month": "period",
    "月": "period",
    "対象月": "period",
    "年月": "period",
    "actual": "value",
    "実績": "value",
    "実績値": "value",
    "値": "value",
    "コメント": "comment",
    "なぜ増えた/減った": "comment",
    "増減の理由": "comment",
    "next action": "next_action",
    "次のアクション": "next_action",
    "セグメント": "segment",
    "区分": "segment",
}


class LineError(Problem):
    """A problem of the file: its `line` (the Problem's index; None: the file as a whole) and
    `column` (the Problem's field)."""

    def __init__(
        self, line: int | None, message: str, column: str | None = None, code: str = "invalid"
    ) -> None:
        super().__init__(message, field=column, index=line, code=code)

    @property
    def line(self) -> int | None:
        return self.index

    @property
    def column(self) -> str | None:
        return self.field


class UploadError(ServiceError):
    """The file was refused; nothing was written. `errors`: its problems, by line."""

    def __init__(self, errors: Iterable[LineError]) -> None:
        self.errors = list(errors)
        super().__init__(self.errors)


def _fail(message: str) -> UploadError:
    return UploadError([LineError(None, message)])


# -- reading the file -------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:  # an odd number of bytes, a lone surrogate
            raise _fail(_("This is not a CSV or Excel (.xlsx) file.")) from None
        if "\x00" in text:
            raise _fail(_("This is not a CSV or Excel (.xlsx) file."))
        return text
    if b"\x00" in data:
        raise _fail(_("This is not a CSV or Excel (.xlsx) file."))
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
            raise _fail(_("This is not a CSV or Excel (.xlsx) file."))
        return text
    raise _fail(
        _(
            "The file is neither UTF-8 nor Shift_JIS text. Save it from Excel as "
            "“CSV UTF-8” or as an Excel workbook (.xlsx)."
        )
    )


def _csv_table(data: bytes) -> list[tuple[int, list[str]]]:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = []
    try:
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            table.append((line, cells))
            if len(table) > MAX_ROWS + 1:
                raise _fail(_("The file has more than %(max)s rows.") % {"max": MAX_ROWS})
    except csv.Error as exc:
        raise UploadError(
            [LineError(reader.line_num, _("Unreadable CSV: %(error)s") % {"error": exc})]
        ) from None
    return table


def _cell_text(cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return month_text(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        # A cell formatted as a percentage holds 0.6 for "60%"; KPIs in % are kept as 60.
        if "%" in (cell.number_format or ""):
            value = round(value * 100, 10)
        return input_text(value)
    return str(value)


def _xlsx_table(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), data_only=True)
    except Exception:  # zip, XML or format errors: all mean the same thing to the user
        raise _fail(_("The Excel file could not be read; save it again as .xlsx.")) from None
    sheet = book["actuals"] if "actuals" in book.sheetnames else book.worksheets[0]
    if sheet.max_row > MAX_ROWS + 1:
        raise _fail(_("The file has more than %(max)s rows.") % {"max": MAX_ROWS})
    return [
        (number, [_cell_text(c) for c in row])
        for number, row in enumerate(sheet.iter_rows(), start=1)
    ]


def read_table(data: bytes) -> tuple[dict[str, int], list[tuple[int, dict[str, str]]]]:
    """The file's header (column → position) and its data rows as (line, {column: text})."""
    if not data or not data.strip():
        raise _fail(_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise _fail(_("The file is larger than 2 MB."))
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _fail(_("Old Excel files (.xls) cannot be read; save it as .xlsx or CSV."))
    table = _xlsx_table(data) if data.startswith(b"PK\x03\x04") else _csv_table(data)
    # A NUL byte (possible in an .xlsx cell) cannot be stored by PostgreSQL: drop it.
    table = [(line, [c.replace("\x00", "").strip() for c in cells]) for line, cells in table]
    table = [(line, cells) for line, cells in table if any(cells)]
    if not table:
        raise _fail(_("The file is empty."))
    header_line, header_cells = table[0]
    header: dict[str, int] = {}
    for position, label in enumerate(header_cells):
        key = unicodedata.normalize("NFKC", label).strip().lower()
        name = key if key in COLUMNS or key in OPTIONAL else ALIASES.get(key)
        if name and name not in header:
            header[name] = position
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UploadError(
            [
                LineError(
                    header_line,
                    _("The first line must be the header (%(columns)s); missing: %(missing)s.")
                    % {"columns": ", ".join(COLUMNS), "missing": ", ".join(missing)},
                )
            ]
        )
    rows = [
        (line, {name: cells[pos] if pos < len(cells) else "" for name, pos in header.items()})
        for line, cells in table[1:]
    ]
    if not rows:
        raise _fail(_("The file has a header but no data rows."))
    return header, rows


# -- checking and writing ------------------------------------------------------------------------


def _period_text(raw: str, default: dt.date) -> str:
    """The row's month as "YYYY-MM" (2026/4, 2026年4月 allowed), the upload's month when empty."""
    return clean_month(raw) or month_text(default)


def upload_actuals(
    *, user: User, engagement: Engagement, period: dt.date, data: bytes
) -> tuple[RecordResult, int]:
    """Check and write a file of actuals for the engagement: all its rows or none.

    Returns (result, number of rows written); raises UploadError listing every bad line.
    """
    if not can_report(user, engagement):
        raise WorkflowError(_("You may not enter this engagement's actuals."), "forbidden")
    _header, table = read_table(data)
    nodes = list(portal_nodes(user, engagement))
    by_code: dict[str, list[Node]] = {}
    for node in nodes:
        by_code.setdefault(node.code, []).append(node)
    errors: list[LineError] = []
    rows: list[dict] = []
    lines: list[int] = []
    seen: dict[tuple[int, str, str], int] = {}
    for line, cells in table:
        problems = _check_row(line, cells, by_code, engagement, period)
        if problems:
            errors += problems
            continue
        if not clean_number(cells["value"]) and not (
            cells.get("comment") or cells.get("next_action")
        ):
            continue  # a template line left empty
        node = _node_of(cells, by_code)
        period_text = _period_text(cells.get("period", ""), period)
        segment = cells.get("segment", "")
        key = (node.pk, period_text, segment)
        if key in seen:
            same = (
                _("Same KPI, month and segment as line %(line)s.")
                if segment
                else _("Same KPI and month as line %(line)s.")
            )
            errors.append(LineError(line, same % {"line": seen[key]}, "node"))
            continue
        seen[key] = line
        rows.append(
            {
                "tree": node.tree.code,
                "node": node.code,
                "period": period_text,
                "value": clean_number(cells["value"]),
                "comment": join_comment(cells.get("comment", ""), cells.get("next_action", "")),
                **({"segment": segment} if segment else {}),
            }
        )
        lines.append(line)
    if not errors and not rows:
        raise _fail(_("The file has no values to save."))
    # The service checks what every channel checks (input node, number, month, plan, lock),
    # with its messages; the upload adds the lines. Its problems and the file's are listed
    # together: with problems of the file's own, its write is rolled back.
    try:
        with transaction.atomic():
            result = actuals_record(user=user, rows=rows, channel="upload")
            if errors:
                raise UploadError(errors)
    except RecordError as exc:
        errors += [LineError(_line_of(p, lines), p.message, p.field, p.code) for p in exc.problems]
        raise UploadError(sorted(errors, key=lambda e: (e.line is None, e.line or 0))) from None
    return result, len(rows)


def _line_of(problem: Problem, lines: list[int]) -> int | None:
    index = problem.index
    return lines[index] if index is not None and 0 <= index < len(lines) else None


def _node_of(cells: dict[str, str], by_code: dict[str, list[Node]]) -> Node:
    candidates = by_code.get(cells["node"], [])
    tree = cells.get("tree", "")
    if tree:
        candidates = [n for n in candidates if n.tree.code == tree]
    return candidates[0]


def _check_row(
    line: int,
    cells: dict[str, str],
    by_code: dict[str, list[Node]],
    engagement: Engagement,
    default_period: dt.date,
) -> list[LineError]:
    """What only a file can get wrong: a KPI code that names no node of the engagement (or
    several), a comment without its value, a month outside the engagement. The rest is
    actuals_record's to check."""
    problems: list[LineError] = []
    code, tree = cells["node"], cells.get("tree", "")
    candidates = [n for n in by_code.get(code, []) if not tree or n.tree.code == tree]
    if not code:
        problems.append(LineError(line, _("The KPI code is missing."), "node"))
    elif not candidates:
        problems.append(
            LineError(
                line, _("Unknown KPI code “%(code)s” for this engagement.") % {"code": code}, "node"
            )
        )
    elif len(candidates) > 1:
        problems.append(
            LineError(
                line,
                _("“%(code)s” is in several plans; fill in the tree column.") % {"code": code},
                "tree",
            )
        )
    if not clean_number(cells["value"]):
        if cells.get("comment") or cells.get("next_action"):
            problems.append(
                LineError(line, _("Enter the value that this comment explains."), "value")
            )
        return problems if code or cells.get("comment") else []
    period_text = _period_text(cells.get("period", ""), default_period)
    period = parse_month(period_text)
    if period is not None and not (engagement.start_month <= period <= engagement.end_month):
        problems.append(
            LineError(
                line,
                _("%(period)s is outside the engagement (%(start)s to %(end)s).")
                % {
                    "period": period_text,
                    "start": month_text(engagement.start_month),
                    "end": month_text(engagement.end_month),
                },
                "period",
            )
        )
    return problems


# -- the template -------------------------------------------------------------------------------------


def template_rows(user: User, engagement: Engagement, period: dt.date) -> list[list[str]]:
    """Header and one line per KPI to enter for the month, with the values saved so far."""
    nodes = [n for n in portal_nodes(user, engagement) if is_typed(n) and in_plan(n, period)]
    saved = {
        a.node_id: a
        for a in Actual.objects.filter(node__in=nodes, period=period).only(
            "node_id", "value", "comment"
        )
    }
    out = [list(COLUMNS)]
    for node in nodes:
        actual = saved.get(node.pk)
        why, next_action = split_comment(actual.comment) if actual else ("", "")
        value = input_text(actual.value if actual else None)
        out.append(
            [
                node.tree.code,
                node.code,
                node.name,
                node.unit,
                month_text(period),
                value,
                why,
                next_action,
            ]
        )
    return out


def template_csv(user: User, engagement: Engagement, period: dt.date) -> bytes:
    """UTF-8 with a BOM, so that Excel opens the Japanese names correctly."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(template_rows(user, engagement, period))
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def template_xlsx(user: User, engagement: Engagement, period: dt.date) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "actuals"
    for i, texts in enumerate(template_rows(user, engagement, period)):
        line: list[str | float | None] = list(texts)
        if i and texts[5]:
            line[5] = parse_number(texts[5])  # a number cell, not text
        sheet.append(line)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E2E8F0")
    for column, width in zip("ABCDEFGH", (14, 16, 28, 8, 10, 14, 48, 40), strict=True):
        sheet.column_dimensions[column].width = width
    for cell in sheet["E"][1:]:
        cell.number_format = "@"  # keep "2026-04" as text: Excel would turn it into a date
    sheet.freeze_panes = "A2"
    # openpyxl stores a text starting with "=" as a formula: a comment such as =HYPERLINK(…)
    # must come back as the text that was typed.
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
