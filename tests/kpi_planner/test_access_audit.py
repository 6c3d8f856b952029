"""Every HTML page, export and form of the app, for every role, on the demo data.

The access rule (README "Roles, screens and access"): objects outside a user's scope answer 404,
a visible action the role may not take answers 403, and no input a user can type answers 500.
The URL patterns are read from the resolver, so a page added later is covered without a change
here: its URL keywords are filled with the codes of real objects of the *other* vendor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import plotly
import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from engagements.models import (
    Engagement,
    ImprovementProposal,
    Notification,
    Role,
    Submission,
    SubmissionEvent,
    User,
    Vendor,
)
from kpi_planner import demo as demo_scenario
from kpitree import services as tree_services
from kpitree.models import Actual, Node, Target, Tree
from money import services as money_services
from money.models import Charge, Relief, RuleSet, Statement, StatementEvent
from pdca.models import Action, ActionEvent, DecisionKind, Review, ReviewDecision
from pdca.services import actions as action_services
from pdca.services import reviews as review_services
from portal import services as engagement_services
from scorecard import commitment_services
from scorecard.models import Commitment, CommitmentCheck, CommitmentCheckEvent
from sourcing import services as sourcing_services
from sourcing.models import Tender, VendorProposal
from tests.factories import UserFactory

APPS = ("kpitree", "portal", "scorecard", "engagements", "pdca", "money", "sourcing")
ROLES = ("manager", "supervisor", "vendor", "vendor_ads", "viewer", "viewer_ads")
VENDOR_OF = {"vendor": "callnavi", "vendor_ads": "adbridge", "viewer_ads": "adbridge"}
OTHER = {"callnavi": "adbridge", "adbridge": "callnavi"}
ALLOWED = {200, 302, 403, 404, 405}
HIDDEN = {404, 405}  # 405: a POST-only URL refuses a GET before it looks anything up


@dataclass(frozen=True)
class Objects:
    """Real objects of one vendor, by the URL keywords that name them."""

    engagement: str
    tree: str  # a tree in which only this vendor owns nodes
    node: tuple[str, str]  # (tree, node) owned by this vendor
    funnel: tuple[str, str]  # a formula node of this vendor that is a funnel
    proposal: int
    notification: int
    action: int
    review: int
    decision: int
    statement: int
    rule_set: int
    charge: int
    relief: int
    tender: int  # sourcing is the managers' and supervisors': the same round for both vendors
    bid: int  # a vendor's proposal in it
    commitment: int


def _seed() -> dict[str, Objects]:
    demo_scenario.seed()
    manager = User.objects.get(username="manager")
    # FY2026-REV belongs to adbridge alone; callnavi gets a plan of its own.
    plan = tree_services.tree_create(
        user=manager,
        data={
            "code": "CALL-PLAN",
            "name": "架電計画",
            "start_month": dt.date(2026, 4, 1),
            "end_month": dt.date(2027, 3, 1),
        },
    )
    tree_services.node_save(
        user=manager,
        node=Node(tree=plan),
        data={
            "code": "dials",
            "name": "架電数",
            "kind": "kgi",
            "engagement": Engagement.objects.get(code="CALL-2026"),
        },
    )
    # The demo's only funnel is callnavi's; adbridge gets one too.
    ads_plan = tree_services.tree_create(
        user=manager,
        data={
            "code": "ADS-PLAN",
            "name": "広告ファネル",
            "start_month": dt.date(2026, 4, 1),
            "end_month": dt.date(2027, 3, 1),
        },
    )
    ads_engagement = Engagement.objects.get(code="ADS-2026")
    leads = tree_services.node_save(
        user=manager,
        node=Node(tree=ads_plan),
        data={"code": "leads", "name": "リード", "kind": "kgi", "engagement": ads_engagement},
    )
    for code in ("imps", "ctr", "lead_cvr"):
        tree_services.node_save(
            user=manager,
            node=Node(tree=ads_plan),
            data={"code": code, "name": code, "parent": leads, "engagement": ads_engagement},
        )
    tree_services.node_save(
        user=manager,
        node=leads,
        data={"rollup": "formula", "formula": "imps * ctr / 100 * lead_cvr / 100"},
    )
    ads = User.objects.get(username="vendor_ads")
    adbridge = Vendor.objects.get(code="adbridge")
    UserFactory(username="viewer_ads", role=Role.VIEWER, vendor=adbridge, raw_password="pw")
    # Money: the demo gives CALL-2026 rules and statements; ADS-2026 gets rules on 広告CV数.
    ads_cv = Node.objects.get(engagement=ads_engagement, template_code="ads.cv")
    money_services.rule_set_adopt(
        user=manager,
        rule_set=money_services.rule_set_save(
            user=manager,
            engagement=ads_engagement,
            data={
                "name": "SLA",
                "effective_from": "2026-04",
                "rules": [{"node": ads_cv.pk, "bands": [{"upper": "90", "pct_of_fee": "-5"}]}],
            },
        ),
    )
    tender = sourcing_services.tender_create(
        user=manager,
        data={
            "name": "架電の相見積もり",
            "outsourcing_type": "outbound_call",
            "start_month": "2027-04",
            "end_month": "2028-03",
            "outcome_code": "call.orders",
            "kpis": ["call.orders", "call.appt_rate"],
        },
    )
    bid = sourcing_services.proposal_save(
        user=manager,
        tender=tender,
        data={
            "new_vendor_name": "株式会社テレコム",
            "monthly_price": 1_000_000,
            "promises": {"call.orders": 30, "call.appt_rate": 10},
        },
    )
    out = {}
    for vendor, user, code, (tree, node) in (
        ("callnavi", User.objects.get(username="vendor"), "CALL-2026", ("FY2026-ACQ", "calls")),
        ("adbridge", ads, "ADS-2026", ("FY2026-REV", "visits")),
    ):
        engagement = Engagement.objects.get(code=code)
        proposal = engagement_services.proposal_submit(
            user=user, engagement=engagement, title="改善案", description="架電リストの見直し"
        )
        note = Notification.objects.filter(recipient=user).first()
        assert note is not None, f"the demo gives {user.username} no notice"
        kpi = Node.objects.get(tree__code=tree, code=node)
        action = action_services.action_open(
            user=manager,
            engagement=engagement,
            source=Action.Source.MANUAL,
            title="架電リストを入れ替える",
            due_on=dt.date(2026, 11, 30),
            owner=user,
        )
        review = review_services.review_create(
            user=manager, engagement=engagement, kind="monthly", held_on=dt.date(2026, 11, 5)
        )
        # "keep": applying it (the manager's POST below) changes nothing else the sweep reads.
        decision = review_services.decision_add(
            user=manager, review=review, kind=DecisionKind.KEEP, node=kpi
        )
        charge = money_services.charge_add(
            user=manager, engagement=engagement, period="2026-11", amount=10_000, description="x"
        )
        relief = money_services.relief_add(
            user=manager, engagement=engagement, period="2026-11", reason="先方都合"
        )
        commitment = commitment_services.commitment_add(
            user=manager, engagement=engagement, text="納期を守る（監査）", perspective="process"
        )
        statement = Statement.objects.filter(engagement=engagement).order_by("period").last()
        assert statement is not None, f"{code} has no statement"
        out[vendor] = Objects(
            engagement=code,
            tree="CALL-PLAN" if vendor == "callnavi" else "FY2026-REV",
            node=(tree, node),
            funnel=("FY2026-ACQ", "orders") if vendor == "callnavi" else ("ADS-PLAN", "leads"),
            proposal=proposal.pk,
            notification=note.pk,
            action=action.pk,
            review=review.pk,
            decision=decision.pk,
            statement=statement.pk,
            rule_set=statement.rule_set_id,
            charge=charge.pk,
            relief=relief.pk,
            tender=tender.pk,
            bid=bid.pk,
            commitment=commitment.pk,
        )
    return out


@pytest.fixture(scope="module")
def _seeded(django_db_setup, django_db_blocker) -> Iterator[dict[str, Objects]]:
    # The tests only read the demo (a write they try is refused, or rolled back with the test):
    # seed it once for the module inside a transaction that is rolled back at its end.
    with django_db_blocker.unblock(), transaction.atomic():
        yield _seed()
        transaction.set_rollback(True)


@pytest.fixture
def demo(_seeded, db) -> dict[str, Objects]:
    return _seeded


def _patterns() -> list[tuple[str, URLPattern]]:
    out = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in APPS:
            out += [(entry.namespace, p) for p in entry.url_patterns]
    return out


PATTERNS = _patterns()


def _url(namespace: str, pattern: URLPattern, objs: Objects) -> str:
    """The pattern's URL filled with `objs`' codes."""
    names = set(pattern.pattern.converters)
    kwargs: dict[str, object] = {}
    node_page = {"node_code", "node"} & names
    is_funnel = pattern.name == "funnel"
    tree_code, node_code = objs.funnel if is_funnel else objs.node
    for name in names:
        if name == "code":
            if namespace == "kpitree":
                kwargs[name] = tree_code if node_page else objs.tree
            elif namespace == "scorecard" and "trees/" in str(pattern.pattern):
                kwargs[name] = objs.tree
            else:
                kwargs[name] = objs.engagement
        elif name == "tree":
            kwargs[name] = tree_code
        elif name in ("node", "node_code"):
            kwargs[name] = node_code
        elif name == "period":
            kwargs[name] = "2026-10"
        elif name == "pk":
            kwargs[name] = objs.tender if namespace == "sourcing" else _pk(pattern.name or "", objs)
        elif name == "proposal" and namespace == "sourcing":
            kwargs[name] = objs.bid
        elif name == "step":
            kwargs[name] = "apply"
        elif name == "fmt":
            kwargs[name] = "csv" if pattern.name == "template" else "xlsx"
        elif name == "version":
            kwargs[name] = plotly.__version__
        elif name == "ack_id":  # behind the tree: a hidden tree answers 404 first
            kwargs[name] = 1
        else:  # a new keyword: teach this test about it
            raise AssertionError(f"no value for <{name}> in {namespace}:{pattern.name}")
    return reverse(f"{namespace}:{pattern.name}", kwargs=kwargs)


def _pk(name: str, objs: Objects) -> int:
    if name == "backtest":
        return objs.rule_set
    for word in ("notification", "action", "review", "decision", "statement", "rule_set"):
        if name.startswith("commitment"):
            return objs.commitment
        if name.startswith(word) or f"_{word}" in name:
            return getattr(objs, word)
    for word in ("charge", "relief"):
        if name.startswith(word):
            return getattr(objs, word)
    return objs.proposal


def _names_an_object(pattern: URLPattern) -> bool:
    return bool(set(pattern.pattern.converters) - {"fmt", "version", "period"})


def _client(username: str) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(username=username))
    return client


def _targets(role: str) -> list[str]:
    """Whose objects a role is sent to: a vendor-bound user the other vendor's; the rest both."""
    return [OTHER[VENDOR_OF[role]]] if role in VENDOR_OF else ["callnavi", "adbridge"]


