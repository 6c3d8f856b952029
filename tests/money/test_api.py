"""money's REST endpoints (/api/v1/money/): the ROI table, charges, reliefs, rule sets and
their back-test, and a statement answered through the API by the vendor and the manager, as
each role sees them; bad input lists every problem and writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from rest_framework.test import APIClient

from engagements.services import token_create
from money.models import Charge, MoneySettings, Relief, Rule, RuleSet, Statement, StatementEvent
from tests.api.conftest import client_for as token_client
from tests.api.helpers import counts, errors_of
from tests.api.test_schemathesis import CHECKS, _wsgi_in_the_test_transaction, app_schema  # noqa: F401 - a fixture
from tests.money.conftest import ISSUE_BANDS

BASE = "/api/v1/money"
ENGAGEMENT = f"{BASE}/engagements/CALL-SLA"
# A day of July 2026: April to June have ended (their actuals may be entered), and the ROI table
# runs from April to July.
JULY = dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)


def api(user, language: str = "en") -> APIClient:
    """A token client of `user` reading in `language` (the user's own setting)."""
    user.language = language
    user.save(update_fields=["language"])
    client = token_client(user)
    client.credentials(
        HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"],
        HTTP_ACCEPT_LANGUAGE=language,
    )
    return client


@pytest.fixture
def july():
    with time_machine.travel(JULY, tick=False):
        yield


def draft_body(sla, **data) -> dict:
    return {
        "name": "案",
        "effective_from": "2026-07",
        "rules": [
            {
                "node": "appts",
                "bands": [
                    {"lower": "100", "upper": None, "pct_of_fee": "2"},
                    {"lower": None, "upper": "100", "pct_of_fee": "-2"},
                ],
            }
        ],
        **data,
    }


def money_rows():
    return counts(Charge, Relief, RuleSet, Rule, Statement, StatementEvent, MoneySettings)


# -- settings and the ROI table --------------------------------------------------------------------


def test_it_gives_the_roi_of_the_worked_example(sla, july) -> None:
    sla.month("2026-04", gain=5_000_000, orders=50)
    c = api(sla.manager)
    r = c.put(f"{ENGAGEMENT}/", {"gain_node": "gain", "acquired_node": sla.orders.pk})
    assert r.status_code == 200, r.json()
    body = c.get(f"{ENGAGEMENT}/").json()
    assert body["settings"] == {
        "gain_node": {"tree": "SLA", "node": "gain", "name": "売上増加額"},
        "acquired_node": {"tree": "SLA", "node": "orders", "name": "受注数"},
    }
    assert body["monthly_fee"] == 1_000_000
    rows = {(row["grain"], row["period"]): row for row in body["returns"]}
    # (5,000,000 − 1,000,000) ÷ 1,000,000 = 400 %; 1,000,000 ÷ 50 = 20,000 yen.
    assert rows["month", "2026-04"] == {
        "grain": "month",
        "period": "2026-04",
        "cost": 1_000_000,
        "cost_with_gain": 1_000_000,
        "gain": 5_000_000.0,
        "acquired": 50.0,
        "roi": 400.0,
        "cpa": 20_000,
        "gain_ratio": 500.0,
        "months": 1,
        "months_with_gain": 1,
        "months_with_acquired": 1,
    }
    assert rows["month", "2026-05"]["roi"] is None
    # Over the engagement's life so far (April to July), the ratios are over April, the month
    # with a gain; the cost is the four months'.
    lifetime = rows["lifetime", None]
    assert (lifetime["cost"], lifetime["cost_with_gain"], lifetime["roi"], lifetime["months"]) == (
        4_000_000,
        1_000_000,
        400.0,
        4,
    )
    assert [k for k in rows if k[0] != "month"] == [
        ("quarter", "2026-04"),
        ("quarter", "2026-07"),
        ("year", "2026-04"),
        ("lifetime", None),
    ]
    assert body["exposure"] is None  # no rules in force


def test_it_gives_this_months_exposure_under_the_rules_in_force(sla, july) -> None:
    sla.rules()
    body = api(sla.manager).get(f"{ENGAGEMENT}/").json()
    rule_set = RuleSet.objects.get()
    # No forecast and no target for July: the rule is not assessed, nothing is at stake.
    assert body["exposure"] == {"period": "2026-07", "adjustment": 0, "rule_set": rule_set.pk}


def test_it_refuses_a_kpi_of_no_use_and_writes_nothing(sla, engagement_b) -> None:
    before = money_rows()
    r = api(sla.manager).put(
        f"{ENGAGEMENT}/", {"gain_node": "no-such-kpi", "acquired_node": "bad\x00code"}
    )
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "gain_node"}, {"field": "acquired_node"}]
    assert money_rows() == before


