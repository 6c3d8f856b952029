"""Forms of the KPI tree editor. They only parse what the browser sends (types, choices, months);
every rule of the data is checked once, in kpitree.services, and its errors are put back next to
the fields with `kpi_planner.errors.add_form_errors`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.forms.models import fields_for_model
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from engagements.models import Engagement, OutsourcingType
from kpi_planner.access import engagements_for, nodes_for
from kpi_planner.codes import code_validator
from kpi_planner.months import month_text, parse_month
from kpi_planner.numbers import clean_number, input_text
from kpitree import queries, services
from kpitree.catalogue import TreeTemplate
from kpitree.models import (
    MAX_PLAN_MONTHS,
    RESERVED_TREE_CODES,
    Kind,
    Node,
    Rationale,
    Tree,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

NODE_FIELDSETS: list[tuple[StrOrPromise, list[str]]] = [
    (_("Basics"), ["code", "name", "kind", "parent", "okr_objective", "definition"]),
    (_("Owner"), ["engagement", "owner"]),
    (
        _("Measurement"),
        ["unit", "direction", "time_aggregation", "rollup", "formula", "weight", "source"],
    ),
    (_("Classification"), ["perspective", "result_type", "importance", "review_cadence"]),
    (
        _("Benchmark and thresholds"),
        ["benchmark", "benchmark_source", "green_threshold", "amber_threshold"],
    ),
    (_("Catalogue and order"), ["template_code", "position"]),
]
NODE_FIELDS = [name for _legend, names in NODE_FIELDSETS for name in names]


class MonthField(forms.CharField):
    """A month written YYYY-MM (the browser's <input type="month">) → the date of its 1st."""

    widget = forms.TextInput(
        attrs={"type": "month", "placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}"}
    )

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        month = parse_month(value)
        if month is None:
            raise ValidationError(_("Write the month as YYYY-MM."), code="invalid")
        return month

    def prepare_value(self, value):
        return month_text(value) if hasattr(value, "year") else value


def _month_choices() -> list[tuple[int, str]]:
    return [(number, name) for number, name in MONTHS.items()]


class TreeForm(forms.Form):
    code = forms.CharField(label=_("code"), max_length=64, validators=[code_validator])
    name = forms.CharField(label=_("name"), max_length=200)
    description = forms.CharField(
        label=_("description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    start_month = MonthField(label=_("first month"))
    end_month = MonthField(label=_("last month"))
    fiscal_year_start = forms.TypedChoiceField(
        label=_("fiscal year starts in month"), coerce=int, choices=_month_choices, initial=4
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if code.lower() in RESERVED_TREE_CODES:
            raise ValidationError(
                _("“%(code)s” is reserved; choose another code.") % {"code": code}
            )
        return code


class TreeCopyForm(forms.Form):
    code = forms.CharField(label=_("code of the copy"), max_length=64, validators=[code_validator])
    name = forms.CharField(label=_("name of the copy"), max_length=200)
    shift_months = forms.IntegerField(
        label=_("move the months by"),
        min_value=-MAX_PLAN_MONTHS,
        max_value=MAX_PLAN_MONTHS,
        initial=12,
        help_text=_("12 = the same months of the next year."),
    )
    with_targets = forms.BooleanField(label=_("copy the targets too"), required=False, initial=True)

    def clean_code(self) -> str:
        return TreeForm.clean_code(self)  # type: ignore[arg-type]


class NodeForm(forms.Form):
    """Every field of a node. Parent and engagement are chosen by code, within what the user
    may see; a node's own subtree is not offered as its parent."""

    def __init__(self, *args, tree: Tree, node: Node, user, **kwargs) -> None:
        if node.pk and "initial" not in kwargs:
            kwargs["initial"] = node_initial(node)
        super().__init__(*args, **kwargs)
        self.tree, self.node, self.user = tree, node, user
        model_fields = fields_for_model(
            Node, fields=[f for f in NODE_FIELDS if f not in ("parent", "engagement")]
        )
        engagements = list(engagements_for(user).order_by("vendor__code", "code"))
        self._engagements = {e.code: e for e in engagements}
        for name in NODE_FIELDS:
            if name == "parent":
                self.fields[name] = forms.ChoiceField(
                    label=_("parent"),
                    required=False,
                    choices=[
                        ("", _("— none: top of the tree —")),
                        *queries.parent_choices(tree, user, exclude=node if node.pk else None),
                    ],
                )
            elif name == "engagement":
                self.fields[name] = forms.ChoiceField(
                    label=_("owning engagement"),
                    required=False,
                    choices=[("", _("— in-house (no vendor) —"))]
                    + [(e.code, f"{e.vendor.name} — {e.name}（{e.code}）") for e in engagements],
                )
            else:
                self.fields[name] = model_fields[name]
        self.fields["formula"].widget = forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "data-formula": "1",
                "placeholder": "visits * cvr / 100 * avg_price",
            }
        )
        for name in ("definition", "okr_objective"):
            self.fields[name].widget.attrs["rows"] = 2
        self.fields["code"].widget.attrs["autocomplete"] = "off"

    def clean_parent(self) -> Node | None:
        code = self.cleaned_data.get("parent") or ""
        if not code:
            return None
        parent = nodes_for(self.user).filter(tree=self.tree, code=code).first()
        if parent is None:
            raise ValidationError(_("No node “%(code)s” in this tree.") % {"code": code})
        return parent

    def clean_engagement(self) -> Engagement | None:
        code = self.cleaned_data.get("engagement") or ""
        return self._engagements.get(code) if code else None

    def fieldsets(self) -> list[tuple[StrOrPromise, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in NODE_FIELDSETS]


def node_initial(node: Node) -> dict:
    data = {
        name: getattr(node, name) for name in NODE_FIELDS if name not in ("parent", "engagement")
    }
    data["parent"] = node.parent.code if node.parent is not None else ""
    data["engagement"] = node.engagement.code if node.engagement is not None else ""
    return data


def new_node_initial(tree: Tree, parent: Node | None, kind: str) -> dict:
    if parent is None:
        return {"kind": kind if kind in Kind.values else Kind.KGI, "parent": ""}
    # A child inherits its parent's owner: most KPIs under a vendor's KPI belong to that vendor.
    return {
        "kind": Kind.KPI,
        "parent": parent.code,
        "engagement": parent.engagement.code if parent.engagement is not None else "",
        "owner": parent.owner,
    }


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    """The form's choice field `name` (declared so; `form.fields` is typed as plain fields)."""
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{name} is not a choice field")
    return field


class TemplateApplyForm(forms.Form):
    template = forms.ChoiceField(label=_("template"))
    parent = forms.ChoiceField(label=_("add under"), required=False)
    engagement = forms.ChoiceField(label=_("for the engagement"), required=False)
    # A field named like BaseForm.prefix: the form's metaclass moves it into base_fields, so the
    # attribute stays the form's prefix (None); the stubs cannot see that.
    prefix = forms.CharField(  # type: ignore[assignment]
        label=_("code prefix"),
        required=False,
        max_length=32,
        validators=[
            RegexValidator(r"^[A-Za-z0-9._-]*$", _("Use letters, digits, '-', '_' or '.'."))
        ],
        help_text=_(
            "Put before every new code, e.g. call_; codes already in the tree get a suffix."
        ),
    )

    def __init__(self, *args, tree: Tree, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tree, self.user = tree, user
        self.templates = {t.code: t for t in TreeTemplate.objects.all()}
        type_label = dict(OutsourcingType.choices)
        template_field = _choice_field(self, "template")
        template_field.choices = [(t.code, t.name) for t in self.templates.values()]
        self.template_options = [
            {
                "code": t.code,
                "label": label,
                "type": t.outsourcing_type,
                "type_label": type_label.get(t.outsourcing_type, t.outsourcing_type),
                "phase": t.phase,
            }
            for t, (_code, label) in zip(
                self.templates.values(), template_field.choices, strict=True
            )
        ]
        _choice_field(self, "parent").choices = [
            ("", _("— top of the tree —")),
            *queries.parent_choices(tree, user),
        ]
        self.engagements = {
            e.code: e for e in engagements_for(user).order_by("vendor__code", "code")
        }
        engagement_field = _choice_field(self, "engagement")
        engagement_field.choices = [("", _("— in-house (no vendor) —"))] + [
            (e.code, f"{e.vendor.name} — {e.name}（{e.code}）") for e in self.engagements.values()
        ]
        kinds = {e.code: (e.outsourcing_type, e.phase) for e in self.engagements.values()}
        self.engagement_options = [
            {
                "code": code,
                "label": label,
                "type": kinds.get(code, ("", ""))[0],
                "phase": kinds.get(code, ("", ""))[1],
            }
            for code, label in engagement_field.choices
        ]

    def cleaned(self) -> dict:
        data = self.cleaned_data
        parent = (
            nodes_for(self.user).filter(tree=self.tree, code=data["parent"]).first()
            if data.get("parent")
            else None
        )
        return {
            "template": self.templates[data["template"]],
            "parent": parent,
            "engagement": self.engagements.get(data.get("engagement") or ""),
            "prefix": data.get("prefix") or "",
        }


class TargetsForm(forms.Form):
    """Twelve months of targets with their rationale. An empty month is left unchanged."""

    def __init__(self, *args, months: list[queries.TargetMonth], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.months = months
        for m in months:
            self.fields[f"value_{m.key}"] = forms.CharField(
                label=m.key,
                required=False,
                max_length=40,
                initial=input_text(m.target),
                widget=forms.TextInput(
                    attrs={
                        "class": "kt-target-input",
                        "inputmode": "decimal",
                        "autocomplete": "off",
                    }
                ),
            )
            self.fields[f"rationale_{m.key}"] = forms.ChoiceField(
                label=_("rationale"),
                required=False,
                choices=[("", "—"), *Rationale.choices],
                initial=m.rationale,
            )
        self.fields["reason"] = forms.CharField(
            label=_("Reason for the change"),
            help_text=_("Required to change a target of an approved month; kept in the history."),
            required=False,
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns
        for m in self.months:
            name = f"value_{m.key}"
            text = clean_number(data.get(name) or "")
            if not text:
                data[name] = None
                continue
            number = services.parse_number(text)
            if number is None:
                self.add_error(name, _("Enter a number."))
            else:
                data[name] = number
        return data

    def rows(self, node: Node) -> list[dict]:
        return [
            {
                "node": node.code,
                "period": m.key,
                "value": self.cleaned_data[f"value_{m.key}"],
                "rationale": self.cleaned_data.get(f"rationale_{m.key}") or "",
                "reason": self.cleaned_data.get("reason") or "",
            }
            for m in self.months
            if self.cleaned_data.get(f"value_{m.key}") is not None
        ]

    def field_of_row(self, index: int, field: str | None) -> str | None:
        rows = [m for m in self.months if self.cleaned_data.get(f"value_{m.key}") is not None]
        if field == "reason":
            return "reason"
        if 0 <= index < len(rows):
            return f"{'rationale' if field == 'rationale' else 'value'}_{rows[index].key}"
        return None

    def grid(self) -> list[dict]:
        return [
            {"month": m, "value": self[f"value_{m.key}"], "rationale": self[f"rationale_{m.key}"]}
            for m in self.months
        ]


def service_data(form: NodeForm) -> Mapping:
    return {name: form.cleaned_data[name] for name in NODE_FIELDS}
