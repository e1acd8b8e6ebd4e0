"""The web form in a real headless Chromium: from the operator's link to the score and the report."""
import httpx
from playwright.async_api import expect

from otasuke.diagnosis.domain import questionnaire as qn
from otasuke.diagnosis.domain.scoring import Answer, score

Q = qn.current()


async def test_owner_answers_every_question_in_the_browser(start_service, auth_headers, register_company, browser):
    svc = await start_service("diagnosis")
    await register_company(svc, "chubu", "gifu-seiki")
    op = auth_headers("operator", partner_id="chubu")
    async with httpx.AsyncClient(base_url=svc.url) as client:
        link = (await client.post("/api/v1/companies/gifu-seiki/diagnosis-link", headers=op)).json()
    assert "#company=gifu-seiki&token=" in link["url"]

    page = await browser.new_page()
    await page.goto(link["url"])
    # The token does not stay in the address bar.
    await expect(page.locator("#start")).to_be_visible()
    assert "token" not in page.url
    await page.select_option("#industry", label="製造業")
    await page.check("input[name=sa][value=one_star]")
    await page.click("#start-go")

    expected = {}
    for n, question in enumerate(Q.questions, 1):
        await expect(page.locator("#q-progress")).to_have_text(f"{n} / 24 問目")
        await expect(page.locator("#q-text")).to_have_text(question.text)
        await expect(page.locator("#q-why")).to_contain_text(question.why)
        prefilled = question.id in Q.promised_items("one_star")
        await expect(page.locator("#q-prefilled")).to_be_visible(visible=prefilled)
        if prefilled:
            # Declared items are already ticked; the owner confirms them as they are.
            await page.click("#items-go")
            expected[question.id] = Answer(implemented=True, items=tuple(Q.promised_items("one_star")[question.id]))
        elif n == 24:
            await page.click("#unknown")
            expected[question.id] = Answer(implemented=None)
        elif n % 2:
            await page.click("#yes")
            boxes = page.locator("#item-list input")
            await expect(boxes).to_have_count(len(question.items))
            await boxes.nth(0).check()
            await page.click("#items-go")
            expected[question.id] = Answer(implemented=True, items=(question.items[0].id,))
        else:
            await page.click("#no")
            expected[question.id] = Answer(implemented=False)

    await expect(page.locator("#finish")).to_be_visible()
    await page.click("#complete-go")
    card = score(Q, expected)
    await expect(page.locator("#r-score")).to_have_text(str(card.score))
    await expect(page.locator("#r-band")).to_have_text(card.band_label)

    async with page.context.expect_page() as report_info:
        await page.click("#report-html")
    report = await report_info.value
    await report.wait_for_load_state()
    await expect(report.locator("h2").first).to_have_text("次にやること")
    await expect(report.locator(".big")).to_contain_text(str(card.score))


async def test_the_form_without_a_valid_link_explains_what_to_do(start_service, browser):
    svc = await start_service("diagnosis")
    page = await browser.new_page()
    await page.goto(svc.url + "/diagnosis/form")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#company-input", "gifu-seiki")
    await page.fill("#token-input", "expired-or-wrong")
    await page.click("#login-go")
    await expect(page.locator("#error")).to_contain_text("有効期限")
