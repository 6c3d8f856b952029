"""Users with roles, vendors (外注先) and engagements (contracts with a vendor)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from kpi_planner.codes import code_validator
from kpi_planner.roles import Role


def CodeField(**kwargs) -> models.CharField:
    return models.CharField(_("code"), max_length=64, validators=[code_validator], **kwargs)


def first_of_month(value: dt.date) -> dt.date:
    return value.replace(day=1)


class Language(models.TextChoices):
    JA = "ja", "日本語"
    EN = "en", "English"


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    vendor = models.ForeignKey(
        "engagements.Vendor",
        verbose_name=_("vendor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("Required for vendor users; optional for viewers (scopes them to it)."),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.JA
    )
    # Alerts and action reminders gathered into one e-mail a day instead of one mail each
    # (pdca.alerts); in-app notices are shown at once either way.
    alert_digest = models.BooleanField(
        _("daily digest of alerts"),
        default=False,
        help_text=_("One e-mail a day with every alert, instead of one e-mail per alert."),
    )
    # For API sync (?updated_since=); logins save only last_login, so they do not bump it.
    updated_at = models.DateTimeField(auto_now=True, null=True, db_index=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def effective_role(self) -> str:
        # A Django superuser (as made by createsuperuser) is a manager whatever its role field says.
        return Role.MANAGER if self.is_superuser else self.role

    @property
    def display_name(self) -> str:
        """Family name first for Japanese names (佐藤 健), given name first otherwise."""
        first, last = self.first_name.strip(), self.last_name.strip()
        if not (first or last):
            return self.username
        if not (first + last).isascii():
            return f"{last} {first}".strip()
        return f"{first} {last}".strip()

    def clean(self) -> None:
        super().clean()
        if self.role == Role.VENDOR and self.vendor_id is None and not self.is_superuser:
            raise ValidationError({"vendor": _("A vendor user must belong to a vendor.")})
        if self.role in (Role.MANAGER, Role.SUPERVISOR) and self.vendor_id is not None:
            raise ValidationError({"vendor": _("Managers and supervisors belong to no vendor.")})

    def has_perm(self, perm: str, obj: models.Model | None = None) -> bool:
        # Managers have full rights (API.md "Roles"), in the admin too, without per-model grants.
        if self.is_active and self.effective_role == Role.MANAGER:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and self.effective_role == Role.MANAGER:
            return True
        return super().has_module_perms(app_label)

    def save(self, *args, **kwargs) -> None:
        # Managers use the Django admin; keep is_staff in step with the role.
        self.is_staff = self.effective_role == Role.MANAGER
        super().save(*args, **kwargs)


class Vendor(models.Model):
    code = CodeField(unique=True)
    name = models.CharField(_("name"), max_length=200)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("vendor")
        verbose_name_plural = _("vendors")

    def __str__(self) -> str:
        return self.name


class OutsourcingType(models.TextChoices):
    CREATIVE = "creative", _("Creative")
    ARTICLE = "article", _("Article production")
    DEVELOPMENT = "development", _("Development")
    MARKETING = "marketing", _("Marketing / ads")
    SUPPORT = "support", _("Support / operations")
    OUTBOUND_CALL = "outbound_call", _("Outbound call centre")
    OTHER = "other", _("Other")


class Phase(models.TextChoices):
    LAUNCH = "launch", _("Launch")
    IMPROVEMENT = "improvement", _("Improvement")
    EXPANSION = "expansion", _("Expansion")


class ReviewCadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    YEARLY = "yearly", _("Yearly")


class Engagement(models.Model):
    code = CodeField(unique=True)
    name = models.CharField(_("name"), max_length=200)
    vendor = models.ForeignKey(
        Vendor, verbose_name=_("vendor"), on_delete=models.PROTECT, related_name="engagements"
    )
    outsourcing_type = models.CharField(
        _("outsourcing type"), max_length=16, choices=OutsourcingType.choices
    )
    phase = models.CharField(_("phase"), max_length=16, choices=Phase.choices)
    start_month = models.DateField(_("start month"))
    end_month = models.DateField(_("end month"))
    monthly_fee = models.PositiveBigIntegerField(_("monthly fee (JPY)"), default=0)
    actuals_due_day = models.PositiveSmallIntegerField(
        _("actuals due day"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    review_cadence = models.CharField(
        _("review cadence"),
        max_length=16,
        choices=ReviewCadence.choices,
        default=ReviewCadence.QUARTERLY,
    )
    manager = models.ForeignKey(
        User,
        verbose_name=_("manager in charge"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_engagements",
        limit_choices_to=models.Q(role=Role.MANAGER) | models.Q(is_superuser=True),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("engagement")
        verbose_name_plural = _("engagements")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.start_month:
            self.start_month = first_of_month(self.start_month)
        if self.end_month:
            self.end_month = first_of_month(self.end_month)
        if self.start_month and self.end_month and self.end_month < self.start_month:
            raise ValidationError({"end_month": _("The end month is before the start month.")})
        manager = self.manager if self.manager_id is not None else None
        if manager is not None and manager.effective_role != Role.MANAGER:
            raise ValidationError(
                {"manager": _("The manager in charge must have the manager role.")}
            )


class SubmissionStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")


class Submission(models.Model):
    """An engagement's monthly report. An approved month is locked: its actuals cannot change."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="submissions")
    period = models.DateField(_("month"))
    status = models.CharField(
        max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.DRAFT
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["engagement", "period"], name="one_submission_a_month")
        ]
        verbose_name = _("monthly submission")
        verbose_name_plural = _("monthly submissions")

    def __str__(self) -> str:
        return f"{self.engagement.code} {self.period:%Y-%m} {self.status}"


