from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language as django_set_language

from engagements import services
from engagements.models import Language
from kpi_planner.access import engagements_for, role_of, vendors_for


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    engagements = engagements_for(request.user).order_by("vendor__code", "code")
    ctx = {
        "role": role_of(request.user),
        "engagements": engagements,
        "vendor_count": vendors_for(request.user).count(),
    }
    return render(request, "home.html", ctx)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the language and, for a logged-in user, remember it on the user."""
    language = request.POST.get("language", "")
    if language not in Language.values:
        nxt = request.POST.get("next", "/")
        if not url_has_allowed_host_and_scheme(nxt, {request.get_host()}):
            nxt = "/"
        return HttpResponseRedirect(nxt)
    if request.user.is_authenticated and request.user.language != language:
        services.user_preferences_update(user=request.user, data={"language": language})
    return django_set_language(request)