def _wrong(role: str, pattern: URLPattern, status: int) -> bool:
    """A 500 (or any unexpected answer), or a vendor-bound user shown another vendor's object."""
    if status not in ALLOWED:
        return True
    return role in VENDOR_OF and _names_an_object(pattern) and status not in HIDDEN


READ_ONLY = ("supervisor", "viewer", "viewer_ads")


def own_inbox(pattern: URLPattern) -> bool:
    """Marking one's own notices read, and choosing how one's alerts are e-mailed, are the
    changes every role makes (to their own account only); a what-if or a goal-seek is a POST
    that computes and saves nothing, open to every reader of the tree."""
    return pattern.name in (
        "notifications_read",
        "notification_open",
        "notification_settings",
        "whatif",
        "goal_seek",
    )


def _counts() -> dict[str, int]:
    models = (
        *(Actual, Target, Node, Tree, Submission, SubmissionEvent, ImprovementProposal),
        *(Action, ActionEvent, Review, ReviewDecision),
        *(Charge, Relief, RuleSet, Statement, StatementEvent, Tender, VendorProposal),
        *(Commitment, CommitmentCheck, CommitmentCheckEvent),
    )
    return {m.__name__: m.objects.count() for m in models}


@pytest.mark.parametrize("role", ROLES)
def test_it_never_answers_500_and_hides_the_other_vendor_on_get(demo, role: str) -> None:
    client = _client(role)
    problems = []
    for target in _targets(role):
        for namespace, pattern in PATTERNS:
            url = _url(namespace, pattern, demo[target])
            status = client.get(url).status_code
            if _wrong(role, pattern, status):
                problems.append((url, status))
    assert problems == []