# -- charges and reliefs ---------------------------------------------------------------------------


def test_it_adds_and_voids_a_charge_and_the_statement_follows(sla) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    c = api(sla.manager)
    r = c.post(
        f"{ENGAGEMENT}/charges/",
        {"period": "2026-04", "amount": 50_000, "description": "追加リスト"},
    )
    assert r.status_code == 201, r.json()
    charge = r.json()
    assert (charge["period"], charge["amount"], charge["description"], charge["voided"]) == (
        "2026-04",
        50_000,
        "追加リスト",
        False,
    )
    statement = Statement.objects.get()
    assert (statement.charges, statement.invoice) == (50_000, 1_020_000)
    r = c.post(f"{ENGAGEMENT}/charges/{charge['id']}/void/", {"reason": "二重計上"})
    assert r.status_code == 200, r.json()
    assert (r.json()["voided"], r.json()["voided_by"], r.json()["void_reason"]) == (
        True,
        "mgr",
        "二重計上",
    )
    assert Statement.objects.get().invoice == 970_000
    listed = c.get(f"{ENGAGEMENT}/charges/").json()
    assert [(row["id"], row["voided"]) for row in listed["results"]] == [(charge["id"], True)]
    again = c.post(f"{ENGAGEMENT}/charges/{charge['id']}/void/", {"reason": "再"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    "body, fields",
    [
        (
            {"period": "2026-13", "amount": 0, "description": ""},
            ["period", "amount", "description"],
        ),
        ({"period": "2026-04", "amount": 10**30, "description": "x"}, ["amount"]),
        ({"period": 202604, "amount": "5万", "description": "a\x00b"}, ["period", "amount"]),
        ({"period": ["2026-04"], "amount": True, "description": {"a": 1}}, None),
    ],
)
def test_it_refuses_a_bad_charge_and_writes_nothing(sla, body, fields) -> None:
    before = money_rows()
    r = api(sla.manager).post(f"{ENGAGEMENT}/charges/", body)
    assert r.status_code == 400
    if fields is not None:
        assert [e["field"] for e in errors_of(r)][: len(fields)] == fields
    assert money_rows() == before


def test_it_refuses_a_body_that_is_not_an_object(sla) -> None:
    r = api(sla.manager).post(f"{ENGAGEMENT}/charges/", [1, 2], format="json")
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None}]
    assert Charge.objects.count() == 0


def test_a_relief_clears_the_month_and_withdrawing_it_restores_it(sla) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    c = api(sla.manager)
    r = c.post(
        f"{ENGAGEMENT}/reliefs/", {"period": "2026-04", "node": "appts", "reason": "先方の障害"}
    )
    assert r.status_code == 201, r.json()
    relief = r.json()
    assert (relief["node"], relief["reason"], relief["withdrawn"]) == (
        {"tree": "SLA", "node": "appts", "name": "アポ数"},
        "先方の障害",
        False,
    )
    assert Statement.objects.get().adjustment == 0
    r = c.post(f"{ENGAGEMENT}/reliefs/{relief['id']}/withdraw/")
    assert r.status_code == 200, r.json()
    assert r.json()["withdrawn"] is True
    assert Statement.objects.get().adjustment == -30_000
    assert [row["withdrawn"] for row in c.get(f"{ENGAGEMENT}/reliefs/").json()["results"]] == [True]


# -- rule sets -------------------------------------------------------------------------------------


