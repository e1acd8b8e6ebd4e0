"""The sender loop: sends due mails and records each send as an event; resumable.

Each round:

1. pick due recipients of active campaigns from the read model
   (``scheduled``, or ``dispatching`` = in flight when a previous sender stopped);
2. append ``dispatch_started`` with their ids (the intent log) *before* sending;
3. hand each mail to the relay, then append ``mail_sent`` (or
   ``mail_delivery_failed``) on the recipient, with an event id derived from
   the recipient id so a retried append is dropped by JetStream;
4. wait until the read model has seen those events, so the next round cannot
   pick the same recipients again.

A restart therefore never skips anyone (everything not ``sent``/``failed`` is
picked again) and never resends a mail whose ``mail_sent`` was recorded. The
only window left is between the relay accepting a mail and ``mail_sent``
being stored (milliseconds): such a recipient is still ``dispatching`` and is
sent once more, with the *same* Message-ID, and ``resent_after_restart`` is
set. We chose at-least-once there because a missing training mail silently
skews the results, while a duplicate with the same Message-ID is recognisable
(many clients and mailbox stores collapse it) and counted once.

Only one sender runs per deployment (a PostgreSQL advisory lock), and it
starts only after the read model has caught up with the stream.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta


from otasuke.events import EventMeta, Tenant
from otasuke.events.envelope import derived_id
from otasuke.events.projection import SessionLock
from otasuke.events.schemas import training as ev
from otasuke.platform.service import Runtime

from ..adapters.smtp_relay import PermanentRefusal, RelayUnavailable, SmtpRelay
from ..domain import campaign as domain
from ..domain.lures import get_lure
from ..domain.message import build_message
from .campaigns import close_finished_campaigns, ref
from .config import TrainingConfig
from .mail_render import render_invitation, render_mail
from .read_model import RESULTS_PROJECTION

log = logging.getLogger(__name__)



class CampaignSender:
    def __init__(self, rt: Runtime, relay: SmtpRelay, config: TrainingConfig, batch: int = 200):
        self.rt = rt
        self.relay = relay
        self.config = config
        self.batch = batch
        self.sent = 0
        self._task: asyncio.Task | None = None
        self._lock = SessionLock("training.sender", connect=rt.connect)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="training-sender")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._stopping.set()
        await self._lock.release()
        await self.relay.close()

    async def _run(self) -> None:
        # A session of its own holds the lock for as long as this sender runs.
        if not await self._lock.acquire(self._stopping):
            return
        while RESULTS_PROJECTION not in self.rt.runners:  # start-up hooks run before the consumers start
            await asyncio.sleep(0.1)
        runner = self.rt.runner(RESULTS_PROJECTION)
        while not await runner.caught_up():
            await asyncio.sleep(0.2)
        last_close_check = datetime.min.replace(tzinfo=UTC)
        while True:
            try:
                if not self._lock.held:  # the lock session died: another sender may lead now
                    if not await self._lock.acquire(self._stopping):
                        return
                now = datetime.now(UTC)
                done = await self.send_due(now)
                done += await self.send_invitations(now)
                if now - last_close_check > timedelta(minutes=1):
                    last_close_check = now
                    await close_finished_campaigns(self.rt, timedelta(days=self.config.observe_days), now)
                if done == 0:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
                    except asyncio.TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except RelayUnavailable as exc:
                log.warning("training sender: relay unavailable, retrying: %s", exc)
                await asyncio.sleep(2.0)
            except Exception:
                log.exception("training sender: round failed; retrying")
                await asyncio.sleep(1.0)

    async def send_due(self, now: datetime) -> int:
        """One round; returns how many recipients were handled."""
        rows = await self.rt.pool.fetch(
            """SELECT r.recipient_id, r.email, r.name, r.status, r.campaign_id, r.partner_id, r.company_id,
                      c.template_id, c.sender_name, c.sender_address, c.charset
               FROM recipients r JOIN campaigns c USING (campaign_id)
               WHERE r.status IN ('scheduled','dispatching') AND r.send_at <= $1 AND c.status = 'active'
               ORDER BY r.send_at LIMIT $2""",
            now, self.batch,
        )
        if not rows:
            return 0
        by_campaign: dict[str, list] = defaultdict(list)
        for r in rows:
            by_campaign[r["campaign_id"]].append(r)
        last_seq = 0
        for campaign_id, members in by_campaign.items():
            tenant = Tenant(members[0]["partner_id"], members[0]["company_id"])
            fresh = [m["recipient_id"] for m in members if m["status"] == "scheduled"]
            if fresh:
                digest = hashlib.sha1(",".join(sorted(fresh)).encode()).hexdigest()
                [intent] = await self.rt.store.append(
                    ref(tenant, domain.DISPATCH, campaign_id),
                    [ev.DispatchStarted(campaign_id=campaign_id, recipient_ids=fresh)],
                    expected_seq=None, meta=EventMeta(actor="system", correlation_id=campaign_id),
                    event_ids=[derived_id(f"{campaign_id}:dispatch:{digest}")],
                )
                last_seq = max(last_seq, intent.seq)
            results = await asyncio.gather(*(self._send_one(tenant, m, now) for m in members), return_exceptions=True)
            last_seq = max([last_seq, *(r for r in results if isinstance(r, int))])
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                # Let the read model see what did go out before anyone picks again.
                if last_seq:
                    await self.rt.wait_for(RESULTS_PROJECTION, last_seq, timeout=30)
                raise failure
        await self.rt.wait_for(RESULTS_PROJECTION, last_seq, timeout=30)
        return len(rows)

    async def send_invitations(self, now: datetime) -> int:
        """Learning invitations: one per recipient and stage, resumable the same way (no intent log:
        an invitation is not a lure, so a rare duplicate after a crash does no harm to the results)."""
        rows = await self.rt.pool.fetch(
            """SELECT i.recipient_id, i.stage, r.email, r.name, r.campaign_id, r.partner_id, r.company_id,
                      c.template_id, c.charset
               FROM invitations i JOIN recipients r USING (recipient_id) JOIN campaigns c ON c.campaign_id = r.campaign_id
               WHERE i.status = 'pending' AND c.status <> 'cancelled' LIMIT $1""",
            self.batch,
        )
        if not rows:
            return 0
        results = await asyncio.gather(*(self._invite_one(r, now) for r in rows), return_exceptions=True)
        seqs = [r for r in results if isinstance(r, int)]
        if seqs:
            await self.rt.wait_for(RESULTS_PROJECTION, max(seqs), timeout=30)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        return len(rows)

    async def _invite_one(self, row, now: datetime) -> int:
        rid, stage = row["recipient_id"], row["stage"]
        mail = render_invitation(
            stage, lure=get_lure(row["template_id"]), public_url=self.config.public_url,
            sender_domain=self.config.sender_domain, recipient_id=rid, campaign_id=row["campaign_id"],
            to_name=row["name"], to_address=row["email"], charset=row["charset"], now=now,
        )
        try:
            await self.relay.send(build_message(mail), sender=mail.sender_address, recipient=row["email"])
        except PermanentRefusal:
            pass  # the lure's own delivery failure already tells the admin about this address
        [rec] = await self.rt.store.append(
            ref(Tenant(row["partner_id"], row["company_id"]), domain.RECIPIENT, rid),
            [ev.LearningInvitationSent(campaign_id=row["campaign_id"], stage=stage, message_id=mail.message_id,
                                       sent_at=datetime.now(UTC))],
            expected_seq=None, meta=EventMeta(actor="system", correlation_id=row["campaign_id"]),
            event_ids=[derived_id(f"{rid}:invite:{stage}")],
        )
        return rec.seq

    async def _send_one(self, tenant: Tenant, row, now: datetime) -> int:
        lure = get_lure(row["template_id"])
        rid = row["recipient_id"]
        resent = row["status"] == "dispatching"
        mail = render_mail(
            lure, public_url=self.config.public_url, sender_name=row["sender_name"],
            sender_address=row["sender_address"], recipient_id=rid, campaign_id=row["campaign_id"],
            to_name=row["name"], to_address=row["email"], charset=row["charset"], now=now,
        )
        message = build_message(mail)
        payload: ev.MailSent | ev.MailDeliveryFailed
        try:
            await self.relay.send(message, sender=row["sender_address"], recipient=row["email"])
            payload = ev.MailSent(
                campaign_id=row["campaign_id"], message_id=mail.message_id, sent_at=datetime.now(UTC),
                resent_after_restart=resent,
            )
            self.sent += 1
        except PermanentRefusal as exc:
            payload = ev.MailDeliveryFailed(campaign_id=row["campaign_id"], reason=str(exc)[:500])
        [rec] = await self.rt.store.append(
            ref(tenant, domain.RECIPIENT, rid), [payload], expected_seq=None,
            meta=EventMeta(actor="system", correlation_id=row["campaign_id"]),
            event_ids=[derived_id(f"{rid}:delivery")],
        )
        return rec.seq
