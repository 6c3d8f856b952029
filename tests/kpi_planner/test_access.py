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


def test_it_shows_tokens_to_their_user_and_to_managers(manager, supervisor, vendor_user):
    from engagements.services import token_create
    from kpi_planner.access import api_tokens_for, may_see_tokens_of

    mine, _ = token_create(user=vendor_user, name="sync")
    theirs, _ = token_create(user=supervisor, name="dash")
    assert list(api_tokens_for(vendor_user).values_list("name", flat=True)) == ["sync"]
    assert sorted(api_tokens_for(manager).values_list("name", flat=True)) == ["dash", "sync"]
    assert list(api_tokens_for(manager, vendor_user)) == [mine]
    assert list(api_tokens_for(vendor_user, supervisor)) == []
    assert may_see_tokens_of(vendor_user, vendor_user) is True
    assert may_see_tokens_of(vendor_user, supervisor) is False
    assert may_see_tokens_of(manager, supervisor) is True
    vendor_user.is_active = False
    vendor_user.save()
    assert api_tokens_for(vendor_user).count() == 0
    assert theirs.user == supervisor


def test_it_shows_import_jobs_to_their_sender_and_to_managers(manager, supervisor, vendor_user):
    from django.contrib.auth.models import AnonymousUser

    from kpi_planner.access import import_jobs_for
    from kpitree.models import ImportJob

    sent = ImportJob.objects.create(created_by=vendor_user, rows=3)
    ImportJob.objects.create(created_by=supervisor, rows=1)
    assert list(import_jobs_for(vendor_user)) == [sent]
    assert import_jobs_for(manager).count() == 2
    assert import_jobs_for(AnonymousUser()).count() == 0
