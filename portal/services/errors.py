"""The error of a refused portal step (WorkflowError), shared by the portal's write modules."""

from __future__ import annotations

from kpi_planner.errors import Problem, ServiceError


class WorkflowError(ServiceError):
    """A refused step: one problem. `code`: "invalid" (400), "forbidden" (403), "conflict" (409)."""

    def __init__(self, message: str, code: str = "invalid", field: str | None = None) -> None:
        super().__init__([Problem(message, field=field, code=code)])
        self.message, self.code, self.field = message, code, field