@pytest.mark.parametrize("role", ROLES)
def test_it_refuses_posts_outside_the_role_and_writes_nothing(demo, role: str) -> None:
    """An empty or nonsense POST to every URL: never a 500; another vendor's objects answer
    404; a read-only role gets 403 (or 404/405), and nothing is written."""
    client = _client(role)
    before = _counts()
    problems = []
    body = {"parent": "nope", "action": "approve", "reason": "x", "decision": "accept"}
    for target in _targets(role):
        for namespace, pattern in PATTERNS:
            url = _url(namespace, pattern, demo[target])
            status = client.post(url, body).status_code
            writes = role in READ_ONLY and not own_inbox(pattern) and status not in {403, 404, 405}
            if writes or _wrong(role, pattern, status):
                problems.append((url, status))
    assert problems == []
    if role != "manager":
        assert _counts() == before


# -- bad query strings ------------------------------------------------------------------------------

BAD_VALUES = [
    "2026-13",
    "2026-00",
    "0000-01",
    "9999-12",
    "2026-1",
    "x",
    "abc",
    "-1",
    "0",
    "²",
    "٣",
    "1" * 30,
    "",
    " ",
    "<script>",
    "--overall",
    "-",
    "nan",
    "inf",
    "2026-13-01",
    "２０２６-０４",
    "\x00",  # PostgreSQL refuses a NUL in a query parameter: it must never reach one
    "a\x00b",
]
PARAMS = [
    "period",
    "grain",
    "page",
    "sort",
    "type",
    "phase",
    "vendor",
    "status",
    "measure",
    "kpi",
    "view",
    "poll",
    "to",
    "node",
    "from",
    "template",
    "parent",
    "kind",
    "formula",
]


