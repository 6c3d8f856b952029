"""Who may see and change what: the one place that scopes querysets by user.

Every view, API endpoint, export and task that acts for a user gets its querysets here.
Rules (API.md "Roles"):
- manager: everything, read and write (a Django superuser is a manager);
- supervisor: reads everything, writes nothing;
- vendor: only its own vendor, that vendor's engagements, the trees in which they own a node and
  the nodes they own; may write actuals of those nodes;
- viewer: read-only; scoped to a vendor when bound to one, otherwise global.
Objects outside a user's scope answer 404 (they are simply not in the queryset).

Every app asks this module, so it sits below all of them (the import contract in
`.importlinter`): it names the models it scopes by app label, as Django's own relations and
`get_user_model()` do, instead of importing the apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from kpi_planner.roles import Role

if TYPE_CHECKING:
    from django.http import HttpRequest

    from engagements.models import (
        ApiToken,
        Engagement,
        ImprovementProposal,
        Notification,
        User,
        Vendor,
    )
    from kpitree.models import ImportJob, Node, Tree
    from money.models import RuleSet, Statement
    from pdca.models import Action, Alert, Review

    AnyUser = User | AnonymousUser

    class AuthenticatedHttpRequest(HttpRequest):
        """The request of a view behind `login_required`: no anonymous user gets there."""

        user: User


def _model(label: str) -> Any:
    return apps.get_model(label)


def role_of(user: AnyUser) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    return user.effective_role


def _vendor_id(user: AnyUser) -> int | None:
    """The vendor a user belongs to; None for an anonymous user."""
    return None if isinstance(user, AnonymousUser) else user.vendor_id


def is_manager(user: AnyUser) -> bool:
    return role_of(user) == Role.MANAGER


def sees_everything(user: AnyUser) -> bool:
    """Managers, supervisors and viewers not bound to a vendor read across all vendors."""
    role = role_of(user)
    if role in (Role.MANAGER, Role.SUPERVISOR):
        return True
    return role == Role.VIEWER and _vendor_id(user) is None


def vendor_scope(user: AnyUser) -> int | None:
    """The vendor id a user is confined to, or None when not confined (or not logged in)."""
    if role_of(user) in (Role.VENDOR, Role.VIEWER) and not sees_everything(user):
        return _vendor_id(user)
    return None


def vendors_for(user: AnyUser) -> QuerySet[Vendor]:
    if sees_everything(user):
        return _model("engagements.Vendor").objects.all()
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return _model("engagements.Vendor").objects.none()
    return _model("engagements.Vendor").objects.filter(pk=vendor_id)


def engagements_for(user: AnyUser) -> QuerySet[Engagement]:
    qs = _model("engagements.Engagement").objects.select_related("vendor")
    if sees_everything(user):
        return qs
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return qs.none()
    return qs.filter(vendor_id=vendor_id)


def users_for(user: AnyUser) -> QuerySet[User]:
    if is_manager(user):
        return _model("engagements.User").objects.select_related("vendor")
    return _model("engagements.User").objects.none()


def can_manage(user: AnyUser) -> bool:
    """May create, change and delete plans, vendors, engagements, targets and users."""
    return is_manager(user)


def trees_for(user: AnyUser) -> QuerySet[Tree]:
    """The trees a user may see; archived trees are kept out of every page and API list."""
    active = _model("kpitree.Tree").objects.filter(archived_at__isnull=True)
    if sees_everything(user):
        return active
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return _model("kpitree.Tree").objects.none()
    return active.filter(
        pk__in=_model("kpitree.Node")
        .objects.filter(engagement__vendor_id=vendor_id)
        .values("tree_id")
    )


def nodes_for(user: AnyUser) -> QuerySet[Node]:
    qs = _model("kpitree.Node").objects.all()
    if sees_everything(user):
        return qs
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return qs.none()
    return qs.filter(engagement__vendor_id=vendor_id)


def can_write_actual(user: AnyUser, node: Node | None, engagement_vendor_id: int | None) -> bool:
    """Managers write any actual; a vendor user writes those of nodes its vendor owns.

    `engagement_vendor_id` is the vendor of the node's engagement (passed in so that bulk
    callers can check thousands of rows without a query each); the rule needs nothing else of
    `node`, so those callers pass None.
    """
    role = role_of(user)
    if role == Role.MANAGER:
        return True
    return (
        role == Role.VENDOR
        and engagement_vendor_id is not None
        and (engagement_vendor_id == _vendor_id(user))
    )


# -- vendor portal (issue 5) ----------------------------------------------------------------------


def can_report(user: AnyUser, engagement: Engagement) -> bool:
    """May save and submit an engagement's monthly actuals and proposals: the users of its
    vendor, and managers."""
    role = role_of(user)
    vendor_id = _vendor_id(user)
    return role == Role.MANAGER or (
        role == Role.VENDOR and vendor_id is not None and vendor_id == engagement.vendor_id
    )


def kgi_paths(user: AnyUser, nodes: list[Node]) -> dict[int, list[tuple[str, str]]]:
    """For each of `nodes` (taken from nodes_for(user)), its ancestors up to the KGI as
    (code, name), nearest first.

    A vendor may read the *names* of the in-house nodes above its own KPIs, never their values:
    the path says why a KPI matters. One query for all the trees involved.
    """
    visible = {n.pk for n in nodes_for(user).filter(pk__in=[n.pk for n in nodes])}
    tree_ids = {n.tree_id for n in nodes if n.pk in visible}
    rows = (
        _model("kpitree.Node")
        .objects.filter(tree_id__in=tree_ids)
        .values_list("id", "parent_id", "code", "name")
    )
    parent_of = {pk: (parent, code, name) for pk, parent, code, name in rows}
    paths: dict[int, list[tuple[str, str]]] = {}
    for node in nodes:
        if node.pk not in visible:
            continue
        path, seen, current = [], {node.pk}, parent_of.get(node.pk, (None, "", ""))[0]
        while current is not None and current not in seen and current in parent_of:
            seen.add(current)
            parent, code, name = parent_of[current]
            path.append((code, name))
            current = parent
        paths[node.pk] = path
    return paths


def proposals_for(user: AnyUser) -> QuerySet[ImprovementProposal]:
    """Improvement proposals of the engagements the user sees."""
    return _model("engagements.ImprovementProposal").objects.filter(
        engagement__in=engagements_for(user)
    )


def notifications_for(user: AnyUser) -> QuerySet[Notification]:
    """A user's own in-app notifications (nobody reads another's)."""
    notifications = _model("engagements.Notification").objects
    if role_of(user) is None:
        return notifications.none()
    return notifications.filter(recipient=user)


def api_tokens_for(user: AnyUser, owner: User | None = None) -> QuerySet[ApiToken]:
    """API tokens: a user sees (and revokes) their own, a manager anyone's. With `owner`, only
    that user's tokens, which is none when the viewer may not see them."""
    tokens = _model("engagements.ApiToken").objects
    if role_of(user) is None:
        return tokens.none()
    if owner is not None and owner.pk != user.pk and not is_manager(user):
        return tokens.none()
    visible = tokens.all() if is_manager(user) else tokens.filter(user_id=user.pk)
    return visible if owner is None else visible.filter(user_id=owner.pk)


