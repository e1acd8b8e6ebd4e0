"""The application form on a phone: reached from the console and from the chat, field errors in Japanese, tenancy."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from helpdesk_testkit import link_code, start_helpdesk
from otasuke.events import utcnow
from otasuke.helpdesk_bot.domain.business_hours import JST

PHONE = {"viewport": {"width": 390, "height": 800}, "is_mobile": True}


def in_days(n: int) -> str:
    return (utcnow().astimezone(JST).date() + timedelta(days=n)).isoformat()


async def form_link(helpdesk, headers, company: str) -> str:
    resp = await helpdesk.client.post(f"/api/v1/companies/{company}/application-link", headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["url"]


async def applications(helpdesk, auth_headers, company: str) -> list[dict]:
    resp = await helpdesk.client.get(f"/api/v1/applications?company_id={company}",
                                     headers=auth_headers("operator", partner_id="chubu"))
    assert resp.status_code == 200
    return resp.json()


async def test_a_phone_application_with_wrong_fields_then_right_ones(helpdesk, browser, auth_headers):
    url = await form_link(helpdesk, auth_headers("operator", partner_id="chubu"), "gifu-seiki")
    page = await browser.new_page(**PHONE)
    await page.goto(url)
    await page.check("input[value=utm]")
    await page.check("input[value=edr]")
    await page.fill("#date0", in_days(-1))
    await page.fill("#contact_phone", "12345")
    await page.click("#submit")
    await page.wait_for_selector("#date0-error >> text=明日以降の日付を選んでください。")
    assert "パソコンの台数を入力してください" in await page.inner_text("#devices-error")
    assert await page.inner_text("#contact_name-error") == "ご担当者のお名前を入力してください。"
    assert "0から始まる10けたか11けた" in await page.inner_text("#contact_phone-error")
    assert await applications(helpdesk, auth_headers, "gifu-seiki") == []  # nothing recorded

    await page.fill("#date0", in_days(5))
    await page.select_option("#period0", "am")
    await page.fill("#date1", in_days(8))
    await page.fill("#devices", "１２")  # typed with a Japanese keyboard
    await page.fill("#contact_name", "総務 山田")
    await page.fill("#contact_phone", "058-123-4567")
    await page.fill("#request", "平日の夕方は不在がちです")
    await page.click("#submit")
    done = await page.wait_for_selector("#done-message")
    assert "仮申込" in await done.inner_text() and "総務 山田様（0581234567）へお電話します" in await done.inner_text()
    statuses = await page.inner_text("#statuses")
    assert "UTM（ネットワーク監視機器）：仮申込" in statuses and "EDR（パソコン監視ソフト）：仮申込" in statuses

    listed = await applications(helpdesk, auth_headers, "gifu-seiki")
    assert sorted(a["service"] for a in listed) == ["edr", "utm"]
    assert {a["status"] for a in listed} == {"provisional"} and {a["channel"] for a in listed} == {"form"}
    assert all(a["devices"] == 12 for a in listed)
    # The details are fields the operator can sort and call from, not text in the note.
    for a in listed:
        assert a["preferred_dates"] == [{"day": in_days(5), "slot": "am"}, {"day": in_days(8), "slot": "any"}]
        assert a["preferred_dates_ja"][0].endswith("午前") and a["preferred_dates_ja"][1].endswith("終日可")
        assert (a["contact_name"], a["contact_phone"]) == ("総務 山田", "0581234567")
        assert a["note"] == "平日の夕方は不在がちです"


async def test_double_submission_is_one_application_and_a_link_for_one_company_opens_no_other(helpdesk, browser,
                                                                                           auth_headers):
    url = await form_link(helpdesk, auth_headers("operator", partner_id="chubu"), "ena-foods")
    token = urlsplit(url).fragment.split("token=")[1]
    headers = {"Authorization": f"Bearer {token}"}
    form = {"company_id": "ena-foods", "submission_id": "s-0123456789", "services": ["diagnosis"],
            "contact_name": "経理 田中", "contact_phone": "0521234567"}
    first = await helpdesk.client.post("/api/v1/application-forms", headers=headers, json=form)
    again = await helpdesk.client.post("/api/v1/application-forms", headers=headers, json=form)
    assert first.status_code == again.status_code == 201, first.text
    assert len(await applications(helpdesk, auth_headers, "ena-foods")) == 1

    # ena-foods' link, pointed at gifu-seiki: refused, and gifu-seiki gets nothing.
    page = await browser.new_page(**PHONE)
    await page.goto(url.replace("company=ena-foods", "company=gifu-seiki"))
    await page.check("input[value=diagnosis]")
    await page.fill("#contact_name", "誰か")
    await page.fill("#contact_phone", "0521234567")
    await page.click("#submit")
    await page.wait_for_selector("#link-error >> text=このリンクは使えません")
    assert await applications(helpdesk, auth_headers, "gifu-seiki") == []
    peek = await helpdesk.client.get("/api/v1/applications?company_id=gifu-seiki", headers=headers)
    assert peek.status_code == 404
    # A form link cannot mint itself a new one, and another partner's operator cannot open the form.
    assert (await helpdesk.client.post("/api/v1/companies/ena-foods/application-link", headers=headers)).status_code == 403
    kansai = auth_headers("operator", partner_id="kansai")
    assert (await helpdesk.client.post("/api/v1/companies/ena-foods/application-link", headers=kansai)).status_code == 404


class TestFromTheChat:
    @pytest.fixture
    def signing_key(self, rasa_bot):
        """The action server mints its tokens with the session bot's key: the help desk must share it."""
        return rasa_bot.signing_key

    @pytest.fixture
    async def desk(self, rasa_bot, start_service, line_platform, monkeypatch, auth_headers):
        monkeypatch.setenv("OTASUKE_RASA_URL", rasa_bot.url)
        svc = await start_helpdesk(start_service, monkeypatch, auth_headers, line_platform.url, ports=rasa_bot.ports)
        yield svc
        await svc.client.aclose()

    async def test_the_bot_offers_the_form_and_then_reports_the_application(self, desk, browser, auth_headers):
        code = await link_code(desk.client, auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki"),
                               "gifu-seiki", name="総務 山田")
        chat = await browser.new_page(**PHONE)
        await chat.goto(desk.url + "/")
        await chat.wait_for_selector("body[data-connected='1']")
        await chat.fill("#text", code)
        await chat.click("form#send button")
        await chat.wait_for_selector("text=総務 山田様として登録しました")
        await chat.fill("#text", "サービスを申し込みたいです")
        await chat.click("form#send button")
        link = await chat.wait_for_selector("a.link-button")
        url = await link.get_attribute("href")
        assert url.startswith(desk.url + "/apply#company=gifu-seiki&token=")

        form = await browser.new_page(**PHONE)
        await form.goto(url)
        await form.check("input[value=edr]")
        await form.fill("#date0", in_days(6))
        await form.fill("#devices", "8")
        await form.fill("#contact_name", "総務 山田")
        await form.fill("#contact_phone", "090-1234-5678")
        await form.click("#submit")
        await form.wait_for_selector("#statuses >> text=EDR（パソコン監視ソフト）：仮申込")

        await chat.fill("#text", "工事はいつ？")
        await chat.click("form#send button")
        await chat.wait_for_selector("text=EDR（パソコン監視ソフト）のお申し込みは「仮申込」です。")
