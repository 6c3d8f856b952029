"""Password rules of our own, listed in AUTH_PASSWORD_VALIDATORS beside Django's, so that every
channel that sets a password (the API and the admin through engagements.services, Django's
password-change form, `manage.py changepassword`) applies them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class PublishedPasswordValidator:
    """Refuses the passwords printed in the README (the demo accounts'), whatever their case.

    Only the demo seed (the system, engagements.services.SYSTEM) may set them."""

    def __init__(self, passwords: Iterable[str] = ()) -> None:
        self.passwords = {p.casefold() for p in passwords}

    def validate(self, password: str, user: Any = None) -> None:
        if password.casefold() in self.passwords:
            raise ValidationError(
                _("This password is published (the demo accounts use it); choose another."),
                code="password_published",
            )

    def get_help_text(self) -> str:
        return _("Your password cannot be the demo accounts' password.")


class RevokeApiTokensOnPasswordChange:
    """Checks nothing; Django calls its `password_changed` after every save of a new password
    (AbstractBaseUser.save), whichever channel set it: the user's API tokens are revoked then."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        # Imported here: the services import this module (their password rules).
        from engagements import services

        services.tokens_revoke_all(user=services.SYSTEM, account=user, reason="password_change")

    def get_help_text(self) -> str:
        return ""
