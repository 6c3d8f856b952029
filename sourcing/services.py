"""Every write of sourcing: open a round, save or withdraw a proposal, choose one. Managers only.

Functions take keyword arguments and run in one transaction; a refusal raises
kpi_planner.errors.ServiceError with every problem found (translated, each naming its field),
and nothing is written.

Choosing a proposal (`tender_choose`) makes, through the owning apps' services:
1. the engagement with the chosen vendor (engagements.services.engagement_create): the round's
   outsourcing type and months, the proposal's price as the monthly fee;
2. a KPI tree of the same code and name (kpitree.services.tree_create) whose KGI is the
   round's outcome KPI and whose KPIs are the other compared KPIs (node_save), each owned by
   the engagement and keeping its catalogue code, unit, direction and benchmark;
3. a monthly target for every KPI and month of the round, the promised value, with the
   rationale "agreement" (kpitree.services.targets_record);
4. an SLA rule set on the outcome KPI, adopted from the first month (money.services
   rule_set_save + rule_set_adopt), with `DEFAULT_BANDS` unless other bands are given.
Any refusal on the way rolls all of it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from engagements import services as engagement_services
from engagements.models import Engagement, OutsourcingType, Phase, User, Vendor
from kpi_planner.access import can_manage
from kpi_planner.codes import is_code
from kpi_planner.errors import Problem, ServiceError, problems_of
from kpi_planner.months import month_range, month_text, parse_month
from kpi_planner.numbers import parse_number
from kpitree import services as tree_services
from kpitree.catalogue import KpiTemplate
from kpitree.models import Channel, Node, Rationale, Tree
from money import services as money_services
from sourcing.models import Promise, Tender, TenderKpi, VendorProposal

MAX_KPIS = 20
MAX_PRICE = 10**12  # a monthly price of a trillion yen is a typing mistake
MAX_TEXT = 2000
# The SLA bands a chosen proposal starts with, on the outcome KPI's monthly achievement:
# ≥ 110 % +5 % of the fee, 90–100 % −3 %, below 90 % −8 % (100–110 %: no adjustment).
# The units of an outcome that counts what was acquired (orders, customers, contracts).
COUNT_UNITS = frozenset({"件", "社", "人", "名"})
DEFAULT_BANDS: list[dict[str, Any]] = [
    {"lower": 110, "upper": None, "pct_of_fee": 5},
    {"lower": 90, "upper": 100, "pct_of_fee": -3},
    {"lower": None, "upper": 90, "pct_of_fee": -8},
]


def forbidden() -> ServiceError:
    return ServiceError([Problem(_("Only managers run vendor selection."), code="forbidden")])


def _text(value: Any, field: str, problems: list[Problem], *, required: str | None = None) -> str:
    """Text as typed, stripped; a problem when it is not text, too long, has a NUL or is
    missing (`required`: the message for a missing one)."""
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value or len(value) > MAX_TEXT:
        problems.append(Problem(_("Enter text of at most 2,000 characters."), field=field))
        return ""
    value = value.strip()
    if required and not value:
        problems.append(Problem(required, field=field))
    return value


def _month(value: Any, field: str, problems: list[Problem]) -> dt.date | None:
    month = value if isinstance(value, dt.date) else parse_month(value)
    if month is None:
        problems.append(Problem(_("Enter the month as YYYY-MM."), field=field))
        return None
    return month.replace(day=1)


def _open_tender(tender: Tender) -> Tender:
    """The round, locked for the write; refused when it is already decided."""
    tender = Tender.objects.select_for_update().get(pk=tender.pk)
    if tender.status != Tender.Status.OPEN:
        raise ServiceError(
            [Problem(_("This round is decided; its proposals no longer change."), code="conflict")]
        )
    return tender


# -- rounds ---------------------------------------------------------------------------------------


def _catalogue_kpis(codes: Any, outcome: Any, problems: list[Problem]) -> list[KpiTemplate]:
    """The outcome KPI first, then the other KPIs named, once each, from the catalogue."""
    if codes in (None, ""):
        codes = []
    if isinstance(codes, str):
        codes = [c for c in codes.replace(",", " ").split()]
    if not isinstance(codes, list | tuple) or not all(isinstance(c, str) for c in codes):
        problems.append(Problem(_("Send the KPIs as a list of catalogue codes."), field="kpis"))
        return []
    if not isinstance(outcome, str) or not outcome.strip():
        problems.append(Problem(_("Choose the outcome KPI."), field="outcome_code"))
        return []
    wanted = list(dict.fromkeys([outcome.strip(), *(c.strip() for c in codes if c.strip())]))
    if len(wanted) > MAX_KPIS:
        problems.append(Problem(_("Compare at most 20 KPIs."), field="kpis"))
        return []
    found = {
        k.code: k for k in KpiTemplate.objects.filter(code__in=[c for c in wanted if is_code(c)])
    }
    for i, code in enumerate(wanted):
        if code not in found:
            problems.append(
                Problem(
                    _("“%(code)s” is not a KPI of the catalogue.") % {"code": code},
                    field="outcome_code" if i == 0 else "kpis",
                )
            )
    return [found[c] for c in wanted if c in found]


@transaction.atomic
def tender_create(*, user: User, data: Mapping[str, Any]) -> Tender:
    """Open a round. `data`: name, outsourcing_type, start_month and end_month (YYYY-MM),
    outcome_code (a catalogue code), kpis (other catalogue codes: a list, or text separated by
    spaces or commas), note. The KPIs are copied from the catalogue with their benchmark."""
    if not can_manage(user):
        raise forbidden()
    problems: list[Problem] = []
    name = _text(data.get("name"), "name", problems, required=_("Name the round."))
    if len(name) > 200:
        problems.append(Problem(_("Keep the name to 200 characters."), field="name"))
    kind = data.get("outsourcing_type")
    if kind not in OutsourcingType.values:
        problems.append(Problem(_("Choose an outsourcing type."), field="outsourcing_type"))
    start = _month(data.get("start_month"), "start_month", problems)
    end = _month(data.get("end_month"), "end_month", problems)
    if start and end and end < start:
        problems.append(Problem(_("The end month is before the start month."), field="end_month"))
    if start and end and len(month_range(start, end)) > 60:
        problems.append(Problem(_("A round covers at most 60 months."), field="end_month"))
    note = _text(data.get("note"), "note", problems)
    kpis = _catalogue_kpis(data.get("kpis"), data.get("outcome_code"), problems)
    if problems:
        raise ServiceError(problems)
    assert start is not None and end is not None and isinstance(kind, str)
    tender = Tender.objects.create(
        name=name,
        outsourcing_type=kind,
        start_month=start,
        end_month=end,
        outcome_code=kpis[0].code,
        note=note,
        created_by=user,
    )
    TenderKpi.objects.bulk_create(
        TenderKpi(
            tender=tender,
            template_code=k.code,
            name_ja=k.name_ja,
            name_en=k.name_en,
            unit=k.unit,
            direction=k.direction,
            benchmark=k.benchmark,
            benchmark_source=k.benchmark_source,
            position=i,
        )
        for i, k in enumerate(kpis)
    )
    return tender


# -- proposals ------------------------------------------------------------------------------------


def _price(value: Any, problems: list[Problem]) -> int | None:
    number = parse_number(value)
    if number is None or number <= 0 or number != int(number) or number >= MAX_PRICE:
        problems.append(
            Problem(
                _("Enter the monthly price as a whole number of yen above zero."),
                field="monthly_price",
            )
        )
        return None
    return int(number)


def _promises(tender: Tender, raw: Any, problems: list[Problem]) -> list[tuple[TenderKpi, float]]:
    """A value for every KPI of the round. `raw`: {code: value}, or [{"kpi", "value"}]."""
    if isinstance(raw, list | tuple) and all(isinstance(r, Mapping) for r in raw):
        raw = {r.get("kpi"): r.get("value") for r in raw}
    if not isinstance(raw, Mapping):
        problems.append(Problem(_("Send the promises as KPI code and value."), field="promises"))
        return []
    kpis = list(tender.kpis.all())
    known = {k.template_code for k in kpis}
    for code in raw:
        if code not in known:
            problems.append(
                Problem(
                    _("“%(code)s” is not a KPI of this round.") % {"code": str(code)[:64]},
                    field="promises",
                )
            )
    out = []
    for kpi in kpis:
        field = f"promises.{kpi.template_code}"
        value = parse_number(raw.get(kpi.template_code))
        if value is None:
            problems.append(
                Problem(_("Enter the promised monthly %(kpi)s.") % {"kpi": kpi.name}, field=field)
            )
        elif value < 0 or abs(value) >= 1e15:
            problems.append(
                Problem(
                    _("The promise for %(kpi)s cannot be negative.") % {"kpi": kpi.name},
                    field=field,
                )
            )
        else:
            out.append((kpi, value))
    return out


def _free_vendor_code(name: str) -> str:
    base = (slugify(name) or "vendor")[:56]
    code, n = base, 1
    while Vendor.objects.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    return code


def _vendor(data: Mapping[str, Any], problems: list[Problem], user: User) -> Vendor | None:
    """The proposal's vendor: an existing one (a Vendor, its code or pk in `vendor`), or one
    named in `new_vendor_name` (an existing vendor of exactly that name, else a new vendor made
    through engagements.services.vendor_create, its code from `new_vendor_code` or the name)."""
    chosen, new_name = data.get("vendor"), data.get("new_vendor_name")
    if isinstance(chosen, Vendor):
        return chosen
    name = _text(new_name, "new_vendor_name", problems)
    if chosen not in (None, ""):
        if name:
            problems.append(
                Problem(_("Choose a vendor or name a new one, not both."), field="new_vendor_name")
            )
            return None
        key = str(chosen)
        vendor = (
            Vendor.objects.filter(code=key).first()
            if is_code(key) and not key.isdigit()
            else Vendor.objects.filter(pk=int(key)).first()
            if key.isdigit()
            else None
        )
        if vendor is None:
            problems.append(Problem(_("Choose a vendor."), field="vendor"))
        return vendor
    if not name:
        problems.append(Problem(_("Choose a vendor or name a new one."), field="vendor"))
        return None
    if len(name) > 200:
        problems.append(Problem(_("Keep the name to 200 characters."), field="new_vendor_name"))
        return None
    existing = Vendor.objects.filter(name=name).order_by("pk").first()
    if existing is not None:
        return existing
    code = _text(data.get("new_vendor_code"), "new_vendor_code", problems)
    if problems:
        return None
    try:
        return engagement_services.vendor_create(
            user=user, data={"code": code or _free_vendor_code(name), "name": name}
        )
    except ServiceError as exc:
        problems.extend(
            Problem(p.message, field="new_vendor_code" if p.field == "code" else "new_vendor_name")
            for p in exc.problems
        )
        return None


@transaction.atomic
def proposal_save(
    *,
    user: User,
    tender: Tender,
    data: Mapping[str, Any],
    proposal: VendorProposal | None = None,
) -> VendorProposal:
    """Add a candidate's proposal to an open round, or change one (its vendor stays). `data`:
    vendor (code, pk or Vendor) or new_vendor_name (and new_vendor_code), monthly_price (a whole
    number of yen above zero, as typed: 1,200,000円 is read), note, promises: {catalogue code:
    promised monthly value} for every KPI of the round."""
    if not can_manage(user):
        raise forbidden()
    tender = _open_tender(tender)
    problems: list[Problem] = []
    if proposal is not None:
        proposal = VendorProposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.tender_id != tender.pk or not proposal.is_active:
            raise ServiceError(
                [Problem(_("This proposal is withdrawn; add a new one."), code="conflict")]
            )
    price = _price(data.get("monthly_price"), problems)
    note = _text(data.get("note"), "note", problems)
    promises = _promises(tender, data.get("promises"), problems)
    vendor = proposal.vendor if proposal is not None else None
    if proposal is None and not problems:
        vendor = _vendor(data, problems, user)
    if (
        vendor is not None
        and proposal is None
        and VendorProposal.objects.filter(
            tender=tender, vendor=vendor, withdrawn_at__isnull=True
        ).exists()
    ):
        problems.append(
            Problem(
                _("%(vendor)s already has a proposal in this round; change that one.")
                % {"vendor": vendor.name},
                field="vendor",
                code="conflict",
            )
        )
    if problems:
        raise ServiceError(problems)
    assert price is not None and vendor is not None
    if proposal is None:
        proposal = VendorProposal.objects.create(
            tender=tender, vendor=vendor, monthly_price=price, note=note, created_by=user
        )
    else:
        proposal.monthly_price, proposal.note = price, note
        proposal.save(update_fields=["monthly_price", "note", "updated_at"])
    for kpi, value in promises:
        Promise.objects.update_or_create(
            proposal=proposal, tender_kpi=kpi, defaults={"value": value}
        )
    return proposal


@transaction.atomic
def proposal_withdraw(*, user: User, proposal: VendorProposal, reason: Any = "") -> VendorProposal:
    """Withdraw a proposal of an open round: kept, with who, when and why, and no longer
    ranked. Withdrawing it again changes nothing."""
    if not can_manage(user):
        raise forbidden()
    _open_tender(proposal.tender)
    problems: list[Problem] = []
    why = _text(reason, "reason", problems)
    if problems:
        raise ServiceError(problems)
    proposal = VendorProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.withdrawn_at is None:
        proposal.withdrawn_at, proposal.withdrawn_by = timezone.now(), user
        proposal.withdraw_reason = why
        proposal.save(update_fields=["withdrawn_at", "withdrawn_by", "withdraw_reason"])
    return proposal


# -- choosing ---------------------------------------------------------------------------------------


def _as_service_error(exc: ValidationError | ServiceError, field_of: Mapping[str, str]) -> NoReturn:
    """Raise a refusal of another app's service as ours, its fields named as our callers know
    them (`field_of`; a field not named there is the request as a whole)."""
    raise ServiceError(
        Problem(p.message, field=field_of.get(p.field or ""), code=p.code) for p in problems_of(exc)
    ) from None


def _manager(value: Any, problems: list[Problem]) -> User | None:
    if value in (None, ""):
        return None
    if isinstance(value, User):
        return value
    key = str(value)
    manager = (
        User.objects.filter(pk=int(key)).first()
        if key.isdigit()
        else User.objects.filter(username=key).first()
        if "\x00" not in key
        else None
    )
    if manager is None:
        problems.append(Problem(_("Choose a manager."), field="manager"))
    return manager


def _engagement(
    user: User, proposal: VendorProposal, tender: Tender, data: Mapping[str, Any]
) -> Engagement:
    problems: list[Problem] = []
    code = _text(data.get("code"), "code", problems, required=_("Give the engagement a code."))
    name = _text(data.get("name"), "name", problems) or tender.name
    phase = data.get("phase") or Phase.LAUNCH
    manager = _manager(data.get("manager"), problems)
    if code and Tree.objects.filter(code=code).exists():
        problems.append(
            Problem(_("A KPI tree already has this code; choose another."), field="code")
        )
    if problems:
        raise ServiceError(problems)
    return engagement_services.engagement_create(
        user=user,
        data={
            "code": code,
            "name": name[:200],
            "vendor": proposal.vendor,
            "outsourcing_type": tender.outsourcing_type,
            "phase": phase,
            "start_month": tender.start_month,
            "end_month": tender.end_month,
            "monthly_fee": proposal.monthly_price,
            "manager": manager,
        },
    )


def _node_code(template_code: str) -> str:
    return template_code.replace(".", "_")[:64]


def _tree(user: User, engagement: Engagement, kpis: Sequence[TenderKpi]) -> dict[int, Node]:
    """The engagement's KPI tree: the outcome KPI (first) as the KGI, the others under it."""
    tree = tree_services.tree_create(
        user=user,
        data={
            "code": engagement.code,
            "name": engagement.name,
            "start_month": engagement.start_month,
            "end_month": engagement.end_month,
        },
    )
    nodes: dict[int, Node] = {}
    root: Node | None = None
    for kpi in kpis:
        node = tree_services.node_save(
            user=user,
            node=Node(tree=tree),
            data={
                "code": _node_code(kpi.template_code),
                "name": kpi.name[:200],
                "kind": "kgi" if root is None else "kpi",
                "parent": root,
                "engagement": engagement,
                "unit": kpi.unit,
                "direction": kpi.direction,
                "benchmark": kpi.benchmark,
                "benchmark_source": kpi.benchmark_source,
                "template_code": kpi.template_code,
            },
        )
        root = root or node
        nodes[kpi.pk] = node
    return nodes


