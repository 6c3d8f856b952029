"""Request limits of the API (kpi_planner/limits.py): body size (413), rows per bulk call (413),
JSON depth and JSON that does not parse (400), and every API error in the error format, 500
and Django's own 400/404/413 included; pages keep their HTML error pages."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import RequestFactory

from kpi_planner import limits
from kpitree import services
from kpitree.models import Actual, ImportJob, Node, Target, Tree, ValueAudit
from tests.api.helpers import counts, errors_of, revenue_rows
from tests.factories import TreeFactory

URL = "/api/v1/actuals/bulk/"
MIB = 1024 * 1024


def nothing_written() -> bool:
    return counts(Actual, ValueAudit, Target) == {"Actual": 0, "ValueAudit": 0, "Target": 0}


def message_of(response) -> str:
    assert errors_of(response) == [{"field": None}]
    return response.json()["errors"][0]["message"]


def post_raw(api, body: bytes, url: str = URL, **extra):
    return api.post(url, data=body, content_type="application/json", **extra)


EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
# The token user's saved language (Japanese) comes before Accept-Language.
TOO_LARGE = "リクエスト本文がAPIの上限（%s MB）を超えています。行を複数回に分けて送信してください。"


# -- body size -----------------------------------------------------------------------------------


def test_a_30_mb_body_answers_413_in_the_error_format_unread(mgr_api, rev_tree):
    r = post_raw(mgr_api, b"[" + b" " * (30 * MIB) + b"]", **EN)
    assert r.status_code == 413
    assert r["Content-Type"] == "application/json"
    assert message_of(r) == TOO_LARGE % 25
    assert nothing_written()


def test_a_body_just_over_the_configured_limit_answers_413(mgr_api, rev_tree, settings):
    settings.API_MAX_BODY_MB = 1
    rows = json.dumps(revenue_rows()).encode()
    at_limit = rows[:-1] + b" " * (MIB - len(rows)) + b"]"
    assert len(at_limit) == MIB
    assert post_raw(mgr_api, at_limit).status_code == 200
    r = post_raw(mgr_api, at_limit + b" ", **EN)
    assert r.status_code == 413
    assert message_of(r) == TOO_LARGE % 1
    assert Actual.objects.count() == 3  # only the first call wrote


def test_a_body_found_too_large_while_read_answers_413(mgr_api, rev_tree, settings):
    # Content-Length is under the API's limit, but Django's own check (DATA_UPLOAD_MAX_MEMORY_SIZE,
    # the one a body without a true Content-Length meets while it is read) refuses it.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    r = post_raw(mgr_api, json.dumps(revenue_rows()).encode(), **EN)
    assert r.status_code == 413
    assert message_of(r) == TOO_LARGE % 25
    assert nothing_written()


def test_django_s_400_handler_answers_413_json_under_the_api_and_its_page_elsewhere():
    factory = RequestFactory()
    too_big = RequestDataTooBig("too big")
    api = limits.bad_request(factory.post(URL), too_big)
    assert (api.status_code, api["Content-Type"]) == (413, "application/json")
    other = limits.bad_request(factory.post(URL), ValueError("bad"))
    assert (other.status_code, other["Content-Type"]) == (400, "application/json")
    page = limits.bad_request(factory.post("/login/"), too_big)
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_a_page_s_form_keeps_django_s_limit_and_its_html_page(client, db):
    r = client.post(
        "/login/",
        data=b"username=a&password=" + b"x" * (3 * MIB),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 400
    assert r["Content-Type"].startswith("text/html")


# -- rows per call -------------------------------------------------------------------------------


def test_more_rows_than_the_limit_answers_413_and_writes_nothing(mgr_api, rev_tree, settings):
    settings.API_MAX_ROWS = 2
    r = mgr_api.post(URL, revenue_rows(), **EN)
    assert r.status_code == 413
    assert message_of(r) == (
        "1回の呼び出しで送れるのは2行までです（この呼び出しは3行）。複数回に分けて送信してください。"
    )
    assert nothing_written()


def test_the_row_limit_holds_for_targets_and_nodes_too(mgr_api, rev_tree, settings):
    settings.API_MAX_ROWS = 1
    targets = [
        {"node": "visits", "period": "2026-04", "value": 1, "rationale": "agreement"},
        {"node": "visits", "period": "2026-05", "value": 2, "rationale": "agreement"},
    ]
    r = mgr_api.put("/api/v1/trees/rev/targets/", targets)
    assert r.status_code == 413
    assert errors_of(r) == [{"field": None}]
    nodes_before = Node.objects.count()
    r = mgr_api.put(
        "/api/v1/trees/rev/nodes/",
        [{"code": "a", "name": "A", "parent": "sales"}, {"code": "b", "name": "B"}],
    )
    assert r.status_code == 413
    assert errors_of(r) == [{"field": None}]
    assert Node.objects.count() == nodes_before
    assert nothing_written()


# -- JSON ------------------------------------------------------------------------------------------


def test_json_nested_too_deep_answers_400_and_writes_nothing(mgr_api, rev_tree, caplog):
    body = b"[" * 1000 + b"]" * 1000  # 2 KB
    with caplog.at_level(logging.ERROR):
        r = post_raw(mgr_api, body, **EN)
    assert r.status_code == 400
    assert r["Content-Type"] == "application/json"
    assert message_of(r) == "JSON本文の入れ子が32段を超えています。"
    assert [rec for rec in caplog.records if rec.levelno >= logging.ERROR] == []
    assert nothing_written()


def test_depth_is_counted_outside_strings_and_up_to_the_limit(mgr_api, rev_tree, settings):
    settings.API_JSON_MAX_DEPTH = 2
    rows = revenue_rows()
    rows[0]["comment"] = '[[[[[ 括弧 ]]]] "quoted" \\'
    assert post_raw(mgr_api, json.dumps(rows, ensure_ascii=False).encode()).status_code == 200
    r = post_raw(mgr_api, b'[{"tree": "rev", "node": "visits", "value": [1]}]')
    assert r.status_code == 400
    assert errors_of(r) == [{"field": None}]


@pytest.mark.parametrize(
    "body",
    [b"[{", b"{'tree': 1}", b"[NaN]", b'[{"value": Infinity}]', b"\xff\xfe[]", b"[1,]"],
)
def test_invalid_json_answers_400_in_the_error_format(mgr_api, rev_tree, body):
    r = post_raw(mgr_api, body)
    assert r.status_code == 400
    assert r["Content-Type"] == "application/json"
    assert message_of(r)
    assert nothing_written()


def test_nesting_exceeds_counts_only_brackets_outside_strings():
    assert limits.nesting_exceeds(b"[]", 1) is False
    assert limits.nesting_exceeds(b"[[]]", 1) is True
    assert limits.nesting_exceeds(b'[{"a": "[[[[", "b": "\\"[[", "c": "\\\\"}]', 2) is False
    assert limits.nesting_exceeds(b'[{"a": "\\\\"}, [[]]]', 2) is True
    assert limits.nesting_exceeds(b"[" * 32 + b"]" * 32, 32) is False
    assert limits.nesting_exceeds(b"[" * 33 + b"]" * 33, 32) is True
    assert limits.nesting_exceeds(b"[" * 5000, 32) is True
    assert limits.nesting_exceeds('[{"c": "補充[した]"}]'.encode(), 2) is False


# -- errors in the error format --------------------------------------------------------------------


def test_an_exception_in_a_view_answers_500_json_logged_once(
    mgr_api, rev_tree, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "actuals_record", broken)
    with caplog.at_level(logging.ERROR):
        r = mgr_api.post(URL, revenue_rows(), **EN)
    assert r.status_code == 500
    assert r["Content-Type"] == "application/json"
    assert message_of(r) == (
        "内部エラーが発生しました（記録済みです）。時間をおいて再試行し、続く場合は管理者に連絡してください。"
    )
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is RuntimeError


def test_a_url_that_matches_nothing_under_the_api_answers_404_json(mgr_api):
    r = mgr_api.get("/api/v1/no-such-thing/", **EN)
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert message_of(r) == "Not found."
    assert r["Content-Length"] == str(len(r.content))


def test_pages_keep_their_html_404(client, db):
    r = client.get("/no-such-page/")
    assert r.status_code == 404
    assert r["Content-Type"].startswith("text/html")


# -- the documented bulk size ----------------------------------------------------------------------

COMMENTS = [
    "補充した2名が稼働し、架電数が前月より増えた",
    "新規リストの反応が良く、アポ率が改善",
    "繁忙期のため稼働を抑えた。来月は通常に戻す見込み",
    "",
]


@pytest.fixture
def wide_tree(manager) -> Tree:
    """420 input KPIs × 120 ended months (2016-12 … 2026-11): room for 50,400 actuals."""
    tree = TreeFactory(
        code="wide", start_month=dt.date(2016, 12, 1), end_month=dt.date(2026, 11, 1)
    )
    root = services.node_save(
        user=manager,
        node=Node(tree=tree),
        data={"code": "total", "name": "合計", "kind": "kgi", "rollup": "sum"},
    )
    Node.objects.bulk_create(
        [
            Node(tree=tree, code=f"k{i}", name=f"KPI {i}", parent=root, position=i)
            for i in range(420)
        ]
    )
    return tree


def fifty_thousand_rows() -> list[dict]:
    months = [f"{2016 + (11 + m) // 12}-{(11 + m) % 12 + 1:02d}" for m in range(120)]
    return [
        {
            "tree": "wide",
            "node": f"k{i % 420}",
            "period": months[i // 420],
            "value": 3100 + i,
            "comment": COMMENTS[i % 4],
        }
        for i in range(50_000)
    ]


def test_the_documented_50000_row_write_is_accepted(mgr_api, wide_tree):
    # More than API_ASYNC_ROWS: it becomes a job (tests/api/test_jobs.py runs jobs; on SQLite
    # writing 50,000 rows takes a minute, so bench/bench_bulk_write.py runs them, on PostgreSQL).
    body = json.dumps(fifty_thousand_rows()).encode()  # Japanese escaped: the larger form
    assert 8 * MIB < len(body) < 25 * MIB
    r = post_raw(mgr_api, body)
    assert r.status_code == 202, r.content[:500]
    job = ImportJob.objects.get()
    assert (job.status, job.rows, len(job.payload)) == ("queued", 50_000, 50_000)
    assert job.payload[1]["comment"] == COMMENTS[1]