def may_see_tokens_of(user: AnyUser, owner: User) -> bool:
    """Whether `user` may list `owner`'s tokens (the API answers 403 rather than an empty list,
    so a caller knows it asked for something it may not see)."""
    return role_of(user) is not None and (owner.pk == user.pk or is_manager(user))


def import_jobs_for(user: AnyUser) -> QuerySet[ImportJob]:
    """Background imports: a job is its sender's; managers see every job."""
    jobs = _model("kpitree.ImportJob").objects
    if role_of(user) is None:
        return jobs.none()
    return jobs.all() if is_manager(user) else jobs.filter(created_by_id=user.pk)


# -- the PDCA loop (issue 13) -----------------------------------------------------------------------


def reviews_for(user: AnyUser) -> QuerySet[Review]:
    """Review meetings of the engagements the user sees (a vendor reads its own engagements')."""
    return _model("pdca.Review").objects.filter(engagement__in=engagements_for(user))


def can_hold_review(user: AnyUser) -> bool:
    """May record a review, its findings and decisions, and apply them: managers."""
    return is_manager(user)


def actions_for(user: AnyUser) -> QuerySet[Action]:
    """Tracked actions of the engagements the user sees."""
    return _model("pdca.Action").objects.filter(engagement__in=engagements_for(user))


