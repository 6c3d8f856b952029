import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from engagements.models import OutsourcingType, Phase
from kpitree import catalogue_data
from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate, template_problems
from kpitree.models import Grain, Node, Rollup
from kpitree.services import actuals_record, rename_in_formula, template_apply
from tests.kpitree.conftest import row


@pytest.fixture
def catalogue(db) -> None:
    # The data migration loads it; transactional tests elsewhere may have flushed the tables.
    catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode)


def apply(user, tree, code: str, **kwargs) -> list[Node]:
    return template_apply(
        user=user, tree=tree, template=TreeTemplate.objects.get(code=code), **kwargs
    )


def test_it_has_a_template_for_every_outsourcing_type_and_phase(catalogue):
    pairs = set(TreeTemplate.objects.values_list("outsourcing_type", "phase"))
    types = set(OutsourcingType.values) - {"other"}
    assert pairs == {(t, p) for t in types for p in Phase.values}


def test_every_built_in_template_makes_a_valid_tree(catalogue):
    for template in TreeTemplate.objects.all():
        assert template_problems(list(template.nodes.all())) == [], template.code


def test_it_keeps_the_benchmarks_of_the_domain(catalogue):
    benchmarks = dict(KpiTemplate.objects.values_list("code", "benchmark"))
    assert benchmarks["creative.ontime_rate"] == 95
    assert benchmarks["article.ontime_rate"] == 95
    assert benchmarks["ads.ctr"] == 1.5
    assert benchmarks["ads.cpa_improvement"] == 20
    assert benchmarks["support.first_response"] == 24
    assert benchmarks["support.csat"] == 80
    assert benchmarks["article.top10_growth"] == 5


def test_it_gives_the_outbound_funnel_as_a_formula(catalogue):
    orders = TemplateNode.objects.get(template__code="call.improvement", code="orders")
    assert orders.formula == (
        "calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100"
    )
    assert orders.kpi.name_ja == "受注数"


def test_applying_the_call_improvement_template_adds_the_funnel(
    catalogue, manager, tree, revenue, engagement_a
):
    nodes = apply(
        manager,
        tree,
        "call.improvement",
        parent=revenue["sales"],
        engagement=engagement_a,
        prefix="c_",
    )
    by_code = {n.code: n for n in nodes}
    assert sorted(by_code) == [
        "c_appt_rate", "c_calls", "c_connect_rate", "c_list_accuracy", "c_meeting_rate",
        "c_orders", "c_script_reviews", "c_win_rate",
    ]  # fmt: skip
    orders = Node.objects.get(tree=tree, code="c_orders")
    assert (orders.parent, orders.engagement, orders.template_code) == (
        revenue["sales"],
        engagement_a,
        "call.orders",
    )
    assert orders.formula == (
        "c_calls * c_connect_rate / 100 * c_appt_rate / 100 * c_meeting_rate / 100"
        " * c_win_rate / 100"
    )
    assert Node.objects.get(tree=tree, code="c_calls").parent == orders
    appt = Node.objects.get(tree=tree, code="c_appt_rate")
    assert (appt.unit, appt.time_aggregation, appt.importance) == ("%", "avg", 5)


def test_the_applied_funnel_computes_the_worked_example(
    catalogue, manager, tree, engagement_a, django_capture_on_commit_callbacks
):
    apply(manager, tree, "call.improvement", parent=None, engagement=engagement_a)
    values = {
        "calls": 3000,
        "connect_rate": 60,
        "appt_rate": 10,
        "meeting_rate": 50,
        "win_rate": 30,
    }
    with django_capture_on_commit_callbacks(execute=True):
        actuals_record(
            user=manager, rows=[row(c, "2026-04", v) for c, v in values.items()], channel="web"
        )
    orders = Rollup.objects.get(node__code="orders", grain=Grain.MONTH, period="2026-04-01")
    assert orders.actual == pytest.approx(27)


