"""Cross-app records of the project itself."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Tombstone(models.Model):
    """A deleted object, kept so that `?updated_since=` lets API clients see deletions."""

    kind = models.CharField(max_length=32)  # "vendor", "engagement", "tree", "node", "user"
    scope = models.CharField(max_length=64, blank=True)  # tree code for nodes, else ""
    code = models.CharField(max_length=150)
    deleted_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "scope", "deleted_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope}/{self.code} deleted {self.deleted_at:%Y-%m-%d}"


class IdempotencyRecord(models.Model):
    """The answer to an API write sent with an `Idempotency-Key` header, kept for 24 hours so
    that a client retrying after an unclear failure gets it again instead of a second write
    (kpi_planner.idempotency). `status` is null while the first request is being processed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048)
    body_hash = models.CharField(max_length=64)  # SHA-256 of the request body, hex
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=255, blank=True)
    # The headers of the answer a replay repeats (ETag, Location), by name.
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} key {self.key!r} → {self.status}"
