"""The help desk process: the single front door (chat, enrolment, tickets)."""
from __future__ import annotations

import asyncio
from pathlib import Path

from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from otasuke.platform.companies import CompanyDirectory
from otasuke.platform.service import Runtime, ServiceSpec

from .. import nlu
from ..adapters.bot import LazyBot
from ..adapters.line import LineChannel
from ..adapters.webchat import WebChatSockets
from ..application.alerts import AlertPusher, run_scheduler
from ..application.chat import ChatService
from ..application.config import HelpdeskConfig
from ..application.delivery import Delivery
from ..application.operator_accounts import LOGIN_ATTEMPTS_DDL, OperatorAccountView
from ..application.read_models import AlertView, ApplicationView, DiagnosisView, HelpdeskView
from .api.applications import ApplicationController
from .api.companies import CompanyController
from .api.contacts import ContactController, LinkLockController
from .api.operator_accounts import OperatorAccountController
from .api.tickets import TicketController
from .apply_form import ApplicationFormController, ApplicationLinkController, apply_form_page
from .console_accounts import ConsoleAccountsController
from .console_login import ConsoleController, live_console_session
from .line_webhook import INBOX_DDL, line_webhook
from .webchat import chat_page, chat_socket

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


async def _start(rt: Runtime) -> None:
    config = HelpdeskConfig.from_env()
    line = None
    if config.line_access_token:
        line = LineChannel(access_token=config.line_access_token, api_base=config.line_api_base)
    web = WebChatSockets()
    delivery = Delivery(rt, web, line)
    bot = LazyBot(rt.settings)
    async with rt.pool.acquire() as conn:
        await conn.execute(INBOX_DDL)
        await conn.execute(LOGIN_ATTEMPTS_DDL)
    rt.extras.update(config=config, line=line, web=web, delivery=delivery, bot=bot,
                     chat=ChatService(rt, delivery, config, bot))
    rt.extras["scheduler"] = asyncio.create_task(run_scheduler(rt, delivery, config.tick_seconds), name="helpdesk-scheduler")


async def _stop(rt: Runtime) -> None:
    task = rt.extras.get("scheduler")
    if task is not None:
        task.cancel()
    if rt.extras.get("line") is not None:
        await rt.extras["line"].close()
    if rt.extras.get("bot") is not None:
        await rt.extras["bot"].close()


spec = ServiceSpec(
    name="helpdesk_bot",
    title="Help desk",
    route_handlers=[CompanyController, ContactController, LinkLockController, TicketController, ApplicationController,
                    line_webhook, chat_page, chat_socket, *nlu.routes,
                    ConsoleController, ConsoleAccountsController, OperatorAccountController, ApplicationLinkController, ApplicationFormController,
                    apply_form_page],
    projections=[CompanyDirectory("helpdesk_bot"), HelpdeskView(), AlertView(), DiagnosisView(), ApplicationView(),
                 OperatorAccountView()],
    reactors=lambda rt: [AlertPusher(rt)],
    on_startup=[_start],
    on_shutdown=[_stop],
    public_paths=["^/$", "^/console(/|$)", "^/apply$", "^/chat/ws", "^/webhooks/line$"],
    litestar_kwargs={"template_config": TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
                     # Console operator tokens die with their sign-in session (logout, disable, reset).
                     "guards": [live_console_session]},
    sidecars=nlu.sidecars,
)
