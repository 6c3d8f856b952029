from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PdcaConfig(AppConfig):
    """The PDCA loop: review meetings and their decisions, corrective actions (and a review's
    action items), and alerts when a KPI goes off track. The top app: it reads kpitree, scorecard
    and portal and listens to what they announce; the pages below it show its records through
    its template tags (`{% load pdca %}`), never by importing it."""

    name = "pdca"
    verbose_name = _("Reviews and actions")

    def ready(self) -> None:
        from pdca import receivers  # noqa: F401 - subscribes to kpitree.events and engagements'
