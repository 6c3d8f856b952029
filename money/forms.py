"""The forms of the money pages: what a person types; the rules are the services'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from kpitree.forms import MonthField
from kpitree.models import Node


class _Nodes(forms.Form):
    def __init__(self, *args: Any, nodes: QuerySet[Node] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and nodes is not None:
                field.queryset = nodes


class MoneySettingsForm(_Nodes):
    gain_node = forms.ModelChoiceField(
        label=_("Gain KPI (JPY)"),
        queryset=Node.objects.none(),
        required=False,
        help_text=_("Sales increase or cost saved by the engagement, in yen."),
    )
    acquired_node = forms.ModelChoiceField(
        label=_("Acquired customers KPI"), queryset=Node.objects.none(), required=False
    )


class ChargeForm(forms.Form):
    period = MonthField(label=_("Month"))
    amount = forms.CharField(
        label=_("Amount (JPY)"), max_length=30, help_text=_("Negative for a discount (▲ allowed).")
    )
    description = forms.CharField(label=_("What for"), max_length=200)


class ReliefForm(_Nodes):
    period = MonthField(label=_("Month"))
    node = forms.ModelChoiceField(
        label=_("KPI"),
        queryset=Node.objects.none(),
        required=False,
        empty_label=_("Every rule"),
    )
    reason = forms.CharField(
        label=_("Reason (caused by the client)"), widget=forms.Textarea(attrs={"rows": 2})
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class DisputeForm(forms.Form):
    line = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    comment = forms.CharField(
        label=_("What is wrong with this line"), widget=forms.Textarea(attrs={"rows": 2})
    )


class ResolveForm(forms.Form):
    line = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    resolution = forms.CharField(
        label=_("Answer to the dispute"), widget=forms.Textarea(attrs={"rows": 2})
    )
