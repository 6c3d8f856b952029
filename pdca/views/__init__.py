"""The PDCA pages: one module per page family (reviews, actions). Their forms are written with
kpi_planner.errors.form_write, as every page's are."""

from kpi_planner.errors import form_write

__all__ = ["form_write"]