def test_it_drafts_rewrites_and_adopts_a_rule_set(sla) -> None:
    c = api(sla.manager)
    r = c.post(
        f"{ENGAGEMENT}/rule-sets/",
        {
            "name": "SLA 2026",
            "effective_from": "2026-04",
            "cap_pct": "5",
            "earn_back_months": 2,
            "rules": [
                {
                    "node": "appts",
                    "min_volume_node": "calls",
                    "min_volume": 300,
                    "bands": ISSUE_BANDS,
                }
            ],
        },
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["status"], body["effective_from"], body["cap_pct"], body["earn_back_months"]) == (
        "draft",
        "2026-04",
        "5.00",
        2,
    )
    assert body["rules"] == [
        {
            "position": 0,
            "node": {"tree": "SLA", "node": "appts", "name": "アポ数"},
            "min_volume_node": {"tree": "SLA", "node": "calls", "name": "架電数"},
            "min_volume": 300.0,
            "bands": [
                {"lower": None, "upper": "90.00", "pct_of_fee": "-8.00"},
                {"lower": "90.00", "upper": "100.00", "pct_of_fee": "-3.00"},
                {"lower": "110.00", "upper": None, "pct_of_fee": "5.00"},
            ],
        }
    ]
    url = f"{BASE}/rule-sets/{body['id']}/"
    r = c.put(url, draft_body(sla, name="SLA 2026 改", effective_from="2026-04"))
    assert r.status_code == 200, r.json()
    assert (r.json()["name"], r.json()["cap_pct"], len(r.json()["rules"][0]["bands"])) == (
        "SLA 2026 改",
        None,
        2,
    )
    r = c.post(f"{url}adopt/")
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["adopted_by"]) == ("adopted", "mgr")
    assert c.put(url, draft_body(sla)).status_code == 409  # an adopted set is never edited
    assert c.post(f"{url}adopt/").status_code == 409


def test_it_refuses_bad_rules_with_every_problem_and_writes_nothing(sla) -> None:
    before = money_rows()
    r = api(sla.manager).post(
        f"{ENGAGEMENT}/rule-sets/",
        {
            "name": "",
            "effective_from": "2031-01",
            "cap_pct": "-1",
            "earn_back_months": 13,
            "rules": [
                {"node": "²", "bands": [{"lower": "100", "upper": "90", "pct_of_fee": "1"}]},
                {"node": "no\x00pe", "bands": [{"pct_of_fee": "1e400"}]},
                {"node": 10**40, "min_volume_node": [1], "bands": []},
                "not a rule",
            ],
        },
    )
    assert r.status_code == 400
    assert [e["field"] for e in errors_of(r)] == [
        "name",
        "effective_from",
        "cap_pct",
        "earn_back_months",
        "rules[0].node",
        "rules[0].bands",
        "rules[1].node",
        "rules[1].bands[0].pct_of_fee",
        "rules[2].node",
        "rules[2].min_volume_node",
        "rules[2].bands",
        "rules",
    ]
    assert money_rows() == before


def test_it_back_tests_a_draft_against_the_rules_in_force(sla) -> None:
    for period, appts in (("2026-04", 112), ("2026-05", 95), ("2026-06", 80)):
        sla.month(period, appts=appts)
    sla.rules(cap_pct="5")
    c = api(sla.manager)
    draft = c.post(f"{ENGAGEMENT}/rule-sets/", draft_body(sla)).json()
    before = money_rows()
    r = c.get(f"{BASE}/rule-sets/{draft['id']}/backtest/")
    assert r.status_code == 200, r.json()
    assert r.json() == {
        "rule_set": draft["id"],
        "months": 12,
        "rows": [
            {"period": "2026-04", "in_force": 50_000, "draft": 20_000, "difference": -30_000},
            {"period": "2026-05", "in_force": -30_000, "draft": -20_000, "difference": 10_000},
            {"period": "2026-06", "in_force": -50_000, "draft": -20_000, "difference": 30_000},
        ],
    }
    r = c.get(f"{BASE}/rule-sets/{draft['id']}/backtest/", {"months": "2"})
    assert [row["period"] for row in r.json()["rows"]] == ["2026-05", "2026-06"]
    for bad in ("0", "121", "²", "-1", "1.5", "\x00"):
        r = c.get(f"{BASE}/rule-sets/{draft['id']}/backtest/", {"months": bad})
        assert r.status_code == 400, bad
        assert errors_of(r) == [{"field": "months"}]
    assert money_rows() == before  # a back-test writes nothing