def _pages(objs: Objects) -> list[str]:
    tree, node = objs.node
    return [
        "/trees/",
        "/trees/templates/",
        f"/trees/{tree}/",
        f"/trees/{tree}/fragment/",
        f"/trees/{tree}/new-node/",
        f"/trees/{tree}/formula-check/",
        f"/trees/{tree}/apply-template/",
        f"/trees/{tree}/nodes/{node}/targets/",
        "/portal/",
        "/portal/submissions/",
        "/portal/notifications/",
        f"/portal/engagements/{objs.engagement}/",
        f"/portal/engagements/{objs.engagement}/history/",
        f"/portal/engagements/{objs.engagement}/proposals/",
        f"/portal/engagements/{objs.engagement}/2026-10/",
        f"/portal/engagements/{objs.engagement}/2026-10/template.xlsx",
        f"/portal/engagements/{objs.engagement}/2026-10/scorecard/",
        "/scorecards/",
        "/scorecards/comparison/",
        f"/scorecards/engagements/{objs.engagement}/",
        f"/scorecards/engagements/{objs.engagement}/matrix/",
        f"/scorecards/engagements/{objs.engagement}/report.xlsx",
        f"/scorecards/engagements/{objs.engagement}/report.pdf",
        f"/scorecards/trees/{tree}/",
        f"/scorecards/trees/{tree}/kpis/{node}/",
        f"/scorecards/trees/{objs.funnel[0]}/funnels/{objs.funnel[1]}/",
        "/engagements/",
        "/engagements/vendors/",
        f"/engagements/{objs.engagement}/",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("username", ["manager", "vendor"])
def test_it_never_answers_500_to_a_bad_query_string(demo, username: str) -> None:
    client = _client(username)
    problems = []
    for url in _pages(demo["callnavi"]):
        for value in BAD_VALUES:
            status = client.get(url, dict.fromkeys(PARAMS, value)).status_code
            if status not in ALLOWED:
                problems.append((url, value, status))
        for value in ("x", "kpis", "engagements", "status", "values", "audit", ""):
            status = client.get(url, {"csv": value}).status_code
            if status not in ALLOWED:
                problems.append((url, f"csv={value}", status))
    assert problems == []


def test_it_answers_404_to_unknown_codes_in_urls(demo) -> None:
    client = _client("manager")
    problems = []
    for namespace, pattern in PATTERNS:
        if not _names_an_object(pattern):
            continue
        url = _url(namespace, pattern, demo["callnavi"])
        for unknown in ("nope", "%00", "a%00b"):
            wrong = url
            for code in ("CALL-2026", "FY2026-ACQ", "CALL-PLAN", "calls", "orders"):
                wrong = wrong.replace(f"/{code}/", f"/{unknown}/").replace(
                    f"/{code}.", f"/{unknown}."
                )
            objs = demo["callnavi"]
            pks = (objs.proposal, objs.notification, objs.action, objs.review, objs.decision)
            pks += (objs.statement, objs.rule_set, objs.charge, objs.relief, objs.tender, objs.bid)
            pks += (objs.commitment,)
            for pk in pks:
                wrong = wrong.replace(f"/{pk}/", "/99999999999999999999999/")
            for status in (client.get(wrong).status_code, client.post(wrong).status_code):
                if status not in HIDDEN:
                    problems.append((wrong, status))
    assert problems == []


@pytest.mark.parametrize("role", ["vendor", "vendor_ads", "viewer_ads"])
def test_it_shows_a_vendor_bound_user_its_own_pages(demo, role: str) -> None:
    """The other half of the 404s above: with its own vendor's codes the same URLs answer."""
    client = _client(role)
    problems = []
    for namespace, pattern in PATTERNS:
        if not _names_an_object(pattern) or namespace == "sourcing":  # no vendor's pages
            continue
        url = _url(namespace, pattern, demo[VENDOR_OF[role]])
        status = client.get(url).status_code
        if status not in {200, 403, 405}:
            problems.append((url, status))
    assert problems == []


# -- what the audit fixed, one by one ---------------------------------------------------------------


def test_it_looks_up_no_code_holding_a_nul_byte(demo, django_assert_num_queries) -> None:
    from django.http import Http404

    from kpi_planner.access import engagements_for, first_visible, get_visible_or_404

    manager = User.objects.get(username="manager")
    with django_assert_num_queries(0):
        with pytest.raises(Http404):
            get_visible_or_404(engagements_for(manager), code="CALL-2026\x00")
        assert first_visible(engagements_for(manager), code="\x00") is None
    assert get_visible_or_404(engagements_for(manager), code="CALL-2026").code == "CALL-2026"


def test_it_refuses_every_month_step_to_a_supervisor_with_403(demo) -> None:
    before = SubmissionEvent.objects.count()
    response = _client("supervisor").post("/portal/engagements/CALL-2026/2026-10/action/", {})
    assert response.status_code == 403
    assert SubmissionEvent.objects.count() == before


def test_it_refuses_a_proposal_decision_to_a_vendor_with_403(demo) -> None:
    url = f"/portal/engagements/CALL-2026/proposals/{demo['callnavi'].proposal}/decide/"
    response = _client("vendor").post(url, {})
    assert response.status_code == 403
    assert ImprovementProposal.objects.get(pk=demo["callnavi"].proposal).status == "pending"


def test_it_refuses_a_return_reason_holding_a_nul_byte_and_writes_nothing(demo) -> None:
    client = _client("manager")
    url = "/portal/engagements/CALL-2026/2026-10/action/"
    response = client.post(url, {"action": "return", "reason": "数値\x00を確認"}, follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["何か文字を入力してください。"]
    october = Submission.objects.get(engagement__code="CALL-2026", period=dt.date(2026, 10, 1))
    assert october.status == "submitted"


def test_it_does_not_move_a_node_to_the_top_when_the_post_has_no_parent(demo) -> None:
    response = _client("manager").post(
        "/trees/FY2026-ACQ/nodes/calls/move/",
        data='{"parent": ""}',
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert (response.status_code, response.json()["ok"]) == (400, False)
    assert Node.objects.get(tree__code="FY2026-ACQ", code="calls").parent.code == "orders"


def test_it_reports_a_broken_utf16_file_instead_of_failing(demo) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = Actual.objects.count()
    data = b"\xff\xfen\x00o\x00d"  # UTF-16 with its BOM, cut in the middle of a character
    response = _client("vendor").post(
        "/portal/engagements/CALL-2026/2026-11/upload/",
        {"file": SimpleUploadedFile("actuals.csv", data)},
    )
    assert response.status_code == 200
    assert [e.message for e in response.context["errors"]] == [
        "CSV または Excel（.xlsx）ファイルではありません。"
    ]
    assert Actual.objects.count() == before


def test_it_ignores_odd_digits_and_nul_bytes_in_the_month_grid() -> None:
    from django.http import QueryDict

    from portal.forms import entries_from_post

    post = QueryDict(mutable=True)
    post.update({"value-²": "1", "value-7": "3\x00100", "why-7": "増員\x00", "next-7": ""})
    entries = entries_from_post(post)
    assert [(e.node_id, e.value, e.why) for e in entries] == [(7, "3100", "増員")]


def test_it_filters_the_history_by_visible_kpis_only(demo) -> None:
    client = _client("vendor")
    url = "/portal/engagements/CALL-2026/history/"
    calls = Node.objects.get(tree__code="FY2026-ACQ", code="calls")
    visits = Node.objects.get(tree__code="FY2026-REV", code="visits")  # adbridge's
    assert client.get(url, {"node": "²"}).status_code == 200
    shown = client.get(url, {"node": str(calls.pk)}).context["page"]
    assert {a.node_id for a in shown} == {calls.pk}
    assert list(client.get(url, {"node": str(visits.pk)}).context["page"]) == []


def test_it_keeps_a_comment_typed_as_a_formula_as_text_in_the_excel_files(demo) -> None:
    import io

    from openpyxl import load_workbook

    from portal.uploads import template_xlsx
    from scorecard.reports import excel_report

    vendor = User.objects.get(username="vendor")
    formula = '=HYPERLINK("http://example.com","詳細")'
    row = {"tree": "FY2026-ACQ", "node": "calls", "period": "2026-11", "value": 3000}
    tree_services.actuals_record(user=vendor, rows=[{**row, "comment": formula}], channel="web")
    engagement = Engagement.objects.get(code="CALL-2026")
    _name, report, _type = excel_report(engagement, "2026-11", "ja")
    template = template_xlsx(vendor, engagement, dt.date(2026, 11, 1))
    for data in (report, template):
        cells = [
            c for s in load_workbook(io.BytesIO(data)).worksheets for r in s.iter_rows() for c in r
        ]
        assert [c.data_type for c in cells if c.value == formula] == ["s"]
