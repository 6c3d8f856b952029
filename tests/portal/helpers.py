"""Helpers of the vendor portal tests; the fixtures `frozen_now` and `plan` (tests/portal/conftest.py)
build on them.

The tree FY2026 (April 2026 – March 2027):
    new_customers (KGI, in-house, sum)
    ├── orders (CALL-1, formula calls * appt_rate / 100)
    │   ├── calls (CALL-1, input, 件)
    │   └── appt_rate (CALL-1, input, %)
    ├── ads_cv (ADS-1 of the other vendor, input)
    └── inhouse (no engagement, input)
    proposals (CALL-1, fed by proposal_count), adoption (CALL-1, fed by proposal_adoption)
Time is frozen on 3 November 2026, 10:00 in Tokyo: October is the month being reported
(CALL-1 is due on the 10th).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from engagements.models import User
from kpitree import services as tree_services
from kpitree.models import Node, Tree

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = dt.datetime(2026, 11, 3, 10, 0, tzinfo=TOKYO)
OCT, NOV_FIRST = dt.date(2026, 10, 1), dt.date(2026, 11, 1)


def add_node(user: User, tree: Tree, code: str, **data) -> Node:
    return tree_services.node_save(
        user=user, node=Node(tree=tree), data={"code": code, "name": code, **data}
    )


def month_rows(period: str = "2026-10", calls=3000, appt_rate=10, comment: str = "") -> list[dict]:
    return [
        {"tree": "FY2026", "node": "calls", "period": period, "value": calls, "comment": comment},
        {
            "tree": "FY2026",
            "node": "appt_rate",
            "period": period,
            "value": appt_rate,
            "comment": "",
        },
    ]
