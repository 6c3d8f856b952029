from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from engagements.models import Role
from kpi_planner.access import role_of


def navigation(request: HttpRequest) -> dict:
    """The navigation entries for the user's role: each one a page that exists."""
    role = role_of(request.user)
    if role is None:
        return {"nav_items": [], "user_role": None}
    items = [("home", _("Home"), reverse("home"))]
    items.append(("engagements", _("Engagements"), reverse("engagements:list")))
    if role in (Role.MANAGER, Role.SUPERVISOR):
        items.append(("vendors", _("Vendors"), reverse("engagements:vendors")))
        items.append(("api", _("API"), reverse("swagger-ui")))
    if role == Role.MANAGER:
        items.append(("admin", _("Administration"), reverse("admin:index")))
    return {"nav_items": items, "user_role": role}
