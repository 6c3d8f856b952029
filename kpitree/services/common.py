"""What every write of the KPI tree shares: the parsed inputs, the result and the error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from kpi_planner.errors import Problem, ServiceError
from kpi_planner.numbers import parse_number as parse_number  # services.parse_number

CHUNK = 2000


def nul_message() -> str:
    """PostgreSQL cannot store (or even look up) text with a NUL character; nobody means one."""
    return _("Remove the invisible NUL character from this text.")


def has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


@dataclass(frozen=True)
class RecordResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class RecordError(ServiceError):
    """Some rows are invalid; nothing was written. Every problem names its row (`index`; 0 for
    the request as a whole), in row order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        super().__init__(sorted(problems, key=lambda p: p.index or 0))

    @property
    def errors(self) -> list[dict]:
        """The problems as dicts {"index", "field", "message", "code"}."""
        return [
            {"index": p.index, "field": p.field, "message": p.message, "code": p.code}
            for p in self.problems
        ]

    @property
    def only_locked(self) -> bool:
        return all(p.code == "locked" for p in self.problems)


def _error(index: int, field: str | None, message: str, code: str = "invalid") -> Problem:
    return Problem(message, field=field, index=index, code=code)


def _s(value: Any) -> str:
    """A code as sent, or "" (matches nothing) when it is not text or could not be looked up:
    PostgreSQL refuses a NUL character in a query, and no code contains one."""
    return value if isinstance(value, str) and "\x00" not in value else ""


def _as_rows(rows: Any) -> list[Mapping]:
    if not isinstance(rows, list | tuple) or not all(isinstance(r, Mapping) for r in rows):
        raise RecordError([_error(0, None, _("Send a list of rows (JSON objects)."))])
    if not rows:
        raise RecordError([_error(0, None, _("There are no rows to save."))])
    return list(rows)
