"""The one error a service raises when it refuses a write, and its two mappings.

A service lists every problem it found as a `Problem` (the message, the field it is about, the
row of a list input, a code) and raises them together as a `ServiceError`; nothing was written.
The API answers it in `kpi_planner.api.exception_handler` (status from the codes, API.md
"Errors"); HTML views show it on their form with `add_form_errors`. Subclasses
(kpitree's RecordError, the portal's WorkflowError and UploadError) only add convenience
constructors and names that callers and tests already use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy

# Codes whose problems are about the state of the data, not the request: 409 when they are all
# there is (a locked month, a step that does not fit the month's status, a stale ETag, an object
# still in use).
_T = TypeVar("_T")

CONFLICT_CODES = frozenset({"locked", "conflict", "stale", "in_use"})


@dataclass(frozen=True)
class Problem:
    """One reason a write was refused.

    `field`: the input field it is about (None: the request as a whole); `index`: the row of a
    list input (an uploaded file: its line); `code`: "invalid", "forbidden" or one of
    CONFLICT_CODES."""

    message: str
    field: str | None = None
    index: int | None = None
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        """The API's form of the problem (API.md "Errors"): {"field", "message", "index"?}."""
        row: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.index is not None:
            row["index"] = self.index
        return row


class ServiceError(Exception):
    """A write refused; nothing was written. `problems` lists every reason found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.messages) or "refused")

    @property
    def messages(self) -> list[str]:
        return [p.message for p in self.problems]

    @property
    def status(self) -> int:
        """The HTTP status: 409 when every problem is a conflict with the data's state; 403 when
        the caller may not do this at all (every problem forbidden, none naming a field: a row
        the caller may not write is that row's problem, listed with the others under 400);
        otherwise 400."""
        codes = {p.code for p in self.problems}
        if codes and codes <= CONFLICT_CODES:
            return 409
        if codes == {"forbidden"} and all(p.field is None for p in self.problems):
            return 403
        return 400

    def messages_by_field(self) -> dict[str | None, list[str]]:
        """The messages grouped by the field they name (None: the request as a whole)."""
        out: dict[str | None, list[str]] = {}
        for problem in self.problems:
            out.setdefault(problem.field, []).append(problem.message)
        return out


# Django's ProtectedError as the service's refusal (a vendor's engagements, a node's actuals).
IN_USE_MESSAGE = gettext_lazy(
    "This object is still used by others (e.g. a vendor's engagements); delete or move those first."
)


def in_use_error() -> ServiceError:
    """The object is still used by others (a PROTECT reference): 409, nothing deleted."""
    return ServiceError([Problem(str(IN_USE_MESSAGE), code="in_use")])


def refuse_if_forbidden(exc: ServiceError) -> None:
    """HTML views: a request the caller may not make at all is Django's 403 page (as the API's
    403), not a message on the form."""
    if exc.status == 403:
        raise PermissionDenied(" ".join(exc.messages)) from None


def problems_of(exc: ServiceError | ValidationError) -> list[Problem]:
    """The problems of a ServiceError, or of a Django ValidationError (its fields as named)."""
    if isinstance(exc, ServiceError):
        return exc.problems
    if not hasattr(exc, "error_dict"):
        return [Problem(message) for message in exc.messages]
    return [
        Problem(message, field=None if name == "__all__" else name)
        for name, messages in exc.message_dict.items()
        for message in messages
    ]


def add_form_errors(
    form: forms.BaseForm,
    exc: ServiceError | ValidationError,
    field_of: Callable[[Problem], str | None] | None = None,
) -> None:
    """Show a refused write on `form`: each problem beside the field it names when the form has
    that field, else above the form. `field_of` names the form field of a problem when the
    form's names differ from the service's (e.g. a grid of rows)."""
    for problem in problems_of(exc):
        name = field_of(problem) if field_of else problem.field
        form.add_error(name if name in form.fields else None, problem.message)


def form_write(form: forms.BaseForm, write: Callable[[], _T]) -> _T | None:
    """HTML views: run the service write of a valid form; its result, or None when the service
    refused, with the refusal shown on the form (a forbidden one answers 403 instead)."""
    try:
        return write()
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        add_form_errors(form, exc)
        return None
