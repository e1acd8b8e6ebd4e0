"""The web chat and the operator console in a real headless Chromium."""
from helpdesk_console_kit import operator_with_password, sign_in
from helpdesk_testkit import link_code, raise_alert


async def test_web_chat_alert_card_hand_over_and_operator_reply(helpdesk, browser, auth_headers):
    code = await link_code(helpdesk.client, auth_headers("company_admin", partner_id="chubu", company_id="gifu-seiki"),
                           "gifu-seiki", name="社長 佐藤")
    chat = await browser.new_page(viewport={"width": 390, "height": 800}, is_mobile=True)
    await chat.goto(helpdesk.url + "/")
    await chat.wait_for_selector("body[data-connected='1']")
    await chat.fill("#text", code)
    await chat.click("form#send button")
    await chat.wait_for_selector("text=社長 佐藤様として登録しました")

    alert_id = await raise_alert(helpdesk.runtime.store, "chubu", "gifu-seiki", severity="critical")
    card = await chat.wait_for_selector(f".card[data-alert='{alert_id}']")
    assert "重要度：緊急" in await card.inner_text()
    assert "LANケーブル" in await card.inner_text()
    await (await card.query_selector("button:has-text('詳しく')")).click()
    await chat.wait_for_selector("text=PC-経理01（1回検知")
    await (await card.query_selector("button:has-text('対応を依頼')")).click()
    await chat.wait_for_selector("text=担当者におつなぎします")

    suzuki = await operator_with_password(helpdesk, auth_headers, "chubu", "suzuki@chubu.example", "鈴木")
    console = await browser.new_page()
    await sign_in(console, helpdesk.url, suzuki.email, suzuki.password)
    ticket = await console.wait_for_selector(".ticket")
    assert "gifu-seiki 株式会社" in await ticket.inner_text()
    await ticket.click()
    await console.wait_for_selector("#transcript >> text=対応を依頼")
    assert (await console.inner_text("#transcript [data-sender='customer']")).startswith("お客様")
    assert "不審な外部サーバーとの通信" in await console.inner_text("#alerts")
    await console.fill("#reply", "担当の鈴木です。状況を確認します。")
    await console.click("#send")
    await chat.wait_for_selector(".msg.operator >> text=担当の鈴木です。状況を確認します。")
    await console.wait_for_selector("#status[data-status='in_progress']")
    assert await console.inner_text("#status") == "対応中"

    # A reload shows the conversation so far (history from the transcript).
    await chat.reload()
    await chat.wait_for_selector(".msg >> text=担当の鈴木です。状況を確認します。")


async def test_console_without_a_session_shows_the_japanese_login_page(helpdesk, browser):
    page = await browser.new_page()
    await page.goto(helpdesk.url + "/console")
    await page.wait_for_url("**/console/login")
    assert await page.inner_text("label[for=email]") == "メールアドレス"
    assert await page.query_selector("#tickets") is None