def test_it_makes_codes_unique_with_a_suffix(catalogue, manager, tree):
    apply(manager, tree, "ads.launch", parent=None)
    second = {n.code for n in apply(manager, tree, "ads.launch", parent=None)}
    assert second == {"cv_2", "clicks_2", "impressions_2", "ctr_2", "cvr_2"}
    assert Node.objects.get(tree=tree, code="cv_2").formula == "clicks_2 * cvr_2 / 100"


def test_it_takes_the_names_in_the_managers_language(catalogue, manager, tree):
    with translation.override("en"):
        apply(manager, tree, "support.launch", parent=None)
    assert Node.objects.get(tree=tree, code="first_response").name == "First response time"


def test_it_adds_nothing_when_a_code_would_be_invalid(catalogue, manager, tree):
    with pytest.raises(ValidationError) as exc:
        apply(manager, tree, "call.launch", parent=None, prefix="x" * 60)
    assert "code" in exc.value.message_dict
    assert Node.objects.filter(tree=tree).count() == 0


def test_it_lets_only_managers_apply_a_template(catalogue, supervisor, tree):
    with pytest.raises(ValidationError):
        apply(supervisor, tree, "call.launch", parent=None)
    assert Node.objects.filter(tree=tree).count() == 0


def test_it_rewrites_bracketed_codes_and_leaves_functions_and_numbers(db):
    text = "[a-b] * c + max(c, 1e5) - round(c2)"
    renames = {"a-b": "x.a-b", "c": "x_c", "round": "nope"}
    assert rename_in_formula(text, renames) == "[x.a-b] * x_c + max(x_c, 1e5) - round(c2)"


def test_loading_again_keeps_a_managers_change_unless_asked(catalogue):
    KpiTemplate.objects.filter(code="ads.ctr").update(benchmark=2.0)
    call_command("load_catalogue", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert KpiTemplate.objects.get(code="ads.ctr").benchmark == 2.0
    call_command("load_catalogue", "--update", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert KpiTemplate.objects.get(code="ads.ctr").benchmark == 1.5


def test_a_template_a_manager_added_can_be_applied(catalogue, manager, tree):
    custom = TreeTemplate.objects.create(
        code="my.lp", outsourcing_type="creative", phase="launch", name_ja="LP制作"
    )
    kpi = KpiTemplate.objects.create(code="my.lp_cvr", name_ja="LPのCVR", unit="%")
    TemplateNode.objects.create(template=custom, code="lp_cvr", kpi=kpi)
    nodes = apply(manager, tree, "my.lp", parent=None)
    assert [(n.code, n.name, n.template_code) for n in nodes] == [
        ("lp_cvr", "LPのCVR", "my.lp_cvr")
    ]


def test_it_names_what_is_wrong_with_a_template(catalogue):
    kpi = KpiTemplate.objects.get(code="call.calls")
    nodes = [
        TemplateNode(code="a", kpi=kpi, parent_code="missing"),
        TemplateNode(code="b", kpi=kpi, rollup="formula", formula="a + 1"),
    ]
    with translation.override("en"):
        assert template_problems(nodes) == [
            "a: no node “missing” in this template.",
            "b: 'a' is not the code of a child node; this node has no children.",
        ]


def test_the_catalogue_page_lists_the_templates_of_a_type(catalogue, manager):
    client = Client()
    client.force_login(manager)
    response = client.get("/trees/templates/?type=outbound_call")
    assert [t.code for t, _rows in response.context["templates"]] == [
        "call.launch",
        "call.improvement",
        "call.expansion",
    ]
    assert "受注数" in response.content.decode()


def test_under_a_sum_a_template_root_of_another_unit_becomes_its_own_root(catalogue, manager, tree):
    kgi = Node.objects.create(
        tree=tree, code="new_customers", name="新規顧客数", kind="kgi", rollup="sum", unit="件"
    )
    apply(manager, tree, "call.improvement", parent=kgi)
    placed = dict(
        Node.objects.filter(code__in=["orders", "list_accuracy", "script_reviews"]).values_list(
            "code", "parent__code"
        )
    )
    # 受注数 (件) is added up into 新規顧客数; リスト精度 (%) and スクリプト見直し (回) are not.
    assert placed == {"orders": "new_customers", "list_accuracy": None, "script_reviews": None}
