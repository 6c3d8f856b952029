from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScorecardConfig(AppConfig):
    name = "scorecard"
    verbose_name = _("Scorecards")

    def ready(self) -> None:
        from scorecard import receivers  # noqa: F401 - subscribes to kpitree.events
