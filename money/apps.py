from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MoneyConfig(AppConfig):
    """Money (issue 14): the cost and return of each engagement (ROI, CPA), the SLA and incentive
    rules that turn achievement into a bonus or a credit, and the monthly statements both sides
    agree. It reads kpitree's rollups and listens to what portal and kpitree announce; pdca and
    the wiring sit above it."""

    name = "money"
    verbose_name = _("Money")

    def ready(self) -> None:
        from money import receivers  # noqa: F401 - subscribes to portal.events and kpitree.events
