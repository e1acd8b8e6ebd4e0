"""Render one recipient's training mail: the lure's text and HTML with their personal links."""
from __future__ import annotations

from datetime import datetime
from functools import cache

from ..domain.lures import Lure
from ..domain.message import Mail, message_id_for


@cache
def _env():
    from otasuke.platform.documents import template_env

    env = template_env("otasuke.training")
    return env


def links(public_url: str, token: str) -> dict[str, str]:
    return {
        "link": f"{public_url}/t/{token}/c",
        "pixel": f"{public_url}/t/{token}/o.gif",
        "report": f"{public_url}/t/{token}/report",
    }


def render_mail(
    lure: Lure,
    *,
    public_url: str,
    sender_name: str,
    sender_address: str,
    recipient_id: str,
    campaign_id: str,
    to_name: str,
    to_address: str,
    charset: str,
    now: datetime,
) -> Mail:
    env = _env()
    urls = links(public_url, recipient_id)
    values = {"name": to_name or to_address.split("@")[0], **urls}
    text = env.get_template(f"lures/{lure.id}.txt").render(values)
    html = env.get_template(f"lures/{lure.id}.html").render(values)
    domain = sender_address.rsplit("@", 1)[-1]
    return Mail(
        sender_name=sender_name, sender_address=sender_address, to_name=to_name, to_address=to_address,
        subject=lure.subject, text=text, html=html,
        message_id=message_id_for(recipient_id, domain),
        campaign_id=campaign_id, date=now, charset=charset,
    )


INVITATION_SUBJECTS = {
    "pre": "【研修】あやしいメールの見分け方（事前学習・3分）",
    "post": "【研修】標的型メール訓練の振り返り（3分）",
}


def render_invitation(
    stage: str,
    *,
    lure: Lure,
    public_url: str,
    sender_domain: str,
    recipient_id: str,
    campaign_id: str,
    to_name: str,
    to_address: str,
    charset: str,
    now: datetime,
) -> Mail:
    """The honest mail that invites a recipient to the pre- or post-learning page."""
    env = _env()
    values = {
        "name": to_name or to_address.split("@")[0],
        "learn": f"{public_url}/t/{recipient_id}/learn?stage={stage}",
        "subject": lure.subject,
    }
    return Mail(
        sender_name="情報セキュリティ研修", sender_address=f"learning@{sender_domain}",
        to_name=to_name, to_address=to_address, subject=INVITATION_SUBJECTS[stage],
        text=env.get_template(f"invitations/{stage}.txt").render(values),
        html=env.get_template(f"invitations/{stage}.html").render(values),
        # Not the lure's Message-ID, so a forwarded invitation is never taken for a report.
        message_id=f"<{recipient_id}.{stage}@{sender_domain}>",
        campaign_id=campaign_id, date=now, charset=charset, learning_stage=stage,
    )