EXPLANATION_JA = (
    "アポ数の達成率は95.0%で、区分「90%以上100%未満」に該当：月額費用1,000,000円の-3% = -30,000円。"
)


EXPLANATION_EN = (
    "アポ数 achieved 95.0%, in the band 90% to below 100%: -3% of the fee ¥1,000,000 = -¥30,000."
)

# -- statements ------------------------------------------------------------------------------------


def test_the_statement_lifecycle_through_the_api(sla, vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    vendor, manager = api(vendor_user, "ja"), api(sla.manager)
    listed = vendor.get(f"{ENGAGEMENT}/statements/").json()["results"]
    statement = Statement.objects.get()
    assert [(s["id"], s["period"], s["status"], s["adjustment"], s["invoice"]) for s in listed] == [
        (statement.pk, "2026-04", "open", -30_000, 970_000)
    ]
    url = f"{BASE}/statements/{statement.pk}/"
    body = vendor.get(url).json()
    assert (body["fee"], body["charges"], body["exact_adjustment"], body["version"]) == (
        1_000_000,
        0,
        "-30000.0000",
        1,
    )
    [line] = body["lines"]
    assert {k: line[k] for k in ("position", "kind", "kpi", "achievement", "pct_of_fee")} == {
        "position": 0,
        "kind": "band",
        "kpi": {"tree": "SLA", "node": "appts", "name": "アポ数"},
        "achievement": 95.0,
        "pct_of_fee": "-3.00",
    }
    assert line["amount"] == "-30000.0000"
    assert line["explanation"] == EXPLANATION_JA
    english = manager.get(url).json()["lines"][0]["explanation"]
    assert english == EXPLANATION_EN

    r = vendor.post(f"{url}dispute/", {"line": 0, "comment": "先方のシステム障害です"})
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["lines"][0]["dispute"]) == (
        "disputed",
        "先方のシステム障害です",
    )
    assert vendor.post(f"{url}accept/").status_code == 409  # a dispute is waiting
    r = manager.post(f"{url}resolve/", {"line": 0, "resolution": "確認の上、減額は維持します"})
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["lines"][0]["resolved_by"]) == ("open", "mgr")
    r = vendor.post(f"{url}accept/")
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["agreed_by"]) == ("agreed", "vend")

    r = manager.post(f"{url}reopen/", {"reason": ""})
    assert r.status_code == 400
    assert errors_of(r) == [{"field": "reason"}]
    r = manager.post(f"{url}reopen/", {"reason": "目標の誤りを訂正"})
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "open"
    assert [(e["action"], e["user"]) for e in r.json()["events"]] == [
        ("computed", "mgr"),
        ("disputed", "vend"),
        ("resolved", "mgr"),
        ("accepted", "vend"),
        ("reopened", "mgr"),
    ]


