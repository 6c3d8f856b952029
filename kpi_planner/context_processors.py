from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from engagements.models import Role
from kpi_planner.access import role_of
from portal.notifications import unread_count


def navigation(request: HttpRequest) -> dict:
    """The navigation entries for the user's role: each one a page that exists."""
    role = role_of(request.user)
    if role is None:
        return {"nav_items": [], "user_role": None}
    items = [("home", _("Home"), reverse("home"))]
    if role == Role.VENDOR:
        items.append(("portal", _("Monthly reports"), reverse("portal:home")))
    items.append(("scorecards", _("Scorecards"), reverse("scorecard:overview")))
    if role != Role.VENDOR:
        items.append(("trees", _("KPI trees"), reverse("kpitree:tree_list")))
    if role == Role.MANAGER:
        items.append(("submissions", _("Approvals"), reverse("portal:submissions")))
    items.append(("engagements", _("Engagements"), reverse("engagements:list")))
    if role in (Role.MANAGER, Role.SUPERVISOR):
        items.append(("vendors", _("Vendors"), reverse("engagements:vendors")))
        items.append(("sourcing", _("Vendor selection"), reverse("sourcing:list")))
        items.append(("api", _("API"), reverse("swagger-ui")))
    if role == Role.MANAGER:
        items.append(("admin", _("Administration"), reverse("admin:index")))
    return {
        "nav_items": items,
        "user_role": role,
        "unread_notifications": unread_count(request.user),
        "notifications_url": reverse("portal:notifications"),
    }
