"""The forms of the review pages: what a manager types; the rules are the service's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from engagements.models import User
from kpitree.models import Node
from pdca.models import DecisionKind, ReviewKind


class ReviewForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ReviewKind.choices)
    held_on = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    participants = forms.CharField(
        label=_("Participants"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    summary = forms.CharField(
        label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class DecisionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Decision"), choices=DecisionKind.choices)
    node = forms.ModelChoiceField(label=_("KPI"), queryset=Node.objects.none(), required=False)
    template_code = forms.CharField(
        label=_("Catalogue KPI code (to add)"), required=False, max_length=64
    )
    targets = forms.CharField(
        label=_("New targets (to change the target)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "2026-11 2,700"}),
        help_text=_("One month per line: the month (YYYY-MM) and the value."),
    )
    definition = forms.CharField(
        label=_("New definition (to change the definition)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, nodes: QuerySet[Node] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if nodes is not None:
            self.fields["node"].queryset = nodes  # type: ignore[attr-defined]

    def detail(self) -> dict[str, Any]:
        """The decision's detail as the service takes it, from the typed lines."""
        data = self.cleaned_data
        if data["kind"] == DecisionKind.CHANGE_TARGET:
            targets: dict[str, str] = {}
            for line in data["targets"].splitlines():
                month, _sep, value = line.strip().partition(" ")
                if month:
                    targets[month] = value.strip()
            return {"targets": targets}
        if data["kind"] == DecisionKind.CHANGE_DEFINITION:
            return {"definition": data["definition"].strip()} if data["definition"].strip() else {}
        return {}


class ActionItemForm(forms.Form):
    title = forms.CharField(label=_("Action item"), max_length=300)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    due_on = forms.DateField(
        label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, owners: QuerySet[User] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if owners is not None:
            self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
