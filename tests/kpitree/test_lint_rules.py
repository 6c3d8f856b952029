"""Design lint (issue 13) beyond the one-fixture-per-rule cases of test_lint.py: every catalogue
template makes a tree without errors, each rule says which field fixes it, findings of one rule
about the same subject are told apart, and the thresholds follow the settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from django.utils import timezone

from kpitree import catalogue_data
from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate
from kpitree.forms import NodeForm
from kpitree.lint import RULES, lint_tree
from kpitree.models import Node
from kpitree.queries import tree_findings
from kpitree.services import template_apply
from tests.factories import NodeFactory, TreeFactory
from tests.kpitree.test_lint import TODAY, balanced, changed, targets_for


@pytest.fixture
def catalogue(db) -> None:
    catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode)


def test_every_catalogue_template_applied_to_a_tree_gives_no_error(
    catalogue, manager, engagement_a
) -> None:
    templates = list(TreeTemplate.objects.order_by("code"))
    assert len(templates) == 18
    for i, template in enumerate(templates):
        tree = TreeFactory(code=f"T{i}", name=template.code)
        # As in the editor: the template's KPIs go under the tree's KGI, owned by an engagement.
        kgi = NodeFactory(tree=tree, code="kgi", name="新規顧客数", kgi=True, owner="営業部")
        template_apply(
            user=manager, tree=tree, template=template, parent=kgi, engagement=engagement_a
        )
        errors = [(f.rule, f.node) for f in tree_findings(manager, tree) if f.severity == "error"]
        assert errors == [], template.code


def test_every_rule_says_what_to_do_and_names_a_field_of_the_node_form(db, manager, tree) -> None:
    form_fields = set(NodeForm(tree=tree, node=Node(tree=tree), user=manager).fields)
    for r in RULES.values():
        assert str(r.advice).strip(), r.id
        assert r.field in form_fields | {"targets"}, r.id


def test_each_missing_perspective_is_its_own_finding() -> None:
    nodes = changed("csat", perspective="process")
    nodes = [replace(n, perspective="process") if n.code == "proposals" else n for n in nodes]
    found = [f for f in lint_tree(nodes, targets_for(nodes), [], today=TODAY)]
    assert [(f.rule, f.node, f.subject, f.field) for f in found] == [
        ("perspective-missing", None, "customer", "perspective"),
        ("perspective-missing", None, "learning", "perspective"),
    ]


def test_too_many_kpis_of_an_engagement_names_it_and_no_field(settings) -> None:
    settings.LINT_TOO_MANY_KPIS = 5
    nodes = balanced()
    found = lint_tree(nodes, targets_for(nodes), [], today=TODAY)
    assert [(f.node, f.subject, f.field) for f in found] == [
        (None, "CALL", ""),
        ("kgi", "", "parent"),
    ]


def test_the_target_band_and_review_days_are_settings(settings) -> None:
    nodes = changed("csat", benchmark=80)  # targets 100: 25 % above
    assert lint_tree(nodes, targets_for(nodes), [], today=TODAY) == []
    settings.LINT_TARGET_FAR_RATIO = 0.2
    found = lint_tree(nodes, targets_for(nodes), [], today=TODAY)
    assert [(f.rule, f.node) for f in found] == [("target-vs-benchmark", "csat")]

    settings.LINT_TARGET_FAR_RATIO = 0.3
    nodes = changed("calls", review_cadence="monthly", reviewed_at=dt.date(2026, 10, 11))
    found = lint_tree(nodes, targets_for(nodes), [], today=TODAY)  # 41 days > 31
    assert [(f.rule, f.node) for f in found] == [("review-overdue", "calls")]
    settings.LINT_REVIEW_DAYS = {"monthly": 45, "quarterly": 92, "yearly": 366}
    assert lint_tree(nodes, targets_for(nodes), [], today=TODAY) == []


def test_a_never_reviewed_kpi_counts_from_its_creation(db, manager, tree, revenue) -> None:
    node = revenue["visits"]
    Node.objects.filter(pk=node.pk).update(review_cadence="monthly", reviewed_on=None)
    created = timezone.localdate(Node.objects.get(pk=node.pk).created_at)
    overdue = [
        f.node
        for f in tree_findings(manager, tree, today=created + dt.timedelta(days=32))
        if f.rule == "review-overdue"
    ]
    assert overdue == ["visits"]
    assert not [
        f
        for f in tree_findings(manager, tree, today=created + dt.timedelta(days=31))
        if f.rule == "review-overdue" and f.node == "visits"
    ]
