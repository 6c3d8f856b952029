from kpi_planner.access import engagements_for, users_for, vendors_for


def codes(qs) -> list[str]:
    return sorted(qs.values_list("code", flat=True))


def test_it_shows_managers_and_supervisors_everything(
    manager, supervisor, engagement_a, engagement_b
):
    assert codes(engagements_for(manager)) == ["ADS-1", "CALL-1"]
    assert codes(engagements_for(supervisor)) == ["ADS-1", "CALL-1"]
    assert codes(vendors_for(supervisor)) == ["adbridge", "callnavi"]


def test_it_confines_a_vendor_user_to_its_vendor(vendor_user, engagement_a, engagement_b):
    assert codes(engagements_for(vendor_user)) == ["CALL-1"]
    assert codes(vendors_for(vendor_user)) == ["callnavi"]
    assert users_for(vendor_user).count() == 0


def test_it_scopes_a_viewer_bound_to_a_vendor(viewer, vendor_b, engagement_a, engagement_b):
    assert codes(engagements_for(viewer)) == ["ADS-1", "CALL-1"]
    viewer.vendor = vendor_b
    viewer.save()
    assert codes(engagements_for(viewer)) == ["ADS-1"]


def test_it_shows_nothing_to_an_inactive_or_anonymous_user(vendor_user, engagement_a):
    from django.contrib.auth.models import AnonymousUser

    assert engagements_for(AnonymousUser()).count() == 0
    vendor_user.is_active = False
    vendor_user.save()
    assert engagements_for(vendor_user).count() == 0


def test_it_treats_a_superuser_as_manager(db, engagement_a):
    from engagements.models import User

    root = User.objects.create_superuser("root", "root@example.jp", "pw")
    assert root.effective_role == "manager"
    assert root.is_staff
    assert list(users_for(root).values_list("username", flat=True)) == ["root"]
