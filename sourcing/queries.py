"""Reads of the sourcing pages and API: the yardsticks from past engagements, and a round's
comparison (sourcing.compare) built from its rows."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from kpitree.models import Actual
from sourcing import compare
from sourcing.models import Tender, TenderKpi, VendorProposal


def past_medians(outsourcing_type: str, codes: Iterable[str]) -> dict[str, tuple[float, int]]:
    """For each catalogue code, the median of the monthly actuals of the KPIs made from it
    (Node.template_code) in engagements of `outsourcing_type`, and how many actuals it is of.
    Archived nodes and trees are left out; a code with no actual is absent."""
    codes = list(codes)
    if not codes:
        return {}
    rows = Actual.objects.filter(
        node__template_code__in=codes,
        node__archived_at__isnull=True,
        node__tree__archived_at__isnull=True,
        node__engagement__outsourcing_type=outsourcing_type,
    ).values_list("node__template_code", "value")
    values: dict[str, list[float]] = defaultdict(list)
    for code, value in rows:
        values[code].append(value)
    return {code: (float(statistics.median(v)), len(v)) for code, v in values.items()}


@dataclass
class Comparison:
    """A round's comparison: its KPIs with their yardsticks, the active proposals ranked best
    first, and the withdrawn ones (not ranked)."""

    tender: Tender
    kpis: list[compare.KpiSpec]
    ranked: list[compare.Ranked]
    proposals: dict[int, VendorProposal]
    withdrawn: list[VendorProposal]

    @property
    def outcome(self) -> compare.KpiSpec | None:
        return next((k for k in self.kpis if k.code == self.tender.outcome_code), None)


def kpi_specs(tender: Tender, kpis: list[TenderKpi]) -> list[compare.KpiSpec]:
    medians = past_medians(tender.outsourcing_type, [k.template_code for k in kpis])
    return [
        compare.KpiSpec(
            code=k.template_code,
            name=k.name,
            unit=k.unit,
            direction=k.direction,
            benchmark=k.benchmark,
            past_median=medians.get(k.template_code, (None, 0))[0],
            past_months=medians.get(k.template_code, (None, 0))[1],
        )
        for k in kpis
    ]


def comparison(tender: Tender) -> Comparison:
    """The round's proposals compared and ranked (three queries and the actuals' one)."""
    kpis = list(tender.kpis.all())
    proposals = list(
        VendorProposal.objects.filter(tender=tender)
        .select_related("vendor")
        .prefetch_related("promises__tender_kpi")
        .order_by("pk")
    )
    active = [p for p in proposals if p.is_active]
    specs = kpi_specs(tender, kpis)
    ranked = compare.rank(
        specs,
        tender.outcome_code,
        [
            compare.ProposalInput(
                id=p.pk,
                vendor=p.vendor.name,
                price=p.monthly_price,
                promises={pr.tender_kpi.template_code: pr.value for pr in p.promises.all()},
            )
            for p in active
        ],
    )
    return Comparison(
        tender=tender,
        kpis=specs,
        ranked=ranked,
        proposals={p.pk: p for p in proposals},
        withdrawn=[p for p in proposals if not p.is_active],
    )