@transaction.atomic
def tender_choose(
    *,
    user: User,
    proposal: VendorProposal,
    data: Mapping[str, Any],
    channel: str = Channel.WEB,
) -> Tender:
    """Choose a proposal of an open round: the engagement, its KPI tree, targets (rationale
    "agreement") and adopted SLA rules are made from it (see the module), and the round is
    decided. `data`: code (of the engagement and its tree), name (default: the round's),
    manager (username, pk or User; optional), phase (default "launch"), bands (the outcome
    rule's bands, as money.services.rule_set_save takes them; default DEFAULT_BANDS)."""
    if not can_manage(user):
        raise forbidden()
    tender = _open_tender(proposal.tender)
    proposal = VendorProposal.objects.select_related("vendor").get(pk=proposal.pk)
    if not proposal.is_active:
        raise ServiceError(
            [Problem(_("This proposal is withdrawn; choose another."), code="conflict")]
        )
    kpis = list(tender.kpis.all())
    promised = {p.tender_kpi_id: p.value for p in proposal.promises.all()}
    engagement_fields = {f: f for f in ("code", "name", "manager", "phase")}
    engagement = _engagement(user, proposal, tender, data)
    try:
        nodes = _tree(user, engagement, kpis)
    except ValidationError as exc:
        _as_service_error(exc, {"code": "code", "name": "name"})
    rows = [
        {
            "node": nodes[k.pk].code,
            "period": month_text(month),
            "value": promised[k.pk],
            "rationale": Rationale.AGREEMENT,
        }
        for k in kpis
        if k.pk in promised
        for month in month_range(tender.start_month, tender.end_month)
    ]
    tree = nodes[kpis[0].pk].tree
    tree_services.targets_record(user=user, tree=tree, rows=rows, channel=channel)
    bands = data.get("bands") or DEFAULT_BANDS
    try:
        rule_set = money_services.rule_set_save(
            user=user,
            engagement=engagement,
            data={
                "name": _("SLA agreed in %(round)s") % {"round": tender.name[:150]},
                "effective_from": engagement.start_month,
                "rules": [{"node": nodes[kpis[0].pk].pk, "bands": bands}],
            },
        )
    except ServiceError as exc:
        _as_service_error(exc, {**engagement_fields, **_band_fields(exc)})
    money_services.rule_set_adopt(user=user, rule_set=rule_set)
    if kpis[0].unit in COUNT_UNITS:  # an outcome counted in customers or orders: CPA's divisor
        money_services.money_settings_update(
            user=user, engagement=engagement, acquired_node=nodes[kpis[0].pk]
        )
    tender.status = Tender.Status.DECIDED
    tender.chosen, tender.engagement = proposal, engagement
    tender.decided_by, tender.decided_at = user, timezone.now()
    tender.save(update_fields=["status", "chosen", "engagement", "decided_by", "decided_at"])
    return tender


def _band_fields(exc: ServiceError) -> dict[str, str]:
    """money's band problems (rules[0].bands…) are about our `bands`."""
    return {
        p.field: "bands" for p in exc.problems if p.field and p.field.startswith("rules[0].bands")
    }
