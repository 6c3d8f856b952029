"""The Content-Security-Policy (settings.CONTENT_SECURITY_POLICY: only our own scripts, no
inline script or event handler) is sent and breaks nothing: the main pages report no
violation in the browser console, and the shell's scripts (static/js/app.js) still work."""

from __future__ import annotations

import pytest

from engagements.demo import DEMO_PASSWORD
from tests.e2e import test_scorecard
from tests.e2e.conftest import login

# The scorecard tests' demo data (trees, scores, forecasts), so that every page has its charts.
demo = test_scorecard.demo

PAGES = {
    "manager": [
        ("/trees/FY2026-ACQ/", "#kt-tree"),  # the tree editor (htmx)
        ("/trees/templates/", "table"),
        ("/scorecards/?period=2026-10", ".js-plotly-plot .main-svg"),
        ("/scorecards/engagements/CALL-2026/?period=2026-10", ".js-plotly-plot .main-svg"),
        ("/portal/submissions/", "h1"),
        ("/api/docs/", ".swagger-ui .opblock"),
    ],
    "vendor": [("/portal/", "h1"), ("/portal/engagements/CALL-2026/2026-10/", ".value-input")],
}


def violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m]


@pytest.mark.parametrize("username", list(PAGES))
def test_the_main_pages_report_no_csp_violation(page, live_server, demo, username) -> None:
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(msg.text))
    login(page, live_server, username, DEMO_PASSWORD)
    for path, ready in PAGES[username]:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_selector(ready, timeout=20_000)
        page.wait_for_load_state("networkidle")
        assert violations(messages) == [], path
    assert page.console_errors == []


def test_the_language_switch_works_without_an_inline_handler(page, live_server, demo) -> None:
    login(page, live_server, "manager", DEMO_PASSWORD)
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.console_errors == []
