from django.core.management import call_command

from engagements.demo import DEMO_PASSWORD
from engagements.models import Engagement, User, Vendor


def test_it_loads_the_demo_scenario_twice_without_duplicates(db) -> None:
    call_command("seed_demo")
    call_command("seed_demo")
    assert sorted(Vendor.objects.values_list("code", flat=True)) == [
        "adbridge",
        "callnavi",
        "writeworks",
    ]
    assert Engagement.objects.count() == 4
    assert sorted(Engagement.objects.values_list("outsourcing_type", flat=True)) == [
        "article",
        "creative",
        "marketing",
        "outbound_call",
    ]
    assert {u.username: u.role for u in User.objects.all()} == {
        "manager": "manager",
        "supervisor": "supervisor",
        "vendor": "vendor",
        "vendor_ads": "vendor",
        "viewer": "viewer",
    }
    assert User.objects.get(username="vendor").vendor.code == "callnavi"
    assert all(u.check_password(DEMO_PASSWORD) for u in User.objects.all())


def test_it_keeps_a_password_the_user_changed(db) -> None:
    call_command("seed_demo")
    user = User.objects.get(username="manager")
    user.set_password("changed-by-hand-123")
    user.save()
    call_command("seed_demo")
    user.refresh_from_db()
    assert user.check_password("changed-by-hand-123")
