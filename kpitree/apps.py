from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpitreeConfig(AppConfig):
    name = "kpitree"
    verbose_name = _("KPI trees")
