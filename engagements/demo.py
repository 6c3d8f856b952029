"""The demo scenario (Japanese): a client outsourcing to three vendors. Local use only.

Seeded through engagements.services, as the system (SYSTEM), like any other channel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from engagements import services
from engagements.models import Engagement, Role, User, Vendor
from engagements.services import SYSTEM

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
    """Create or refresh the demo vendors, engagements and users. Safe to run again: what
    exists is updated (a user keeps the password and language they chose)."""
    vendors = {}
    for code, name, email in VENDORS:
        data: dict[str, Any] = {"code": code, "name": name, "contact_email": email}
        vendor = Vendor.objects.filter(code=code).first()
        vendors[code] = (
            services.vendor_update(user=SYSTEM, vendor=vendor, data=data)
            if vendor
            else services.vendor_create(user=SYSTEM, data=data)
        )
    users = {}
    for username, role, vendor_code, last, first, language in USERS:
        data = {
            "username": username,
            "role": role,
            "vendor": vendors[vendor_code] if vendor_code else None,
            "last_name": last,
            "first_name": first,
            "email": f"{username}@example.jp",
        }
        account = User.objects.filter(username=username).first()
        users[username] = (
            services.user_update(user=SYSTEM, account=account, data=data)
            if account
            else services.user_create(
                user=SYSTEM, data={**data, "language": language}, password=DEMO_PASSWORD
            )
        )
    for code, name, owner, otype, phase, start, end, fee, due, cadence in ENGAGEMENTS:
        data = {
            "code": code,
            "name": name,
            "vendor": vendors[owner],
            "outsourcing_type": otype,
            "phase": phase,
            "start_month": start,
            "end_month": end,
            "monthly_fee": fee,
            "actuals_due_day": due,
            "review_cadence": cadence,
            "manager": users["manager"],
        }
        engagement = Engagement.objects.filter(code=code).first()
        if engagement:
            services.engagement_update(user=SYSTEM, engagement=engagement, data=data)
        else:
            services.engagement_create(user=SYSTEM, data=data)
    return {"vendors": len(VENDORS), "engagements": len(ENGAGEMENTS), "users": len(USERS)}
