from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The vendor portal: monthly entry, uploads, submissions and approval, reminders and
    notifications. Its models stay in `engagements` (where their migrations are); it sits above
    `kpitree` and `scorecard` and listens to what they announce (`kpitree.events`)."""

    name = "portal"
    verbose_name = _("Vendor portal")

    def ready(self) -> None:
        from portal import receivers  # noqa: F401 - subscribes to kpitree.events
