"""The demo's commitments (共通の約束, issue 15), through the real services: テレアポ (CALL-2026)
promises 納期を守る (internal process) and 顧客の声を反映する (customer), and the manager checked
them for the approved months April–September 2026. Idempotent: a commitment already there is
kept, and a check already made is written again with the same values (no event)."""

from __future__ import annotations

import datetime as dt

from engagements.models import Engagement, User
from scorecard import commitment_services as services
from scorecard.models import Commitment

COMMITMENTS = [
    ("納期を守る", "process"),
    ("顧客の声を反映する", "customer"),
]
# The manager's checks, April … September 2026, of each commitment: (assessment, note).
CHECKS = {
    "納期を守る": [
        ("met", ""),
        ("met", ""),
        ("partly", "週次報告が2回遅延"),
        ("met", ""),
        ("met", ""),
        ("met", ""),
    ],
    "顧客の声を反映する": [
        ("partly", "VOCの共有が月末のみ"),
        ("partly", ""),
        ("met", "トークスクリプトにVOCを反映"),
        ("met", ""),
        ("not_met", "クレーム内容の共有なし"),
        ("met", ""),
    ],
}
MONTHS = [dt.date(2026, m, 1) for m in range(4, 10)]


def seed_commitments() -> dict[str, int]:
    manager = User.objects.get(username="manager")
    engagement = Engagement.objects.get(code="CALL-2026")
    checks = 0
    for text, perspective in COMMITMENTS:
        commitment = Commitment.objects.filter(
            engagement=engagement, text=text, archived_at__isnull=True
        ).first() or services.commitment_add(
            user=manager, engagement=engagement, text=text, perspective=perspective, weight=1
        )
        for month, (assessment, note) in zip(MONTHS, CHECKS[text], strict=True):
            services.commitment_assess(
                user=manager, commitment=commitment, period=month, assessment=assessment, note=note
            )
            checks += 1
    return {"commitments": len(COMMITMENTS), "commitment_checks": checks}