def test_it_refuses_a_dispute_of_no_line_and_writes_nothing(sla, vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    url = f"{BASE}/statements/{Statement.objects.get().pk}/dispute/"
    c = api(vendor_user)
    before = money_rows()
    for line in (5, -1, "²", 10**30, True, None, [0]):
        r = c.post(url, {"line": line, "comment": "違います"})
        assert r.status_code == 400, line
        assert errors_of(r) == [{"field": "line"}]
    r = c.post(url, {"line": 0, "comment": "\x00"})
    assert errors_of(r) == [{"field": "comment"}]
    assert money_rows() == before
    assert Statement.objects.get().status == "open"


# -- who may see and do what -----------------------------------------------------------------------


def test_another_vendor_gets_404_everywhere(sla, other_vendor_user) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement = Statement.objects.get()
    c = api(other_vendor_user)
    for path in (
        f"{ENGAGEMENT}/",
        f"{ENGAGEMENT}/charges/",
        f"{ENGAGEMENT}/reliefs/",
        f"{ENGAGEMENT}/rule-sets/",
        f"{ENGAGEMENT}/statements/",
        f"{BASE}/statements/{statement.pk}/",
        f"{BASE}/rule-sets/{statement.rule_set_id}/",
        f"{BASE}/rule-sets/{statement.rule_set_id}/backtest/",
    ):
        assert c.get(path).status_code == 404, path
    assert c.post(f"{BASE}/statements/{statement.pk}/accept/").status_code == 404
    assert Statement.objects.get().status == "open"


def test_the_vendor_sees_adopted_rule_sets_but_no_draft(sla, vendor_user) -> None:
    adopted = sla.rules()
    draft = api(sla.manager).post(f"{ENGAGEMENT}/rule-sets/", draft_body(sla)).json()
    c = api(vendor_user)
    listed = c.get(f"{ENGAGEMENT}/rule-sets/").json()["results"]
    assert [rs["id"] for rs in listed] == [adopted.pk]
    assert c.get(f"{BASE}/rule-sets/{draft['id']}/").status_code == 404


def test_a_supervisor_reads_but_may_not_write(sla, supervisor) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    statement = Statement.objects.get()
    c = api(supervisor)
    assert c.get(f"{ENGAGEMENT}/").status_code == 200
    assert c.get(f"{BASE}/statements/{statement.pk}/").status_code == 200
    before = money_rows()
    for path, body in (
        (f"{ENGAGEMENT}/charges/", {"period": "2026-04", "amount": 1, "description": "x"}),
        (f"{ENGAGEMENT}/reliefs/", {"period": "2026-04", "reason": "x"}),
        (f"{ENGAGEMENT}/rule-sets/", draft_body(sla)),
        (f"{BASE}/rule-sets/{statement.rule_set_id}/adopt/", {}),
        (f"{BASE}/statements/{statement.pk}/accept/", {}),
        (f"{BASE}/statements/{statement.pk}/dispute/", {"line": 0, "comment": "x"}),
        (f"{BASE}/statements/{statement.pk}/resolve/", {"line": 0, "resolution": "x"}),
        (f"{BASE}/statements/{statement.pk}/reopen/", {"reason": "x"}),
    ):
        r = c.post(path, body)
        assert r.status_code == 403, path
        assert errors_of(r) == [{"field": None}]
    assert c.put(f"{ENGAGEMENT}/", {"gain_node": "gain"}).status_code == 403
    assert money_rows() == before


def test_the_manager_may_not_answer_for_the_vendor(sla) -> None:
    sla.month("2026-04", appts=95)
    sla.rules()
    url = f"{BASE}/statements/{Statement.objects.get().pk}/accept/"
    assert api(sla.manager).post(url).status_code == 403
    assert Statement.objects.get().status == "open"


def test_unknown_and_impossible_ids_and_codes_answer_404(sla) -> None:
    c = api(sla.manager)
    for path in (
        f"{BASE}/statements/999999/",
        f"{BASE}/statements/{10**30}/",
        f"{BASE}/rule-sets/0/",
        f"{BASE}/engagements/NOPE/",
        f"{BASE}/engagements/{'x' * 65}/charges/",
        f"{BASE}/engagements/CALL-SLA/charges/{10**30}/void/",
    ):
        assert c.get(path).status_code in (404, 405), path
    assert c.post(f"{ENGAGEMENT}/charges/{10**30}/void/", {"reason": "x"}).status_code == 404


def test_the_schema_describes_every_money_endpoint(manager) -> None:
    paths = api(manager).get("/api/schema/", {"format": "json"}).json()["paths"]
    money = {p: sorted(m for m in ops if m != "parameters") for p, ops in paths.items()}
    assert {p: m for p, m in money.items() if p.startswith(f"{BASE}/")} == {
        f"{BASE}/engagements/{{code}}/": ["get", "put"],
        f"{BASE}/engagements/{{code}}/charges/": ["get", "post"],
        f"{BASE}/engagements/{{code}}/charges/{{charge_id}}/void/": ["post"],
        f"{BASE}/engagements/{{code}}/reliefs/": ["get", "post"],
        f"{BASE}/engagements/{{code}}/reliefs/{{relief_id}}/withdraw/": ["post"],
        f"{BASE}/engagements/{{code}}/rule-sets/": ["get", "post"],
        f"{BASE}/engagements/{{code}}/statements/": ["get"],
        f"{BASE}/rule-sets/{{rule_set_id}}/": ["get", "put"],
        f"{BASE}/rule-sets/{{rule_set_id}}/adopt/": ["post"],
        f"{BASE}/rule-sets/{{rule_set_id}}/backtest/": ["get"],
        f"{BASE}/statements/{{statement_id}}/": ["get"],
        f"{BASE}/statements/{{statement_id}}/accept/": ["post"],
        f"{BASE}/statements/{{statement_id}}/dispute/": ["post"],
        f"{BASE}/statements/{{statement_id}}/reopen/": ["post"],
        f"{BASE}/statements/{{statement_id}}/resolve/": ["post"],
    }
    tags = {
        tuple(op["tags"])
        for p, ops in paths.items()
        if p.startswith(f"{BASE}/")
        for op in ops.values()
    }
    assert tags == {("money",)}


# -- hostile input: never a 500 ----------------------------------------------------------------------

HOSTILE = [
    None,
    True,
    -1,
    0,
    10**30,
    -(10**400),
    1.5,
    1e308,
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",
    "١٢",
    "9" * 400,
    "x" * 3000,
    "2026-04\x00",
    [],
    {},
    [None],
    {"node": "\x00"},
    "appts",
]


def _bodies(sla, statement: Statement, rule_set: RuleSet, charge: Charge, relief: Relief):
    rule = {"node": "appts", "min_volume_node": "calls", "min_volume": 1, "bands": ISSUE_BANDS}
    rules = {"name": "x", "effective_from": "2026-08", "rules": [rule]}
    band = dict(ISSUE_BANDS[0])
    s = f"{BASE}/statements/{statement.pk}"
    return [
        ("put", f"{ENGAGEMENT}/", {"gain_node": "gain", "acquired_node": "orders"}),
        ("post", f"{ENGAGEMENT}/charges/", {"period": "2026-05", "amount": 1, "description": "x"}),
        ("post", f"{ENGAGEMENT}/charges/{charge.pk}/void/", {"reason": "x"}),
        ("post", f"{ENGAGEMENT}/reliefs/", {"period": "2026-05", "node": "appts", "reason": "x"}),
        ("post", f"{ENGAGEMENT}/rule-sets/", {**rules, "cap_pct": "5", "earn_back_months": 1}),
        ("post", f"{ENGAGEMENT}/rule-sets/", {**rules, "rules": [{**rule, "bands": [band]}]}),
        ("put", f"{BASE}/rule-sets/{rule_set.pk}/", {**rules, "note": "x"}),
        ("post", f"{s}/dispute/", {"line": 0, "comment": "x"}),
        ("post", f"{s}/resolve/", {"line": 0, "resolution": "x"}),
        ("post", f"{s}/reopen/", {"reason": "x"}),
    ]


def _with(body: dict, path: tuple, value) -> dict:
    """`body` with the value at `path` (keys and list positions) replaced."""
    import copy

    out = copy.deepcopy(body)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*prefix, i)
            yield from _paths(item, (*prefix, i))


