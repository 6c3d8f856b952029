"""Every write to vendors, engagements and users goes through these functions.

The API, the admin and the demo call them (`vendor_*`, `engagement_*`, `user_*`): each checks
that the acting user may manage, validates the whole object (`full_clean`), writes in one
transaction and records the tombstones that `?updated_since=` syncs read (a deleted or renamed
object, and the vendors that no longer see it). A refusal is a `ServiceError`; nothing was
written. `user=SYSTEM` is the system itself (the demo seed), which has no role to check.

API tokens (`token_*`) too: made by their user, revoked by it or a manager, and revoked with
every new password (here and, for channels outside the services, by
engagements.passwords.RevokeApiTokensOnPasswordChange) and every deactivation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements import events
from engagements.models import ApiToken, Engagement, Language, Role, TokenRevocation, User, Vendor
from engagements.passwords import PublishedPasswordValidator
from kpi_planner.access import can_manage
from kpi_planner.errors import Problem, ServiceError, in_use_error, problems_of
from kpi_planner.tombstones import write_change_tombstones, write_tombstones


class _System:
    """The acting user of writes made by the system itself (the demo seed, commands)."""

    pk = None

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM: Final = _System()

VENDOR_FIELDS = ("code", "name", "contact_email")
ENGAGEMENT_FIELDS = (
    "code",
    "name",
    "vendor",
    "outsourcing_type",
    "phase",
    "start_month",
    "end_month",
    "monthly_fee",
    "actuals_due_day",
    "review_cadence",
    "manager",
)
USER_FIELDS = (
    "username",
    "role",
    "vendor",
    "email",
    "language",
    "first_name",
    "last_name",
    "is_active",
    # The admin's too (is_staff follows the role in User.save).
    "is_superuser",
    "is_staff",
    "last_login",
    "date_joined",
)


# -- what every write shares --------------------------------------------------------------------


def _require_manager(user: Any) -> None:
    if user is not SYSTEM and not can_manage(user):
        raise ServiceError(
            [
                Problem(
                    _("Only managers may change vendors, engagements and users."), code="forbidden"
                )
            ]
        )


def _assign(instance: models.Model, data: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    unknown = [name for name in data if name not in fields]
    if unknown:
        raise ServiceError([Problem(_("Unknown field."), field=name) for name in unknown])
    for name, value in data.items():
        setattr(instance, name, value)


def _validated(instance: models.Model) -> None:
    """Every field rule, the model's clean() and uniqueness, as one ServiceError."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise ServiceError(problems_of(exc)) from None


def _delete(instance: models.Model) -> None:
    try:
        instance.delete()  # a protected object raises before anything is deleted
    except ProtectedError:
        raise in_use_error() from None


# -- vendors ------------------------------------------------------------------------------------


@transaction.atomic
def vendor_create(*, user: Any, data: Mapping[str, Any]) -> Vendor:
    """A new vendor from `VENDOR_FIELDS` (code and name required)."""
    _require_manager(user)
    vendor = Vendor()
    _assign(vendor, data, VENDOR_FIELDS)
    _validated(vendor)
    vendor.save()
    return vendor


@transaction.atomic
def vendor_update(*, user: Any, vendor: Vendor, data: Mapping[str, Any]) -> Vendor:
    """Change the fields in `data`; a new code leaves a tombstone under the old one."""
    _require_manager(user)
    old_code = Vendor.objects.values_list("code", flat=True).get(pk=vendor.pk)
    _assign(vendor, data, VENDOR_FIELDS)
    _validated(vendor)
    vendor.save()
    write_change_tombstones(
        "vendor",
        "",
        old_code=old_code,
        new_code=vendor.code,
        old_vendor_ids={vendor.pk},
        new_vendor_ids={vendor.pk},
    )
    return vendor


@transaction.atomic
def vendor_delete(*, user: Any, vendor: Vendor) -> None:
    """Delete an unused vendor (409 in_use while engagements or users belong to it)."""
    _require_manager(user)
    code, pk = vendor.code, vendor.pk
    _delete(vendor)
    write_tombstones("vendor", "", [code], {pk})


# -- engagements --------------------------------------------------------------------------------


@transaction.atomic
def engagement_create(*, user: Any, data: Mapping[str, Any]) -> Engagement:
    """A new engagement from `ENGAGEMENT_FIELDS` (months are first days of months)."""
    _require_manager(user)
    engagement = Engagement()
    _assign(engagement, data, ENGAGEMENT_FIELDS)
    _validated(engagement)
    engagement.save()
    return engagement


