"""Files: an engagement's monthly report as Excel or PDF (`scorecard:report`) and plotly.js served
from the installed plotly package (`scorecard:plotly_js`).
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import plotly
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from kpi_planner.access import engagements_for, get_visible_or_404, nodes_for
from scorecard import reports
from scorecard.views._common import _month

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@login_required
@require_GET
def report(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    eng = get_visible_or_404(
        engagements_for(request.user).select_related("scoring", "vendor"), code=code
    )
    month, _bad = _month(request, nodes_for(request.user).filter(engagement=eng))
    language = getattr(request, "LANGUAGE_CODE", "ja")
    if fmt == "xlsx":
        name, content, mimetype = reports.excel_report(eng, month, language)
    elif fmt == "pdf":
        name, content, mimetype = reports.pdf_report(eng, month, language)
    else:
        raise Http404
    response = HttpResponse(content, content_type=mimetype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@functools.cache
def _plotly_gzip() -> bytes:
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=6, mtime=0)


@require_GET
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """plotly.js from the installed plotly package (no CDN): the URL carries the version, so it
    is cached for a year; gzip when the browser accepts it."""
    if version != plotly.__version__:
        raise Http404
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(_plotly_gzip(), content_type="text/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(
            PLOTLY_JS.read_bytes(), content_type="text/javascript; charset=utf-8"
        )
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Vary"] = "Accept-Encoding"
    return response
