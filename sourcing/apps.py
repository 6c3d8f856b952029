from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SourcingConfig(AppConfig):
    """Choosing a vendor (相見積もり, issue 14): candidate vendors' proposals for the same KPIs,
    compared side by side and ranked; the chosen one becomes the engagement with its KPIs,
    targets and SLA rules (through money's and kpitree's services)."""

    name = "sourcing"
    verbose_name = _("Vendor selection")
