"""The one write path for tombstones: deleted objects that `?updated_since=` still reports."""

from __future__ import annotations

from kpi_planner.models import Tombstone


def vendor_tombstone_kind(kind: str, vendor_id: int) -> str:
    return f"{kind}@{vendor_id}"


def write_tombstones(
    kind: str, scope: str, codes: list[str], vendor_ids: set[int], *, plain: bool = True
) -> None:
    """Record deleted `codes`: the plain tombstones (unless `plain` is False) and one copy per
    vendor in `vendor_ids`."""
    kinds = ([kind] if plain else []) + [vendor_tombstone_kind(kind, v) for v in sorted(vendor_ids)]
    if kinds and codes:
        Tombstone.objects.bulk_create(
            [Tombstone(kind=k, scope=scope, code=c) for k in kinds for c in codes]
        )


def write_change_tombstones(
    kind: str,
    scope: str,
    *,
    old_code: str,
    new_code: str,
    old_vendor_ids: set[int],
    new_vendor_ids: set[int],
) -> None:
    """After a change: a renamed object leaves a tombstone under its old code (plain, and for
    every vendor that could see it); otherwise each vendor that no longer sees it (e.g. an
    engagement moved to another vendor) gets its own."""
    if new_code != old_code:
        write_tombstones(kind, scope, [old_code], old_vendor_ids)
    else:
        write_tombstones(kind, scope, [old_code], old_vendor_ids - new_vendor_ids, plain=False)
