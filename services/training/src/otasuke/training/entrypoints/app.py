"""The phishing-training process: API, public tracking pages, read model and the sender loop."""
from __future__ import annotations

import logging

from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import Runtime, ServiceSpec

from ..application import national_stats

from ..adapters.report_mailbox import start_report_mailbox
from ..adapters.smtp_relay import RelayConfig, SmtpRelay
from ..application import tracking
from ..application.config import TrainingConfig
from ..application.read_model import TrainingReadModel
from ..application.sender import CampaignSender
from .api.campaigns import CampaignController, list_templates
from .api.reports import REPORT_ROUTES
from .pages import PAGES

log = logging.getLogger(__name__)


async def start_sender(rt: Runtime) -> None:
    config = TrainingConfig.from_env()
    rt.extras["training_config"] = config
    if config.report_smtp_port:
        rt.extras["report_mailbox"] = await start_report_mailbox(
            rt.settings.host, config.report_smtp_port, lambda token: report_by_mail(rt, token)
        )
    if not config.smtp_url:
        log.warning("training: OTASUKE_SMTP_URL is not set; campaigns are planned but no mail is sent")
        return
    sender = CampaignSender(rt, SmtpRelay(RelayConfig.from_url(config.smtp_url)), config)
    rt.extras["sender"] = sender
    # Started after the projections (the sender waits for the read model to catch up first).
    sender.start()


async def report_by_mail(rt: Runtime, token: str) -> bool:
    row = await tracking.recipient_by_token(rt, token)
    return row is not None and await tracking.record_report(rt, row, "mailbox")


async def stop_sender(rt: Runtime) -> None:
    sender = rt.extras.get("sender")
    if sender is not None:
        await sender.stop()
    mailbox = rt.extras.get("report_mailbox")
    if mailbox is not None:
        mailbox.close()


spec = ServiceSpec(
    name="training",
    title="Phishing training",
    route_handlers=[list_templates, CampaignController, *REPORT_ROUTES, *PAGES],
    projections=[CompanyDirectory("training"), TrainingReadModel()],
    reactors=lambda rt: [national_stats.publisher(rt)],
    on_startup=[start_sender],
    on_shutdown=[stop_sender],
    public_paths=["^/t/"],
    # A 100,000-recipient list is about 10 MB of JSON.
    litestar_kwargs={"request_max_body_size": 64 * 1024 * 1024},
)
