"""The template catalogue: KPI definitions and KPI trees per outsourcing type and phase.

A `KpiTemplate` is one catalogue KPI (name, definition, unit, direction, perspective,
output/outcome, benchmark). A `TreeTemplate` is a small KPI tree for one outsourcing type and
phase, made of `TemplateNode`s that point to catalogue KPIs and may carry a formula over their
children's local codes (受注数 = 架電数 × 接続率 × アポ取得率 × 商談化率 × 受注率).

The catalogue is data: the built-in entries (kpitree/catalogue_data.py, from DOMAIN.md) are
loaded by a data migration and by `manage.py load_catalogue`; managers add their own in the
admin. Applying a template (services.template_apply) copies it into a tree; each node it makes
keeps the catalogue KPI's code in `Node.template_code`, so that vendors can be compared.

The models live in this module to keep models.py about trees; kpitree/models.py imports them at
its end so Django registers them with the app whatever else is loaded.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from engagements.models import CodeField, OutsourcingType, Phase
from kpitree.models import Direction, Perspective, ResultType, RollupRule, TimeAggregation


def _localized(obj: models.Model, field: str) -> str:
    """The English text for an English reader when there is one, else the Japanese text."""
    english = (get_language() or "ja").startswith("en")
    value_en = getattr(obj, f"{field}_en")
    return value_en if english and value_en else getattr(obj, f"{field}_ja")


class KpiTemplate(models.Model):
    """One KPI of the catalogue, shared by the tree templates that use it."""

    code = CodeField(unique=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    definition_ja = models.TextField(_("definition (Japanese)"), blank=True)
    definition_en = models.TextField(_("definition (English)"), blank=True)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, default=Direction.UP
    )
    time_aggregation = models.CharField(
        _("time aggregation"),
        max_length=16,
        choices=TimeAggregation.choices,
        default=TimeAggregation.SUM,
        help_text=_("“Recompute the formula” applies only where the KPI is computed by a formula."),
    )
    perspective = models.CharField(
        _("perspective"), max_length=16, choices=Perspective.choices, blank=True
    )
    result_type = models.CharField(
        _("output or outcome"), max_length=8, choices=ResultType.choices, blank=True
    )
    importance = models.PositiveSmallIntegerField(
        _("importance"), default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    benchmark = models.FloatField(_("benchmark"), null=True, blank=True)
    benchmark_source = models.CharField(_("benchmark source"), max_length=300, blank=True)
    builtin = models.BooleanField(
        _("built in"),
        default=False,
        help_text=_("Loaded from the product's catalogue; `load_catalogue --update` resets it."),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("catalogue KPI")
        verbose_name_plural = _("catalogue KPIs")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        return _localized(self, "name")

    @property
    def definition(self) -> str:
        return _localized(self, "definition")


class TreeTemplate(models.Model):
    """A KPI tree to start from, for one outsourcing type and phase."""

    code = CodeField(unique=True)
    outsourcing_type = models.CharField(
        _("outsourcing type"), max_length=16, choices=OutsourcingType.choices
    )
    phase = models.CharField(_("phase"), max_length=16, choices=Phase.choices)
    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    builtin = models.BooleanField(_("built in"), default=False)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("KPI tree template")
        verbose_name_plural = _("KPI tree templates")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def name(self) -> str:
        return _localized(self, "name")

    @property
    def description(self) -> str:
        return _localized(self, "description")


class TemplateNode(models.Model):
    """One node of a tree template. `code` is local to the template: formulas name the codes
    of the node's children, and `parent_code` names the parent (empty for a root)."""

    template = models.ForeignKey(TreeTemplate, on_delete=models.CASCADE, related_name="nodes")
    code = CodeField()
    kpi = models.ForeignKey(
        KpiTemplate, verbose_name=_("catalogue KPI"), on_delete=models.PROTECT, related_name="+"
    )
    parent_code = models.CharField(
        _("parent code"),
        max_length=64,
        blank=True,
        help_text=_("Code of the parent node in this template; empty for a root."),
    )
    rollup = models.CharField(
        _("rollup"), max_length=16, choices=RollupRule.choices, default=RollupRule.INPUT
    )
    formula = models.CharField(
        _("formula"),
        max_length=2000,
        blank=True,
        help_text=_("Over the codes of this node's children, e.g. clicks * cvr / 100."),
    )
    weight = models.FloatField(_("weight"), default=1, validators=[MinValueValidator(0)])
    importance = models.PositiveSmallIntegerField(
        _("importance"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("Empty: the catalogue KPI's importance. Phases stress different KPIs."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["template_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "code"], name="template_node_code_unique")
        ]
        verbose_name = _("template node")
        verbose_name_plural = _("template nodes")

    def __str__(self) -> str:
        return f"{self.template_id}/{self.code}"

    def clean(self) -> None:
        super().clean()
        if self.parent_code and self.parent_code == self.code:
            raise ValidationError({"parent_code": _("A node cannot be its own parent.")})
        if self.formula.strip() and self.rollup != RollupRule.FORMULA:
            raise ValidationError(
                {"formula": _("Only a node whose rollup is “formula” has a formula.")}
            )


def template_problems(nodes: list[TemplateNode]) -> list[str]:
    """What keeps a template's nodes from making a valid tree (parents, cycles, formulas)."""
    from django.utils.translation import gettext

    from kpitree.formula import FormulaError, parse_formula

    problems: list[str] = []
    by_code = {n.code: n for n in nodes}
    children: dict[str, list[str]] = {}
    for n in nodes:
        if n.parent_code and n.parent_code not in by_code:
            problems.append(
                gettext("%(code)s: no node “%(parent)s” in this template.")
                % {"code": n.code, "parent": n.parent_code}
            )
        children.setdefault(n.parent_code, []).append(n.code)
    for n in nodes:  # a parent chain that never reaches a root is a cycle
        seen: set[str] = set()
        current: TemplateNode | None = n
        while current is not None and current.parent_code:
            if current.code in seen:
                problems.append(gettext("%(code)s: the parents make a cycle.") % {"code": n.code})
                break
            seen.add(current.code)
            current = by_code.get(current.parent_code)
    for n in nodes:
        if n.rollup == RollupRule.FORMULA and n.formula.strip():
            try:
                parse_formula(n.formula, children.get(n.code, []))
            except FormulaError as exc:
                problems.append(f"{n.code}: {exc.message}")
    return problems
