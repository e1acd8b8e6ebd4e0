"""The SMTP relay the training mails go through (aiosmtplib), with a few kept-open connections.

``OTASUKE_SMTP_URL``: ``smtp://[user:password@]host[:port]`` (STARTTLS when
the relay offers it) or ``smtps://…`` (TLS from the start).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote, urlsplit

import aiosmtplib

log = logging.getLogger(__name__)


class PermanentRefusal(Exception):
    """The relay refused this mail for good (5xx): record a delivery failure."""


class RelayUnavailable(Exception):
    """The relay could not take the mail now (connection, 4xx): try again later."""


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int
    use_tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> "RelayConfig":
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"OTASUKE_SMTP_URL {url!r} must look like smtp://host:port or smtps://host:port")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            use_tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpRelay:
    def __init__(self, config: RelayConfig, connections: int = 8, timeout: float = 30.0):
        self.config = config
        self.timeout = timeout
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(connections):
            self._idle.put_nowait(None)  # connected lazily

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(hostname=c.host, port=c.port, use_tls=c.use_tls, timeout=self.timeout)
        await client.connect()
        if c.username:
            await client.login(c.username, c.password or "")
        return client

    async def send(self, message: Message, *, sender: str, recipient: str) -> None:
        client = await self._idle.get()
        try:
            for attempt in (1, 2):
                try:
                    if client is None or not client.is_connected:
                        client = await self._connect()
                    await client.send_message(message, sender=sender, recipients=[recipient])
                    return
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    codes = [e.code for e in exc.recipients]
                    if all(code >= 500 for code in codes):
                        raise PermanentRefusal("; ".join(f"{e.code} {e.message}" for e in exc.recipients)) from exc
                    raise RelayUnavailable(str(exc)) from exc
                except aiosmtplib.SMTPResponseException as exc:
                    if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPServerDisconnected):
                        raise PermanentRefusal(f"{exc.code} {exc.message}") from exc
                    raise RelayUnavailable(f"{exc.code} {exc.message}") from exc
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError) as exc:
                    # A kept-open connection the relay closed: reconnect once, then give up for now.
                    client = None
                    if attempt == 2:
                        raise RelayUnavailable(f"relay {self.config.host}:{self.config.port}: {exc}") from exc
                except aiosmtplib.SMTPException as exc:
                    client = None
                    raise RelayUnavailable(str(exc)) from exc
        except asyncio.CancelledError:
            # Stopped mid-transaction: the connection's state is unknown, never reuse it.
            if client is not None:
                client.close()
            client = None
            raise
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client is not None and client.is_connected:
                try:
                    await asyncio.wait_for(client.quit(), 2.0)
                except Exception:
                    client.close()
