"""Who may see and change what: the one place that scopes querysets by user.

Every view, API endpoint, export and task that acts for a user gets its querysets here.
Rules (API.md "Roles"):
- manager: everything, read and write (a Django superuser is a manager);
- supervisor: reads everything, writes nothing;
- vendor: only its own vendor, that vendor's engagements, the trees in which they own a node and
  the nodes they own; may write actuals of those nodes;
- viewer: read-only; scoped to a vendor when bound to one, otherwise global.
Objects outside a user's scope answer 404 (they are simply not in the queryset).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from engagements.models import Engagement, Role, User, Vendor
from kpitree.models import Node, Tree

AnyUser = User | AnonymousUser


def role_of(user: AnyUser) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    return user.effective_role


def is_manager(user: AnyUser) -> bool:
    return role_of(user) == Role.MANAGER


def sees_everything(user: AnyUser) -> bool:
    """Managers, supervisors and viewers not bound to a vendor read across all vendors."""
    role = role_of(user)
    if role in (Role.MANAGER, Role.SUPERVISOR):
        return True
    return role == Role.VIEWER and user.vendor_id is None


def vendor_scope(user: AnyUser) -> int | None:
    """The vendor id a user is confined to, or None when not confined (or not logged in)."""
    if role_of(user) in (Role.VENDOR, Role.VIEWER) and not sees_everything(user):
        return user.vendor_id
    return None


def vendors_for(user: AnyUser) -> QuerySet[Vendor]:
    if sees_everything(user):
        return Vendor.objects.all()
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return Vendor.objects.none()
    return Vendor.objects.filter(pk=vendor_id)


def engagements_for(user: AnyUser) -> QuerySet[Engagement]:
    qs = Engagement.objects.select_related("vendor")
    if sees_everything(user):
        return qs
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return qs.none()
    return qs.filter(vendor_id=vendor_id)


def users_for(user: AnyUser) -> QuerySet[User]:
    if is_manager(user):
        return User.objects.select_related("vendor")
    return User.objects.none()


def can_manage(user: AnyUser) -> bool:
    """May create, change and delete plans, vendors, engagements, targets and users."""
    return is_manager(user)


def trees_for(user: AnyUser) -> QuerySet[Tree]:
    if sees_everything(user):
        return Tree.objects.all()
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return Tree.objects.none()
    return Tree.objects.filter(
        pk__in=Node.objects.filter(engagement__vendor_id=vendor_id).values("tree_id")
    )


def nodes_for(user: AnyUser) -> QuerySet[Node]:
    qs = Node.objects.all()
    if sees_everything(user):
        return qs
    vendor_id = vendor_scope(user)
    if vendor_id is None:
        return qs.none()
    return qs.filter(engagement__vendor_id=vendor_id)


def can_write_actual(user: AnyUser, node: Node, engagement_vendor_id: int | None) -> bool:
    """Managers write any actual; a vendor user writes those of nodes its vendor owns.

    `engagement_vendor_id` is the vendor of the node's engagement (passed in so that bulk
    callers can check thousands of rows without a query each).
    """
    role = role_of(user)
    if role == Role.MANAGER:
        return True
    return (
        role == Role.VENDOR
        and engagement_vendor_id is not None
        and (engagement_vendor_id == user.vendor_id)
    )
