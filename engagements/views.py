from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from engagements.models import OutsourcingType, Phase
from kpi_planner.access import engagements_for, get_visible_or_404, sees_everything, vendors_for


@login_required
@require_GET
def engagement_list(request: HttpRequest) -> HttpResponse:
    qs = engagements_for(request.user).order_by("vendor__code", "code")
    otype = request.GET.get("type", "")
    phase = request.GET.get("phase", "")
    if otype in OutsourcingType.values:
        qs = qs.filter(outsourcing_type=otype)
    if phase in Phase.values:
        qs = qs.filter(phase=phase)
    ctx = {
        "engagements": qs,
        "types": OutsourcingType.choices,
        "phases": Phase.choices,
        "selected_type": otype,
        "selected_phase": phase,
    }
    return render(request, "engagements/engagement_list.html", ctx)


@login_required
@require_GET
def engagement_detail(request: HttpRequest, code: str) -> HttpResponse:
    engagement = get_visible_or_404(engagements_for(request.user), code=code)
    return render(request, "engagements/engagement_detail.html", {"engagement": engagement})


@login_required
@require_GET
def vendor_list(request: HttpRequest) -> HttpResponse:
    if not sees_everything(request.user):
        raise PermissionDenied
    vendors = vendors_for(request.user).annotate(n_engagements=Count("engagements"))
    return render(request, "engagements/vendor_list.html", {"vendors": vendors})
