import pytest
from django.test import Client

NAV = {
    "manager": [
        "home",
        "scorecards",
        "trees",
        "submissions",
        "engagements",
        "vendors",
        "sourcing",
        "api",
        "admin",
    ],
    "supervisor": ["home", "scorecards", "trees", "engagements", "vendors", "sourcing", "api"],
    "vendor": ["home", "portal", "scorecards", "engagements"],
    "viewer": ["home", "scorecards", "trees", "engagements"],
}


def nav_of(response) -> list[str]:
    return [key for key, _label, _url in response.context["nav_items"]]


@pytest.mark.parametrize("fixture", ["manager", "supervisor", "vendor_user", "viewer"])
def test_it_shows_each_role_its_navigation(request, client: Client, fixture: str) -> None:
    user = request.getfixturevalue(fixture)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert nav_of(response) == NAV[user.role]


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client, db) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/login/?next=/"


def test_it_serves_the_login_page_in_japanese_by_default(client: Client, db) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    assert '<html lang="ja">' in response.content.decode()
    assert "ログイン" in response.content.decode()


def test_it_serves_english_when_asked(client: Client, db) -> None:
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en">' in response.content.decode()
    assert "Log in" in response.content.decode()


def test_it_remembers_the_chosen_language_on_the_user(client: Client, vendor_user) -> None:
    client.force_login(vendor_user)
    response = client.post("/language/", {"language": "en", "next": "/engagements/"})
    assert response.status_code == 302
    assert response.url == "/engagements/"
    vendor_user.refresh_from_db()
    assert vendor_user.language == "en"
    # A new session (another browser, no cookie) still gets the user's language.
    other = Client()
    other.force_login(vendor_user)
    assert '<html lang="en">' in other.get("/").content.decode()


def test_it_ignores_an_unknown_language(client: Client, vendor_user) -> None:
    client.force_login(vendor_user)
    response = client.post("/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response.url == "/"
    vendor_user.refresh_from_db()
    assert vendor_user.language == "ja"


def test_it_hides_another_vendors_engagement_with_404(client: Client, vendor_user, engagement_b):
    client.force_login(vendor_user)
    response = client.get("/engagements/ADS-1/")
    assert response.status_code == 404
    assert "ページが見つかりません" in response.content.decode()


def test_it_shows_a_vendor_its_own_engagement(client: Client, vendor_user, engagement_a):
    client.force_login(vendor_user)
    response = client.get("/engagements/CALL-1/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "テレアポ" in body
    assert "1,200,000円" in body
    assert "2026年4月 – 2027年3月" in body


def test_it_formats_yen_and_months_for_english_readers(client: Client, viewer, engagement_a):
    client.force_login(viewer)  # viewer's language is en
    body = client.get("/engagements/CALL-1/").content.decode()
    assert "¥1,200,000" in body
    assert "April 2026 – March 2027" in body


def test_it_refuses_the_vendor_list_to_a_vendor_with_403(client: Client, vendor_user):
    client.force_login(vendor_user)
    response = client.get("/engagements/vendors/")
    assert response.status_code == 403
    assert "許可されていません" in response.content.decode()


def test_it_filters_engagements_by_type(client: Client, manager, engagement_a, engagement_b):
    client.force_login(manager)
    response = client.get("/engagements/?type=marketing")
    assert [e.code for e in response.context["engagements"]] == ["ADS-1"]


@pytest.mark.parametrize("language,text", [("ja", "サーバーエラー"), ("en", "Server error")])
def test_it_renders_the_500_page_in_both_languages(language: str, text: str) -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(language):
        assert text in render_to_string("500.html")


def test_it_lets_a_user_change_the_password(client: Client, vendor_user) -> None:
    client.force_login(vendor_user)
    response = client.post(
        "/password/",
        {
            "old_password": "pw-vend",
            "new_password1": "Kpi-planner-2027!",
            "new_password2": "Kpi-planner-2027!",
        },
    )
    assert response.status_code == 302
    vendor_user.refresh_from_db()
    assert vendor_user.check_password("Kpi-planner-2027!")


def test_it_lets_only_managers_into_the_admin(client: Client, manager, supervisor) -> None:
    client.force_login(manager)
    assert client.get("/admin/").status_code == 200
    client.force_login(supervisor)
    assert client.get("/admin/").status_code == 302