@pytest.mark.slow
def test_it_never_answers_500_to_hostile_values(sla, vendor_user, settings) -> None:
    # Some 2,000 requests within seconds: no rate limit in the way.
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "token": "100000/min"}
    sla.month("2026-04", appts=95)
    sla.rules()
    statement = Statement.objects.get()
    draft = RuleSet.objects.create(
        engagement=sla.engagement, name="案", effective_from=dt.date(2026, 9, 1)
    )
    charge = Charge.objects.create(
        engagement=sla.engagement, period=dt.date(2026, 6, 1), amount=1, description="x"
    )
    relief = Relief.objects.create(
        engagement=sla.engagement, period=dt.date(2026, 6, 1), reason="x"
    )
    clients = {"manager": api(sla.manager), "vendor": api(vendor_user)}
    failures = []
    for method, url, body in _bodies(sla, statement, draft, charge, relief):
        for path in list(_paths(body)):
            for value in HOSTILE:
                # The vendor answers statements; the manager does the rest.
                who = "vendor" if url.endswith("/dispute/") else "manager"
                r = getattr(clients[who], method)(url, _with(body, path, value), format="json")
                if r.status_code >= 500:
                    failures.append((who, method, url, path, value, r.status_code))
        for raw in (b"null", b"[]", b'"x"', b"1", b"[{}]"):
            r = getattr(clients["manager"], method)(url, raw, content_type="application/json")
            if r.status_code != 400:
                failures.append(("manager", method, url, raw, r.status_code))
    assert failures == []