# -- vendor portal: submission history, improvement proposals, notifications, reminders ---------


class SubmissionAction(models.TextChoices):
    SUBMIT = "submit", _("Submitted")
    APPROVE = "approve", _("Approved")
    RETURN = "return", _("Returned")
    REOPEN = "reopen", _("Reopened")
    WITHDRAW = "withdraw", _("Withdrawn")


class SubmissionEvent(models.Model):
    """One row per step of a month's workflow (submit, approve, return, reopen): never changed.

    Together with kpitree.ValueAudit (every value change) it is the month's full history; a
    reopening, which unlocks approved numbers, is recorded here with its reason.
    """

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="submission_events"
    )
    period = models.DateField(_("month"))
    action = models.CharField(_("action"), max_length=16, choices=SubmissionAction.choices)
    from_status = models.CharField(max_length=16, choices=SubmissionStatus.choices)
    to_status = models.CharField(max_length=16, choices=SubmissionStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    user = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["engagement", "period"])]
        verbose_name = _("submission event")
        verbose_name_plural = _("submission events")

    def __str__(self) -> str:
        return f"{self.engagement_id} {self.period:%Y-%m} {self.action}"


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting decision")
    ACCEPTED = "accepted", _("Adopted")
    DECLINED = "declined", _("Declined")


class ImprovementProposal(models.Model):
    """改善提案: a vendor's proposal to the client. Counted in the month it was submitted;
    its adoption counts in the month it was decided (see portal.services.proposals.proposal_feed)."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="proposals", verbose_name=_("engagement")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    expected_effect = models.TextField(_("expected effect"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    period = models.DateField(_("month"))  # month of submission, for the monthly count
    submitted_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("submitted by")
    )
    submitted_at = models.DateTimeField(_("submitted at"))
    decided_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_period = models.DateField(null=True, blank=True)  # month of the decision
    decision_note = models.TextField(_("note on the decision"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["engagement", "period"])]
        verbose_name = _("improvement proposal")
        verbose_name_plural = _("improvement proposals")

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """An in-app notice, written in the recipient's language when it was created."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=32)
    engagement = models.ForeignKey(
        Engagement, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    period = models.DateField(null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # Claimed (set) just before the e-mail goes out, so a redelivered task never mails twice;
    # released again when sending fails, so that the sweep (deliver_pending) tries again.
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # Left for the recipient's daily digest (User.alert_digest) instead of its own e-mail.
    in_digest = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.subject


class ReminderLog(models.Model):
    """A reminder recorded *before* it is sent: the unique key (kind, engagement, month or day,
    recipient) makes a second attempt, after a restart of beat or a worker, a no-op."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=32)
    engagement = models.ForeignKey(
        Engagement, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    period = models.DateField(_("month or day"))
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reminder log")
        verbose_name_plural = _("reminder logs")

    def __str__(self) -> str:
        return self.key


# -- API tokens -----------------------------------------------------------------------------------


class TokenRevocation(models.TextChoices):
    USER = "user", _("Revoked by its user")
    MANAGER = "manager", _("Revoked by a manager")
    PASSWORD_CHANGE = "password_change", _("Password changed")
    DEACTIVATED = "deactivated", _("Account deactivated")


class ApiToken(models.Model):
    """A key for `Authorization: Token <key>`. Only the key's SHA-256 is stored: the key itself is
    shown once, when it is made (engagements.services.token_create). A token is never deleted:
    revoking it records when, by whom and why; an expired or revoked token authenticates nobody."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    revoked_reason = models.CharField(
        _("reason"), max_length=16, choices=TokenRevocation.choices, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A name addresses one live token of its user (DELETE …/auth/tokens/{name}/).
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_token_name_per_user",
            )
        ]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.user_id}:{self.name}"