@transaction.atomic
def engagement_update(*, user: Any, engagement: Engagement, data: Mapping[str, Any]) -> Engagement:
    """Change the fields in `data`. A new code leaves a tombstone under the old one; moved to
    another vendor, the old vendor's users get a tombstone for it. A new phase is announced
    (events.engagement_phase_changed) once committed."""
    _require_manager(user)
    old_code, old_vendor, old_phase = Engagement.objects.values_list(
        "code", "vendor_id", "phase"
    ).get(pk=engagement.pk)
    _assign(engagement, data, ENGAGEMENT_FIELDS)
    _validated(engagement)
    engagement.save()
    if engagement.phase != old_phase:
        new_phase = engagement.phase
        transaction.on_commit(
            lambda: events.engagement_phase_changed.send(
                sender=Engagement,
                engagement=engagement,
                old_phase=old_phase,
                new_phase=new_phase,
                user=user,
            )
        )
    write_change_tombstones(
        "engagement",
        "",
        old_code=old_code,
        new_code=engagement.code,
        old_vendor_ids={old_vendor},
        new_vendor_ids={engagement.vendor_id},
    )
    return engagement


@transaction.atomic
def engagement_delete(*, user: Any, engagement: Engagement) -> None:
    """Delete an engagement (409 in_use while nodes of a tree belong to it)."""
    _require_manager(user)
    code, vendor_id = engagement.code, engagement.vendor_id
    _delete(engagement)
    write_tombstones("engagement", "", [code], {vendor_id})


# -- users --------------------------------------------------------------------------------------


def own_account_problems(*, user: Any, account: User, data: Mapping[str, Any]) -> list[Problem]:
    """Why `user` may not make these changes to their own account: a manager who disabled or
    demoted themselves would be locked out of the very screens that could undo it (possibly the
    last manager). Empty when `account` is someone else's."""
    if account.pk is None or account.pk != user.pk:
        return []
    problems = []
    if data.get("is_active") is False:
        problems.append(Problem(_("You cannot deactivate your own account."), field="is_active"))
    stored_role = User.objects.values_list("role", flat=True).get(pk=account.pk)
    role = data.get("role", stored_role)
    if role != stored_role and role != Role.MANAGER and not account.is_superuser:
        problems.append(
            Problem(
                _("You cannot give up your own manager role; ask another manager."), field="role"
            )
        )
    return problems


def password_problems(
    password: str, *, account: User | None, allow_published: bool = False
) -> list[Problem]:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS, ours included: not the demo
    password), against `account` as it will be when given, so that a password like its username
    or e-mail is refused. `allow_published`: the demo seed, whose password is published."""
    validators = [
        v
        for v in password_validation.get_default_password_validators()
        if not (allow_published and isinstance(v, PublishedPasswordValidator))
    ]
    try:
        password_validation.validate_password(password, account, validators)
    except ValidationError as exc:
        return [Problem(message, field="password") for message in exc.messages]
    return []


def _set_password(account: User, password: str | None, *, actor: Any) -> None:
    """Every channel that sets a password comes here; None: no password login."""
    if password is None:
        account.set_unusable_password()
        return
    problems = password_problems(password, account=account, allow_published=actor is SYSTEM)
    if problems:
        raise ServiceError(problems)
    account.set_password(password)


@transaction.atomic
def user_create(*, user: Any, data: Mapping[str, Any], password: str | None) -> User:
    """A new account from `USER_FIELDS` with `password` (None: it cannot log in with one)."""
    _require_manager(user)
    account = User()
    _assign(account, data, USER_FIELDS)
    _set_password(account, password, actor=user)
    _validated(account)
    account.save()
    return account


PREFERENCE_FIELDS = ("alert_digest", "language")


@transaction.atomic
def user_preferences_update(*, user: Any, data: Mapping[str, Any]) -> User:
    """A user's own preferences (any signed-in user, for themselves only): whether alerts come as
    one daily digest, and the language."""
    if not getattr(user, "is_authenticated", False):
        raise ServiceError([Problem(_("Sign in first."), code="forbidden")])
    problems = [Problem(_("Unknown field."), field=k) for k in data if k not in PREFERENCE_FIELDS]
    if "alert_digest" in data and not isinstance(data["alert_digest"], bool):
        problems.append(Problem(_("Choose yes or no."), field="alert_digest"))
    if "language" in data and data["language"] not in Language.values:
        problems.append(Problem(_("Unknown language."), field="language"))
    if problems:
        raise ServiceError(problems)
    account = User.objects.select_for_update().get(pk=user.pk)
    for name, value in data.items():
        setattr(account, name, value)
    account.save(update_fields=[*data, "updated_at"])
    return account


@transaction.atomic
def user_update(
    *,
    user: Any,
    account: User,
    data: Mapping[str, Any],
    password: str | None = None,
    disable_password: bool = False,
) -> User:
    """Change the fields in `data` and, when given, the password (`disable_password`: no
    password login any more). Nobody deactivates or demotes their own account
    (own_account_problems). A new username leaves a tombstone. A new or disabled password, or
    a deactivation, revokes the account's API tokens."""
    _require_manager(user)
    problems = own_account_problems(user=user, account=account, data=data)
    if problems:
        raise ServiceError(problems)
    old_username, was_active = User.objects.values_list("username", "is_active").get(pk=account.pk)
    _assign(account, data, USER_FIELDS)
    password_changed = password is not None or disable_password
    if password_changed:
        _set_password(account, None if disable_password else password, actor=user)
    _validated(account)
    if was_active and not account.is_active:
        tokens_revoke_all(user=user, account=account, reason=TokenRevocation.DEACTIVATED)
    if password_changed:
        tokens_revoke_all(user=user, account=account, reason=TokenRevocation.PASSWORD_CHANGE)
    account.save()
    write_change_tombstones(
        "user",
        "",
        old_code=old_username,
        new_code=account.username,
        old_vendor_ids=set(),
        new_vendor_ids=set(),
    )
    return account