@pytest.mark.slow
@pytest.mark.usefixtures("_wsgi_in_the_test_transaction")
def test_every_answer_matches_the_schema(sla, vendor_user) -> None:
    """Each endpoint, over real rows (the schemathesis run of tests/api has no money rows): its
    status is one it documents and its body matches the documented one."""
    sla.month("2026-04", appts=95, gain=5_000_000, orders=50)
    sla.month("2026-05", appts=80)
    adopted = sla.rules(cap_pct="5", earn_back_months=1)
    manager, vendor = (
        f"Token {token_create(user=u, name='t')[1]}" for u in (sla.manager, vendor_user)
    )
    schema = app_schema()
    statement = Statement.objects.order_by("period").first()
    assert statement is not None
    code = {"code": "CALL-SLA"}
    s = {"statement_id": statement.pk}
    steps: list[tuple[str, str, dict, object, str]] = [
        (
            "PUT",
            "/engagements/{code}/",
            code,
            {"gain_node": "gain", "acquired_node": "orders"},
            manager,
        ),
        ("GET", "/engagements/{code}/", code, None, vendor),
        (
            "POST",
            "/engagements/{code}/charges/",
            code,
            {"period": "2026-05", "amount": -5000, "description": "値引き"},
            manager,
        ),
        ("GET", "/engagements/{code}/charges/", code, None, vendor),
        (
            "POST",
            "/engagements/{code}/reliefs/",
            code,
            {"period": "2026-05", "reason": "先方都合"},
            manager,
        ),
        ("GET", "/engagements/{code}/reliefs/", code, None, manager),
        ("POST", "/engagements/{code}/rule-sets/", code, draft_body(sla), manager),
        ("GET", "/engagements/{code}/rule-sets/", code, None, manager),
        ("GET", "/rule-sets/{rule_set_id}/", {"rule_set_id": adopted.pk}, None, vendor),
        ("GET", "/rule-sets/{rule_set_id}/backtest/", {"rule_set_id": adopted.pk}, None, manager),
        ("GET", "/engagements/{code}/statements/", code, None, vendor),
        (
            "POST",
            "/statements/{statement_id}/dispute/",
            s,
            {"line": 0, "comment": "違います"},
            vendor,
        ),
        (
            "POST",
            "/statements/{statement_id}/resolve/",
            s,
            {"line": 0, "resolution": "維持"},
            manager,
        ),
        ("POST", "/statements/{statement_id}/accept/", s, None, vendor),
        ("POST", "/statements/{statement_id}/reopen/", s, {"reason": "訂正"}, manager),
        ("GET", "/statements/{statement_id}/", s, None, vendor),
        ("POST", "/statements/{statement_id}/accept/", s, None, manager),  # 403
        ("POST", "/engagements/{code}/charges/", code, {"period": "x"}, manager),  # 400
    ]
    statuses = []
    for method, path, params, body, token in steps:
        operation = schema[f"{BASE}{path}"][method]
        kwargs = {"path_parameters": params}
        if body is not None:
            kwargs.update(body=body, media_type="application/json")
        case = operation.Case(**kwargs)
        response = case.call_and_validate(headers={"Authorization": token}, checks=CHECKS)
        statuses.append(response.status_code)
    assert statuses == [
        200,
        200,
        201,
        200,
        201,
        200,
        201,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        403,
        400,
    ]
    # The draft drafted above is back-tested too, and its answer matches.
    draft = RuleSet.objects.get(status="draft")
    case = schema[f"{BASE}/rule-sets/{{rule_set_id}}/backtest/"]["GET"].Case(
        path_parameters={"rule_set_id": draft.pk}, query={"months": 2}
    )
    assert (
        case.call_and_validate(headers={"Authorization": manager}, checks=CHECKS).status_code == 200
    )
