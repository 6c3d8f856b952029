"""Cross-app records of the project itself."""

from django.db import models


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
