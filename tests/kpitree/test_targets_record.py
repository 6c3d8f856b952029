import datetime as dt

import pytest

from kpitree.models import Target, ValueAudit
from kpitree.services import RecordError, targets_record


def test_it_upserts_targets_with_their_rationale(manager, tree, revenue):
    rows = [
        {"node": "visits", "period": f"2026-{m:02d}", "value": 50_000, "rationale": "past_results"}
        for m in range(4, 16 - 3)
    ]
    assert targets_record(user=manager, tree=tree, rows=rows, channel="web").created == 9
    rows[0]["value"] = 55_000
    assert targets_record(user=manager, tree=tree, rows=rows, channel="web").as_dict() == {
        "created": 0,
        "updated": 1,
        "unchanged": 8,
    }
    audit = ValueAudit.objects.filter(kind="target").first()
    assert (audit.old_value, audit.new_value, audit.new_text) == (50_000, 55_000, "past_results")
    assert Target.objects.get(node=revenue["visits"], period=dt.date(2026, 4, 1)).value == 55_000


def test_it_allows_a_target_on_a_computed_node(manager, tree, revenue):
    targets_record(
        user=manager,
        tree=tree,
        rows=[{"node": "sales", "period": "2026-04", "value": 9e6}],
        channel="api",
    )
    assert Target.objects.get(node=revenue["sales"]).value == 9_000_000


def test_it_rejects_a_bad_rationale_and_writes_nothing(manager, tree, revenue):
    rows = [{"node": "visits", "period": "2026-04", "value": 1, "rationale": "gut_feeling"}]
    with pytest.raises(RecordError) as exc:
        targets_record(user=manager, tree=tree, rows=rows, channel="api")
    assert exc.value.errors[0]["field"] == "rationale"
    assert Target.objects.count() == 0


def test_it_lets_only_managers_set_targets(vendor_user, tree, revenue):
    with pytest.raises(RecordError) as exc:
        targets_record(
            user=vendor_user,
            tree=tree,
            rows=[{"node": "visits", "period": "2026-04", "value": 1}],
            channel="api",
        )
    assert exc.value.errors[0]["code"] == "forbidden"
    assert Target.objects.count() == 0
