"""The browser fixture drives a real Chromium against a real service."""


async def test_openapi_page_renders_in_a_real_browser(start_service, browser):
    svc = await start_service("helpdesk_bot")
    page = await browser.new_page()
    resp = await page.goto(svc.url + "/healthz")
    assert resp.status == 200
    assert "ok" in await page.content()
