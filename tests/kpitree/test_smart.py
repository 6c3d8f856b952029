"""The SMART check of a KPI (issue 13): each letter holding or failing with what is missing."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from kpitree.smart import smart_check

APR = dt.date(2026, 4, 1)


def months(n: int, value: float = 100) -> list[tuple[dt.date, float]]:
    return [(dt.date(2026, 4 + i, 1), value) for i in range(n)]


def check(**changes):
    args = dict(
        name="架電数",
        definition="オペレーターが発信した通話の件数（不通を含む）",
        unit="件",
        source="vendor",
        benchmark=100.0,
        targets=months(6),
        actuals=[],
        reaches_kgi=True,
        plan_months=6,
    )
    args.update(changes)
    with translation.override("en"):
        return {i.letter: (i.ok, i.missing) for i in smart_check(**args)}


def test_a_well_designed_kpi_is_smart() -> None:
    assert check() == {k: (True, "") for k in "SMART"}


def test_each_letter_says_what_is_missing() -> None:
    assert check(definition="架電数")["S"] == (
        False,
        "Define what counts, in a sentence that is more than the KPI's name.",
    )
    assert check(unit="", source="")["M"] == (
        False,
        "Add a unit and the source of the actuals.",
    )
    assert check(benchmark=200.0)["A"] == (
        False,
        "The target is far from both the benchmark and the recent actuals.",
    )
    # Far from the benchmark but near the recent actuals: achievable.
    assert check(benchmark=200.0, actuals=months(3, 95))["A"] == (True, "")
    assert check(benchmark=None)["A"] == (
        False,
        "Give a benchmark, or enter actuals, to check the target against.",
    )
    assert check(reaches_kgi=False)["R"] == (False, "Connect the KPI to a KGI.")
    assert check(targets=months(4))["T"] == (
        False,
        "Set a target for every month of the plan (4 of 6).",
    )


def test_it_speaks_japanese() -> None:
    with translation.override("ja"):
        items = smart_check(
            name="架電数",
            definition="",
            unit="件",
            source="",
            benchmark=None,
            targets=[],
            actuals=[],
            reaches_kgi=True,
            plan_months=12,
        )
    assert [(i.letter, i.label, i.ok) for i in items][:2] == [
        ("S", "具体的（Specific）", False),
        ("M", "測定可能（Measurable）", False),
    ]
    assert items[1].missing == "実績のデータソースを設定してください。"


def test_measurable_knows_who_enters_the_actuals_or_what_computes_them() -> None:
    # "Entered by people" (source "") names no one, unless the KPI has an owner who enters it.
    assert check(source="")["M"] == (False, "Add the source of the actuals.")
    assert check(source="", entered_by="営業部")["M"] == (True, "")
    assert check(source="", computed=True)["M"] == (True, "")
    assert check(unit="", entered_by="営業部")["M"] == (False, "Add a unit.")


def test_achievable_follows_the_target_band_setting() -> None:
    assert check(benchmark=125.0)["A"] == (True, "")  # target 100: 20 % below 125
    assert check(benchmark=125.0, far=0.1)["A"] == (
        False,
        "The target is far from both the benchmark and the recent actuals.",
    )
