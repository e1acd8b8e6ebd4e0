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
