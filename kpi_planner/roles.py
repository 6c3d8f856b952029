"""The roles a user can have (API.md "Roles"); what each may do is decided in `access`."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MANAGER = "manager", _("Manager")
    SUPERVISOR = "supervisor", _("Supervisor")
    VENDOR = "vendor", _("Vendor")
    VIEWER = "viewer", _("Viewer")
