"""The forms of the sourcing pages: what a person types; the rules are sourcing.services'.

Fields keep the service's names, so that a refusal lands beside its field
(kpi_planner.errors.add_form_errors); a proposal's promises are the fields `promise_<n>`, one
per KPI of the round in its order (`ProposalForm.field_of` maps the service's
`promises.<code>` to them).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from engagements.models import OutsourcingType, Phase, User, Vendor
from kpi_planner.errors import Problem
from kpi_planner.numbers import input_text
from kpitree.catalogue import KpiTemplate
from kpitree.forms import MonthField
from sourcing.models import TenderKpi, VendorProposal


def _catalogue_choices() -> list[tuple[str, str]]:
    return [(k.code, f"{k.name} ({k.code})") for k in KpiTemplate.objects.order_by("code")]


class TenderForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    outsourcing_type = forms.ChoiceField(
        label=_("Outsourcing type"), choices=OutsourcingType.choices
    )
    start_month = MonthField(label=_("Start month"))
    end_month = MonthField(label=_("End month"))
    outcome_code = forms.ChoiceField(
        label=_("Outcome KPI"),
        help_text=_("The price is divided by the outcome each vendor promises (e.g. orders won)."),
    )
    kpis = forms.MultipleChoiceField(
        label=_("Other KPIs to compare"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _catalogue_choices()
        self.fields["outcome_code"].choices = choices  # type: ignore[attr-defined]
        self.fields["kpis"].choices = choices  # type: ignore[attr-defined]


class ProposalForm(forms.Form):
    """A proposal: its vendor (when new), monthly price, one promise per KPI, a note."""

    vendor = forms.ModelChoiceField(
        label=_("Vendor"),
        queryset=Vendor.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("— a new vendor —"),
    )
    new_vendor_name = forms.CharField(
        label=_("New vendor's name"),
        max_length=200,
        required=False,
        help_text=_("A vendor not yet registered; an existing vendor of this name is used."),
    )
    monthly_price = forms.CharField(
        label=_("Monthly price (JPY)"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        help_text=_("A whole number of yen; 1,200,000円 is read too."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self,
        *args: Any,
        kpis: list[TenderKpi],
        vendors: QuerySet[Vendor] | None,
        proposal: VendorProposal | None = None,
        **kwargs: Any,
    ) -> None:
        if proposal is not None and "initial" not in kwargs:
            values = {p.tender_kpi_id: p.value for p in proposal.promises.all()}
            kwargs["initial"] = {
                "monthly_price": str(proposal.monthly_price),
                "note": proposal.note,
                **{f"promise_{i}": input_text(values.get(k.pk)) for i, k in enumerate(kpis)},
            }
        super().__init__(*args, **kwargs)
        self.kpis = kpis
        if vendors is None:  # a proposal's vendor does not change
            del self.fields["vendor"], self.fields["new_vendor_name"]
        else:
            self.fields["vendor"].queryset = vendors  # type: ignore[attr-defined]
        for i, kpi in enumerate(kpis):
            label = _("Promised monthly %(kpi)s") % {"kpi": kpi.name}
            self.fields[f"promise_{i}"] = forms.CharField(
                label=f"{label} ({kpi.unit})" if kpi.unit else label,
                max_length=40,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            )
        self.order_fields(
            ["vendor", "new_vendor_name", "monthly_price"]
            + [f"promise_{i}" for i in range(len(kpis))]
            + ["note"]
        )

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {
            "monthly_price": data["monthly_price"],
            "note": data.get("note", ""),
            "promises": {
                k.template_code: data.get(f"promise_{i}") for i, k in enumerate(self.kpis)
            },
        }
        if "vendor" in self.fields:
            out["vendor"] = data.get("vendor")
            out["new_vendor_name"] = data.get("new_vendor_name", "")
        return out

    def field_of(self, problem: Problem) -> str | None:
        for i, kpi in enumerate(self.kpis):
            if problem.field == f"promises.{kpi.template_code}":
                return f"promise_{i}"
        if problem.field == "new_vendor_code":
            return "new_vendor_name"
        return problem.field


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it withdrawn?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ChooseForm(forms.Form):
    code = forms.CharField(
        label=_("Engagement code"),
        max_length=64,
        help_text=_("Also the code of its KPI tree: letters, digits, '-', '_' or '.'."),
    )
    name = forms.CharField(label=_("Engagement name"), max_length=200, required=False)
    phase = forms.ChoiceField(label=_("Phase"), choices=Phase.choices, initial=Phase.LAUNCH)
    manager = forms.ModelChoiceField(
        label=_("Manager in charge"),
        queryset=User.objects.none(),
        to_field_name="username",
        required=False,
    )

    def __init__(self, *args: Any, managers: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = managers  # type: ignore[attr-defined]