def can_act_on(user: AnyUser, engagement: Engagement) -> bool:
    """May open a corrective action on an engagement's KPI, change it and close it: managers and
    the users of the engagement's vendor (the same people who report its actuals)."""
    return can_report(user, engagement)


def action_owners(engagement: Engagement) -> QuerySet[User]:
    """Who may own an engagement's action (the people of can_act_on): active managers and the
    active users of the engagement's vendor."""
    from django.db.models import Q

    return (
        _model("engagements.User")
        .objects.filter(is_active=True)
        .filter(
            Q(role=Role.MANAGER)
            | Q(is_superuser=True)
            | Q(role=Role.VENDOR, vendor_id=engagement.vendor_id)
        )
        .order_by("username")
    )


def alerts_for(user: AnyUser) -> QuerySet[Alert]:
    """Alerts on the KPIs the user sees."""
    return _model("pdca.Alert").objects.filter(node__in=nodes_for(user))


# -- money (issue 14) -------------------------------------------------------------------------------


def statements_for(user: AnyUser) -> QuerySet[Statement]:
    """Monthly statements of the engagements the user sees (a vendor sees its own)."""
    return _model("money.Statement").objects.filter(engagement__in=engagements_for(user))


def rule_sets_for(user: AnyUser) -> QuerySet[RuleSet]:
    """SLA rule sets: the adopted ones of the engagements the user sees (the vendor agreed to
    them); drafts only for those who read across vendors (managers, supervisors, global viewers)."""
    qs = _model("money.RuleSet").objects.filter(engagement__in=engagements_for(user))
    return qs if sees_everything(user) else qs.filter(status="adopted")


def can_answer_statement(user: AnyUser, engagement: Engagement) -> bool:
    """May accept a statement or dispute its lines: the users of the engagement's vendor."""
    vendor_id = _vendor_id(user)
    return (
        role_of(user) == Role.VENDOR and vendor_id is not None and vendor_id == engagement.vendor_id
    )


def tenders_for(user: AnyUser) -> QuerySet:
    """Sourcing rounds (相見積もり) and their proposals: read by those who read across vendors
    (managers, supervisors, global viewers); a vendor, or a viewer bound to one, sees none (a
    candidate must not see its competitors' prices)."""
    qs = _model("sourcing.Tender").objects.all()
    return qs if sees_everything(user) else qs.none()


# -- looking up what a user typed (access audit) ----------------------------------------------------


def _can_match(lookups: dict) -> bool:
    """False when a looked-up text holds a NUL byte: no code has one, and PostgreSQL refuses
    such a parameter with an error (a 500) instead of finding nothing."""
    return not any(isinstance(v, str) and "\x00" in v for v in lookups.values())


def get_visible_or_404(queryset: QuerySet, **lookups):
    """The object of `queryset` (taken from one of the functions above) matching `lookups`,
    which come from a URL or a form: Http404 when it is hidden, unknown or impossible, so the
    three cannot be told apart."""
    from django.http import Http404
    from django.shortcuts import get_object_or_404

    if not _can_match(lookups):
        raise Http404
    return get_object_or_404(queryset, **lookups)


def first_visible(queryset: QuerySet, **lookups):
    """Like get_visible_or_404 for an optional choice (a parent typed into a form): the first
    match, or None."""
    if not _can_match(lookups):
        return None
    return queryset.filter(**lookups).first()
