"""The PDCA pages: one module per page family (reviews, actions), and what their forms share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django import forms

from kpi_planner.errors import ServiceError, add_form_errors, refuse_if_forbidden

T = TypeVar("T")


def form_write(form: forms.BaseForm, write: Callable[[], T]) -> T | None:
    """Run the service write of a valid form: its result, or None when the service refused, with
    the refusal shown on the form (a forbidden one answers 403 instead)."""
    try:
        return write()
    except ServiceError as exc:
        refuse_if_forbidden(exc)
        add_form_errors(form, exc)
        return None