@transaction.atomic
def user_delete(*, user: Any, account: User) -> None:
    """Delete an account; nobody deletes their own (409: ask another manager)."""
    _require_manager(user)
    if account.pk == user.pk:
        raise ServiceError(
            [
                Problem(
                    _("You cannot delete your own account; ask another manager."), code="conflict"
                )
            ]
        )
    username = account.username
    _delete(account)
    write_tombstones("user", "", [username], set())


# -- API tokens ---------------------------------------------------------------------------------

TOKEN_MAX_DAYS: Final = 365
# last_used_at is written at most this often per token, not on every request.
TOKEN_USE_RESOLUTION: Final = dt.timedelta(minutes=1)


def token_hash(key: str) -> str:
    """What is stored of a key: its SHA-256 (a key is 256 random bits, so no salt or slow hash
    is needed; a leaked table gives no usable key)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _token_problems(*, account: User, name: str, expires_in_days: Any) -> list[Problem]:
    problems = []
    if not name or len(name) > 100:
        problems.append(Problem(_("Give the token a name of 1 to 100 characters."), field="name"))
    elif name.isdigit():
        problems.append(Problem(_("A token name cannot be only digits."), field="name"))
    elif account.api_tokens.filter(name=name, revoked_at__isnull=True).exists():
        problems.append(
            Problem(_("You already have a token with this name; revoke it first."), field="name")
        )
    if (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= TOKEN_MAX_DAYS
    ):
        problems.append(
            Problem(
                _("A token expires after 1 to %(max)d days.") % {"max": TOKEN_MAX_DAYS},
                field="expires_in_days",
            )
        )
    return problems


@transaction.atomic
def token_create(
    *, user: User, name: str = "", expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new API token of `user` (the caller, who just proved their password or holds a live
    token); returns it with its key, which is shown this once and never stored. Without a name it
    is called `token-<first 8 characters of the key>`; it expires after `expires_in_days`
    (default API_TOKEN_EXPIRY_DAYS, at most TOKEN_MAX_DAYS)."""
    if not user.is_active:
        raise ServiceError([Problem(_("This account is deactivated."), code="forbidden")])
    key = secrets.token_urlsafe(32)
    name = name.strip() or f"token-{key[:8]}"
    days = settings.API_TOKEN_EXPIRY_DAYS if expires_in_days is None else expires_in_days
    problems = _token_problems(account=user, name=name, expires_in_days=days)
    if problems:
        raise ServiceError(problems)
    token = ApiToken(
        user=user,
        name=name,
        key_hash=token_hash(key),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError:  # the same name made at the same moment by another request
        raise ServiceError(
            [Problem(_("You already have a token with this name; revoke it first."), field="name")]
        ) from None
    return token, key


def _revoked_by(user: Any) -> User | None:
    return None if user is SYSTEM else user


@transaction.atomic
def token_revoke(*, user: Any, token: ApiToken) -> ApiToken:
    """Revoke a token: its own user, or a manager for anyone's. Kept, with when, by whom and why;
    revoking a revoked token changes nothing (its first revocation stays the record)."""
    own = user is not SYSTEM and token.user_id == user.pk
    if not own:
        _require_manager(user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = _revoked_by(user)
        token.revoked_reason = TokenRevocation.USER if own else TokenRevocation.MANAGER
        token.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    return token


def tokens_revoke_all(*, user: Any, account: User, reason: str) -> int:
    """Revoke every token of `account` not yet revoked (a password change, a deactivation):
    the number revoked. Called inside the write that changes the account."""
    return ApiToken.objects.filter(user=account, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=_revoked_by(user), revoked_reason=reason
    )


def token_used(token: ApiToken, now: dt.datetime) -> None:
    """Note that `token` authenticated a request: at most one write per token a minute."""
    if token.last_used_at is not None and now - token.last_used_at < TOKEN_USE_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
