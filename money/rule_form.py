"""The rule-set editor's grid: a rule set's fields, up to RULES rules of BANDS bands each, read
from a saved set or from what was posted, turned into the data `rule_set_save` takes, and the
service's problems put back beside the rule or band they name."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from kpi_planner.errors import Problem
from kpi_planner.months import month_text
from kpitree.models import Node
from money.models import RuleSet

RULES = 4
BANDS = 5
HEAD = ("name", "effective_from", "cap_pct", "earn_back_months", "note")
_RULE_FIELD = re.compile(r"^rules\[(\d+)\]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "normalize"):  # a Decimal: 110.00 → 110
        return f"{value.normalize():f}"
    if isinstance(value, float):  # a minimum volume: 4000.0 → 4000
        return f"{Decimal(repr(value)).normalize():f}"
    return str(value)


@dataclass
class RuleRow:
    index: int
    node: str = ""
    min_volume_node: str = ""
    min_volume: str = ""
    bands: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class RuleSetGrid:
    def __init__(
        self, kpis: QuerySet[Node], rule_set: RuleSet | None, post: Mapping[str, Any] | None
    ) -> None:
        self.kpis = list(kpis)
        self.head: dict[str, str] = dict.fromkeys(HEAD, "")
        self.head_errors: dict[str, list[str]] = defaultdict(list)
        self.errors: list[str] = []
        self.rows = [RuleRow(index=i) for i in range(RULES)]
        if post is not None:
            self._from_post(post)
        elif rule_set is not None:
            self._from_rule_set(rule_set)
        for row in self.rows:
            row.bands += [{"lower": "", "upper": "", "pct_of_fee": ""}] * (BANDS - len(row.bands))

    def _from_rule_set(self, rs: RuleSet) -> None:
        self.head.update(
            name=rs.name,
            effective_from=month_text(rs.effective_from),
            cap_pct=_text(rs.cap_pct),
            earn_back_months=str(rs.earn_back_months),
            note=rs.note,
        )
        for row, rule in zip(self.rows, rs.rules.all(), strict=False):
            row.node, row.min_volume_node = str(rule.node_id), _text(rule.min_volume_node_id)
            row.min_volume = _text(rule.min_volume)
            row.bands = [
                {
                    "lower": _text(b.lower),
                    "upper": _text(b.upper),
                    "pct_of_fee": _text(b.pct_of_fee),
                }
                for b in rule.bands.all()
            ]

    def _from_post(self, post: Mapping[str, Any]) -> None:
        for name in HEAD:
            self.head[name] = str(post.get(name, "")).strip()
        for row in self.rows:
            i = row.index
            row.node = str(post.get(f"r{i}-node", "")).strip()
            row.min_volume_node = str(post.get(f"r{i}-min_volume_node", "")).strip()
            row.min_volume = str(post.get(f"r{i}-min_volume", "")).strip()
            row.bands = [
                {
                    key: str(post.get(f"r{i}-b{j}-{key}", "")).strip()
                    for key in ("lower", "upper", "pct_of_fee")
                }
                for j in range(BANDS)
            ]

    def data(self) -> dict[str, Any]:
        """What rule_set_save takes: the rules with a KPI, the bands with anything typed."""
        rules = []
        self._sent: list[int] = []
        for row in self.rows:
            if not row.node:
                continue
            self._sent.append(row.index)
            rules.append(
                {
                    "node": row.node,
                    "min_volume_node": row.min_volume_node or None,
                    "min_volume": row.min_volume or None,
                    "bands": [
                        {k: (v or None) for k, v in b.items()} for b in row.bands if any(b.values())
                    ],
                }
            )
        return {**self.head, "earn_back_months": self.head["earn_back_months"] or 0, "rules": rules}

    def add_problems(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            match = _RULE_FIELD.match(p.field or "")
            if match and int(match.group(1)) < len(self._sent):
                self.rows[self._sent[int(match.group(1))]].errors.append(p.message)
            elif p.field in HEAD:
                self.head_errors[str(p.field)].append(p.message)
            else:
                self.errors.append(p.message)
