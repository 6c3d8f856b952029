"""The demo scenario (Japanese): a client outsourcing to three vendors. Local use only."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from engagements.models import Engagement, Role, User, Vendor

DEMO_PASSWORD = "kpi-demo-2026"

VENDORS = [
    ("callnavi", "株式会社コールナビ", "support@callnavi.example.jp"),
    ("adbridge", "株式会社アドブリッジ", "ops@adbridge.example.jp"),
    ("writeworks", "株式会社ライトワークス", "editor@writeworks.example.jp"),
]

ENGAGEMENTS = [
    # code, name, vendor, type, phase, start, end, fee, due day, cadence
    (
        "CALL-2026",
        "新規開拓テレアポ代行",
        "callnavi",
        "outbound_call",
        "improvement",
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 1),
        1_200_000,
        5,
        "monthly",
    ),
    (
        "ADS-2026",
        "リスティング広告運用",
        "adbridge",
        "marketing",
        "expansion",
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 1),
        800_000,
        7,
        "quarterly",
    ),
    (
        "LP-2026",
        "キャンペーンLP制作",
        "adbridge",
        "creative",
        "launch",
        dt.date(2026, 10, 1),
        dt.date(2027, 3, 1),
        300_000,
        10,
        "monthly",
    ),
    (
        "SEO-2026",
        "オウンドメディア記事制作",
        "writeworks",
        "article",
        "launch",
        dt.date(2026, 7, 1),
        dt.date(2027, 6, 1),
        500_000,
        10,
        "quarterly",
    ),
]

# username, role, vendor code, last name, first name, language
USERS = [
    ("manager", Role.MANAGER, None, "山田", "花子", "ja"),
    ("supervisor", Role.SUPERVISOR, None, "佐藤", "健", "ja"),
    ("vendor", Role.VENDOR, "callnavi", "田中", "誠", "ja"),
    ("vendor_ads", Role.VENDOR, "adbridge", "鈴木", "彩", "ja"),
    ("viewer", Role.VIEWER, None, "高橋", "翔", "en"),
]


@transaction.atomic
def seed_accounts_and_engagements() -> dict[str, int]:
    """Create or refresh the demo vendors, engagements and users. Safe to run again."""
    vendors = {}
    for code, name, email in VENDORS:
        vendors[code], _ = Vendor.objects.update_or_create(
            code=code, defaults={"name": name, "contact_email": email}
        )
    users = {}
    for username, role, vendor_code, last, first, language in USERS:
        user, created = User.objects.get_or_create(username=username)
        user.role = role
        user.vendor = vendors[vendor_code] if vendor_code else None
        user.last_name, user.first_name = last, first
        user.email = f"{username}@example.jp"
        if created:
            user.language = language
            user.set_password(DEMO_PASSWORD)
        user.save()
        users[username] = user
    for code, name, vendor, otype, phase, start, end, fee, due, cadence in ENGAGEMENTS:
        Engagement.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "vendor": vendors[vendor],
                "outsourcing_type": otype,
                "phase": phase,
                "start_month": start,
                "end_month": end,
                "monthly_fee": fee,
                "actuals_due_day": due,
                "review_cadence": cadence,
                "manager": users["manager"],
            },
        )
    return {"vendors": len(VENDORS), "engagements": len(ENGAGEMENTS), "users": len(USERS)}


# Submission history of the demo: months approved up to September, October in different states
# so that the portal and the manager's queue show every step.
SUBMISSIONS = {
    # engagement: (submitting user, approved months, October's state, reason when returned)
    "CALL-2026": ("vendor", [dt.date(2026, m, 1) for m in range(4, 10)], "submitted", ""),
    "ADS-2026": (
        "vendor_ads",
        [dt.date(2026, m, 1) for m in range(4, 10)],
        "returned",
        "CPAの算出に使った広告費の内訳を添えてください。",
    ),
    "SEO-2026": ("manager", [dt.date(2026, m, 1) for m in range(7, 10)], "draft", ""),
}


def seed_submissions() -> int:
    """Walk the demo months through the real workflow (idempotent: settled months are skipped)."""
    from engagements import services
    from engagements.models import Submission, SubmissionStatus

    manager = User.objects.get(username="manager")
    steps = 0
    for code, (submitter, approved, october, reason) in SUBMISSIONS.items():
        engagement = Engagement.objects.get(code=code)
        vendor_user = User.objects.get(username=submitter)
        status = {s.period: s.status for s in Submission.objects.filter(engagement=engagement)}
        for period in approved:
            if status.get(period) == SubmissionStatus.APPROVED:
                continue
            if status.get(period) != SubmissionStatus.SUBMITTED:
                services.submission_submit(user=vendor_user, engagement=engagement, period=period)
            services.submission_approve(user=manager, engagement=engagement, period=period)
            steps += 1
        oct_ = dt.date(2026, 10, 1)
        if october != "draft" and status.get(oct_) in (
            None,
            SubmissionStatus.DRAFT,
            SubmissionStatus.NOT_STARTED,
        ):
            services.submission_submit(user=vendor_user, engagement=engagement, period=oct_)
            if october == "returned":
                services.submission_return(
                    user=manager, engagement=engagement, period=oct_, reason=reason
                )
            steps += 1
    return steps
