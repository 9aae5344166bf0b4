"""The alert cycle: scan each subscription, post one digest of what is newly waiting, keep it current.

A service: it knows nothing of Slack. Digests go through a `DigestPublisher` (`bot/digests.py`; the
Slack one is `bot/slack/publisher.py`); the stale scan and the no-repeat rules are `bot/stale.py`; the
loop and the command line are `bot/worker.py`. The console's `:alerts` runs `AlertWorker(...).run_cycle()`.

*No repeats.* Each alerted chatroom has an `AlertRecord` (the LastAgentVisit it was alerted on and the
digest it appeared in); `bot/stale.py:alert_decision` says whether a stale room is posted. A room no
longer stale (visited, closed, deleted) — or stale again after a newer visit — is resolved: its digest
is redrawn to show it. Rooms beyond what a digest shows are counted ("…and 37 more", with a button
listing them) and recorded too, so they are not posted again either. A cycle adds one find-by-ids
request per digest whose shown rows changed (to redraw it with current names).

*Post, then stamp.* A digest and its rows are recorded first with a pending ts (`Store.begin_digest`),
the post carries that intent, then `Store.stamp_digest` swaps in Slack's ts. A worker killed in between
leaves the intent; the next cycle (`_reconcile`) finds the message in the channel's history and stamps
it, or drops the intent if Slack never got the post (after `DROP_GRACE`). In the same spirit, a digest
whose rows change is flagged (`Store.mark_digest`) before the change is recorded and unflagged once
redrawn; the next cycle redraws any digest still flagged (`_redraw_flagged`).

*Credentials.* A scan uses the login of the subscription's creator. If it is removed or rejected, the
subscription pauses (`paused_reason`) and the channel is told once. It resumes on the first cycle after
the creator has a login that works: a removed login is retried as soon as one is saved again; a rejected
login is retried at once when it changes (the creator logged in again) and otherwise at most once every
`REJECTED_RETRY` (an hour), so a wrong password is not sent to Nexudus every cycle, yet a role granted
back is noticed without a new login. (The worker remembers the refused login in memory; a restarted
worker tries it once more.)

*Shared scans.* Subscriptions whose creators use one Nexudus account share the cycle's scans
(`bot/scans.py`): the cycle plans them first, each (account, business) is scanned once with the smallest
threshold, and each subscription keeps what is stale by its own; `share_scans=False` scans once per
subscription (the benchmark compares both).

*Failures.* Any other failure (Nexudus down, throttled, Slack refusing) is logged and reported to the
channel once (`last_error`, `last_error_reported`); the next cycle runs normally and, when it succeeds,
says so. One subscription failing never stops the others.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics, subscribing
from bot.deps import Deps
from bot.digests import (
    MAX_DIGEST_ROWS,
    DigestMessage,
    DigestPublisher,
    Failing,
    Opened,
    Paused,
    PublishRefused,
    Recovered,
    Resumed,
    StaleRow,
    escalation_due,
    redraw_digest,
    stale_row,
    update_escalation,
)
from bot.nexudus.credentials import Credentials
from bot.nexudus.models import ChatRoom
from bot.scans import SharedScans, account_of
from bot.schedule import SUMMARY_LOOKBACK, daily_summary, is_open, summary_day, zone_of
from bot.services import CredentialsRejected, LoginExpired, NotLoggedIn, UserSession
from bot.stale import (
    MAX_SCAN_PAGES,
    ScanStats,
    alert_decision,
    heard_in_channel,
    unseen_resolved,
    waiting_key,
)
from bot.store import AlertRecord, Digest, StoreError, Subscription, new_pending_ts

log = logging.getLogger(__name__)

REJECTED_RETRY = timedelta(hours=1)
FORGET_RESOLVED_AFTER = timedelta(days=7)
"""Resolved alert records are kept a week (a digest redrawn meanwhile still knows them), then deleted."""
DROP_GRACE = timedelta(minutes=2)
"""An unstamped digest not found in Slack is dropped (and its rooms posted again) only once it is this old."""
LOGGED_OUT = "<@{user}>'s Nexudus login was removed from this app."
UNREADABLE = "<@{user}>'s saved Nexudus login can no longer be read by this app; they need to log in again."
REJECTED = "Nexudus no longer accepts <@{user}>'s saved login (or the account lacks the ChatRoom-List role)."
EXPIRED = "<@{user}>'s Nexudus login expired and could not be renewed."
NewWait = tuple[float, int, datetime | None, int | None]
"""A room newly waiting in a scan: (waiting since as a timestamp, id, last visit, business)."""


class CycleFailed(Exception):
    """A subscription's cycle failed with `cause`: `describe` words it for the subscription's channel."""

    def __init__(self, cause: BaseException, sub: Subscription) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause
        self.subscription = sub


# ------------------------------------------------------------------------------------------ worker


@dataclass
class CycleReport:
    """What one cycle did, for logs, the console and tests."""

    subscriptions: int = 0
    """Subscriptions scanned (paused ones skipped are counted in `paused`)."""
    paused: int = 0
    resumed: int = 0
    chatrooms_alerted: int = 0
    resolved: int = 0
    digests_posted: int = 0
    digests_updated: int = 0
    digests_recovered: int = 0
    """Digests posted by an interrupted cycle, found in Slack and stamped."""
    quiet: int = 0
    """Subscriptions outside their hours or days: not scanned, nothing posted."""
    escalated: int = 0
    summaries: int = 0
    errors: int = 0
    nexudus_requests: int = 0
    """List and find-by-ids requests the scans made (retries not counted); a shared scan is counted once."""
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        recovered = (
            f", {self.digests_recovered} digests of an interrupted cycle recovered" if self.digests_recovered else ""
        )
        recovered += f", {self.quiet} in quiet hours" if self.quiet else ""
        recovered += f", {self.escalated} escalated" if self.escalated else ""
        recovered += f", {self.summaries} daily summaries" if self.summaries else ""
        return (
            f"{self.subscriptions} subscriptions scanned, {self.paused} paused, {self.chatrooms_alerted} chatrooms "
            f"alerted, {self.resolved} resolved, {self.digests_posted} digests posted, {self.digests_updated} "
            f"updated{recovered}, {self.errors} errors, {self.nexudus_requests} Nexudus requests"
        )


class AlertWorker:
    """Runs alert cycles over every subscription. Time comes from `deps.clock`; posts go through a publisher."""

    def __init__(self, deps: Deps, publisher: DigestPublisher, *, share_scans: bool = True) -> None:
        self.deps = deps
        self.publisher = publisher
        self.share_scans = share_scans
        """One scan per Nexudus account and business filter a cycle (`bot/scans.py`); False: one a subscription."""
        self._publishers: dict[tuple[str, str | None], DigestPublisher | None] = {}
        self._channels: dict[tuple[str, str], list[Subscription]] = {}
        """This cycle's subscriptions by (team, channel): read once, not once a subscription."""
        self.interval = float(deps.settings.alert_interval_seconds)
        self._rejected: dict[str, tuple[Credentials, datetime]] = {}
        self._lock = threading.Lock()

    def publisher_for(self, sub: Subscription) -> DigestPublisher:
        """Where `sub`'s workspace is posted to: `deps.publisher_for_team` (one bot token a workspace) or ours."""
        publisher = self._workspace_publisher(sub)
        if publisher is None:  # run_cycle skips the subscriptions of workspaces without the app
            raise RuntimeError(f"team {sub.team_id} has no installation of the app")
        return publisher

    def _workspace_publisher(self, sub: Subscription) -> DigestPublisher | None:
        hook = self.deps.publisher_for_team
        if hook is None:
            return self.publisher
        workspace = (sub.team_id, sub.enterprise_id)
        if workspace not in self._publishers:  # once a cycle: its bot token is looked up when first needed
            self._publishers[workspace] = hook(*workspace)
        return self._publishers[workspace]

    def _installed(self, sub: Subscription, report: CycleReport) -> bool:
        """Whether `sub`'s workspace has the app installed (many workspaces); one workspace always has."""
        if self._workspace_publisher(sub) is None:
            report.paused += 1  # uninstalled: paused when Slack said so; resumes once the app is reinstalled
            log.info("alerts %s: team %s has no installation of the app; skipped", sub.id, sub.team_id)
            return False
        return True

    def run_cycle(self) -> CycleReport:
        """One pass over every subscription of every team; one failing never stops the others."""
        report = CycleReport()
        self._prune_audit()
        try:
            with self._lock:
                self._publishers.clear()
                subscriptions = self.deps.store.subscriptions()
                self._channels.clear()
                for sub in subscriptions:
                    self._channels.setdefault((sub.team_id, sub.channel_id), []).append(sub)
                scans = self._plan_scans(subscriptions)
                for sub in subscriptions:
                    try:
                        if not self._installed(sub, report):
                            continue
                        self._run_subscription(sub, report, scans)
                    except StoreError:
                        raise  # the store, not this subscription: telling its channel would be untrue
                    except Exception as exc:
                        report.errors += 1
                        self._failed(sub, exc, report)
        except Exception as exc:
            metrics.ALERT_CYCLES.labels("failed").inc()
            metrics.count_failure(exc)
            raise
        metrics.ALERT_CYCLES.labels("with_errors" if report.errors else "ok").inc()
        return report

    def _prune_audit(self) -> None:
        """The audit trail's retention (`AUDIT_RETENTION_DAYS`), at most hourly: never a reason to skip alerts."""
        try:
            self.deps.services.audit.prune(self.deps.settings.audit_retention_days)
        except Exception:
            log.exception("audit trail: pruning old entries failed; retried next cycle")

    def _plan_scans(self, subscriptions: Sequence[Subscription]) -> SharedScans:
        """Which subscriptions will scan this cycle, by Nexudus account: shared scans use the smallest threshold."""
        scans = SharedScans(enabled=self.share_scans)
        if not self.share_scans:
            return scans
        now = self.deps.clock()
        base_url = self.deps.services.clients.base_url
        emails: dict[tuple[str, str], str | None] = {}
        for sub in subscriptions:
            if not is_open(sub, now, zone_of(sub, self.deps.zone)) or self._workspace_publisher(sub) is None:
                continue  # quiet hours, or the app is not installed there: not scanned
            creator = (sub.team_id, sub.created_by)
            if creator not in emails:
                credentials = self.deps.store.load_credentials(*creator)
                emails[creator] = credentials.email if credentials is not None else None
            email = emails[creator]
            if email is not None:
                scans.expect(sub, account_of(base_url, email))
        return scans

    def _run_subscription(self, sub: Subscription, report: CycleReport, scans: SharedScans) -> None:
        store = self.deps.store
        if not is_open(sub, self.deps.clock(), zone_of(sub, self.deps.zone)):
            # Quiet hours: nothing is posted (nor scanned); the next opening says what waited meanwhile.
            report.quiet += 1
            if sub.quiet_since is None:
                store.update_subscription(sub.model_copy(update={"quiet_since": self.deps.clock()}))
            return
        credentials = store.load_credentials(sub.team_id, sub.created_by)
        if credentials is None:
            report.paused += 1
            if sub.paused_reason is None:
                # Saved but unreadable (damaged) is not "removed": say which it is.
                unreadable = store.has_credentials(sub.team_id, sub.created_by)
                self._pause(sub, (UNREADABLE if unreadable else LOGGED_OUT).format(user=sub.created_by))
            return
        refused = self._rejected.get(sub.id)
        now = self.deps.clock()
        same_refused = refused is not None and refused[0] == credentials and now < refused[1] + REJECTED_RETRY
        if sub.paused_reason is not None and same_refused:
            report.paused += 1  # the login Nexudus refused: wait for a new one, or an hour
            return
        services = self.deps.services
        report.subscriptions += 1
        try:
            # Refreshes the creator's tokens when they are due; a refused refresh pauses the subscription
            # and the channel is told once, naming the creator, who is asked to log in again.
            current = services.credentials(sub.team_id, sub.created_by)
            session = UserSession(services, services.clients(current), current)
            self._scan(sub, session, report, scans)
        except NotLoggedIn:
            report.paused += 1
            if sub.paused_reason is None:
                self._pause(sub, LOGGED_OUT.format(user=sub.created_by))
            return
        except LoginExpired:
            self._rejected[sub.id] = (credentials, now)
            report.paused += 1
            if sub.paused_reason is None:
                self._pause(sub, EXPIRED.format(user=sub.created_by))
            return
        except CredentialsRejected:
            self._rejected[sub.id] = (credentials, now)
            report.paused += 1
            if sub.paused_reason is None:
                self._pause(sub, REJECTED.format(user=sub.created_by))
            return
        self._rejected.pop(sub.id, None)
        self._succeeded(sub, report)

    # ---------------------------------------------------------------------------------- a scan
    def _scan(self, sub: Subscription, session: UserSession, report: CycleReport, scans: SharedScans) -> None:
        store = self.deps.store
        self._reconcile(sub, report)
        self._redraw_flagged(sub, session, report)
        now = self.deps.clock()
        cutoff = now - timedelta(minutes=sub.threshold_minutes)
        alerts = {rec.chatroom_id: rec for rec in store.alerts_for(sub.id)}
        stats = ScanStats()
        seen: set[int] = set()
        new: list[NewWait] = []  # (waiting since, id, visit, business) of each new room
        oldest: list[tuple[float, int, ChatRoom]] = []  # a max-heap (negated keys) of the oldest new rooms
        to_resolve: list[AlertRecord] = []
        # What this channel already heard about through its other subscriptions: a channel is told once
        # about one wait, whichever of its subscriptions found it first.
        heard = heard_in_channel(
            theirs
            for other in self._channels.get((sub.team_id, sub.channel_id), [])
            if other.id != sub.id
            for theirs in store.alerts_for(other.id)
        )
        covered: list[AlertRecord] = []
        to_escalate: list[tuple[AlertRecord, ChatRoom]] = []
        waiting_since: datetime | None = None
        try:
            for room in scans.stale_rooms(sub, session, now, stats):
                if room.id in seen:
                    continue
                seen.add(room.id)
                rec = alerts.get(room.id)
                told = heard.get(room.id)
                decision = alert_decision(room, rec, told, now)
                since = room.last_agent_visit or room.created_on
                if since is not None and (waiting_since is None or since < waiting_since):
                    waiting_since = since
                if decision.action == "skip":
                    if rec is not None and escalation_due(sub, rec, since, now):
                        to_escalate.append((rec, room))
                    continue
                if decision.supersedes and rec is not None:
                    to_resolve.append(rec)  # visited since, and waiting again: a new wait
                if decision.action == "covered" and told is not None:
                    # Recorded as alerted in the sibling's digest, so it is not posted here later either.
                    covered.append(
                        AlertRecord(
                            subscription_id=sub.id,
                            chatroom_id=room.id,
                            last_agent_visit=room.last_agent_visit,
                            channel_id=sub.channel_id,
                            message_ts=told.message_ts,
                            alerted_at=now,
                            waiting_since=since,
                            business_id=room.business,
                        )
                    )
                    continue
                key, room_id = waiting_key(room)
                new.append((key, room.id, room.last_agent_visit, room.business))
                heapq.heappush(oldest, (-key, -room_id, room))
                if len(oldest) > MAX_DIGEST_ROWS:
                    heapq.heappop(oldest)
        finally:
            report.nexudus_requests += stats.requests
        if stats.complete:
            to_resolve += [
                r for r in alerts.values() if r.chatroom_id not in seen and unseen_resolved(r, sub, cutoff, now)
            ]
        else:
            log.warning("alerts %s: more than %d pages of stale chatrooms; resolutions wait", sub.id, MAX_SCAN_PAGES)
        self._resolve(sub, session, to_resolve, now, report)
        store.put_alerts(covered)
        if new:
            rows = [stale_row(room) for _, _, room in sorted(oldest, key=lambda item: (-item[0], -item[1]))]
            self._post_digest(sub, rows, new, now, report)
        elif sub.quiet_since is not None:
            # The first cycle after quiet hours, with nothing new to post: say so, once.
            self.publisher_for(sub).tell(sub, Opened(sub.quiet_since, len(seen), waiting_since))
        if sub.quiet_since is not None:
            fresh = store.get_subscription(sub.id)
            if fresh is not None:
                store.update_subscription(fresh.model_copy(update={"quiet_since": None}))
        self._escalate(sub, session, to_escalate, now, report)
        self._daily_summary(sub, len(seen), waiting_since, now, report)
        for rec in alerts.values():
            if rec.resolved_at is not None and rec.resolved_at < now - FORGET_RESOLVED_AFTER:
                store.delete_alert(sub.id, rec.chatroom_id)

    def _resolve(
        self, sub: Subscription, session: UserSession, recs: Sequence[AlertRecord], now: datetime, report: CycleReport
    ) -> None:
        """Record rooms that stopped waiting, and redraw the digests that show them.

        Digests are flagged before the rows are recorded, so a crash at any point leaves a flag that the
        next cycle's `_redraw_flagged` acts on: a resolution always reaches the channel.
        """
        store = self.deps.store
        by_digest: dict[str, list[int]] = {}
        for rec in recs:
            report.resolved += 1
            if rec.message_ts:
                by_digest.setdefault(rec.message_ts, []).append(rec.chatroom_id)
        marked = [
            (digest, chatroom_ids)
            for ts, chatroom_ids in by_digest.items()
            if (digest := store.mark_digest(sub.id, ts, dict.fromkeys(chatroom_ids, ""))) is not None
        ]
        store.put_alerts([rec.model_copy(update={"resolved_at": now}) for rec in recs])
        for digest, chatroom_ids in marked:
            if set(chatroom_ids) & set(digest.chatroom_ids[:MAX_DIGEST_ROWS]):
                report.nexudus_requests += 1
                if redraw_digest(self.deps, self.publisher_for(sub), session, sub, digest):
                    report.digests_updated += 1
            else:
                store.digest_redrawn(digest)  # only rows it does not show changed
        for rec in recs:
            if rec.escalation_ts:
                update_escalation(self.publisher_for(sub), sub, rec, None)

    def _post_digest(
        self,
        sub: Subscription,
        rows: list[StaleRow],
        new: list[NewWait],
        now: datetime,
        report: CycleReport,
    ) -> None:
        store = self.deps.store
        if store.get_subscription(sub.id) is None:
            return  # unsubscribed while we scanned
        shown = [row.chatroom_id for row in rows]
        shown_set = set(shown)
        # The rest in the digest's order (longest waiting first), for its "Show the other N" button.
        rest = [chatroom_id for _, chatroom_id, *_ in sorted(new) if chatroom_id not in shown_set]

        pending = Digest(
            subscription_id=sub.id,
            channel_id=sub.channel_id,
            message_ts=new_pending_ts(),
            chatroom_ids=shown + rest,
            posted_at=now,
        )
        records = [
            AlertRecord(
                subscription_id=sub.id,
                chatroom_id=chatroom_id,
                last_agent_visit=visit,
                channel_id=sub.channel_id,
                message_ts=pending.message_ts,
                alerted_at=now,
                waiting_since=datetime.fromtimestamp(key, UTC) if key else None,
                business_id=business,
            )
            for key, chatroom_id, visit, business in new
        ]
        # The intent first: the digest and its rows are recorded before the post, so a worker killed at
        # any point repeats nothing, and the next cycle finds the posted message to stamp (`_reconcile`).
        store.begin_digest(pending, records)
        try:
            message = DigestMessage(rows, more=len(rest), now=now, quiet_since=sub.quiet_since)
            ts = self.publisher_for(sub).post_digest(sub, message, intent=pending.message_ts)
        except PublishRefused:
            store.drop_digest(sub.id, pending.message_ts)  # Slack refused it: nothing was posted, try next cycle
            raise
        # Other failures (a timeout…) may have posted it: the intent stays for `_reconcile` to settle.
        store.stamp_digest(sub.id, pending.message_ts, ts)
        report.digests_posted += 1
        metrics.ALERT_DIGESTS.inc()
        report.chatrooms_alerted += len(new)

    def _escalate(
        self,
        sub: Subscription,
        session: UserSession,
        due: list[tuple[AlertRecord, ChatRoom]],
        now: datetime,
        report: CycleReport,
    ) -> None:
        """Post each room waiting past `escalate-after` once more, in its digest's thread, with the mention.

        The digest is flagged and the escalation recorded before the post, so a crash never posts it twice
        (and the digest's row still shows "escalated"); a post Slack refuses is un-recorded and tried again.
        """
        store = self.deps.store
        publisher = self.publisher_for(sub)
        flagged: dict[str, Digest] = {}
        shown_escalated: set[str] = set()
        for rec, room in due:
            digest = store.mark_digest(sub.id, rec.message_ts)
            if digest is None:
                continue  # its digest is gone: nothing to thread under
            flagged[digest.message_ts] = digest
            marked = rec.model_copy(update={"escalated_at": now})
            store.put_alert(marked)
            try:
                ts = publisher.post_escalation(sub, rec.message_ts, stale_row(room), now=now)
            except PublishRefused:
                store.put_alert(rec)
                raise
            store.put_alert(marked.model_copy(update={"escalation_ts": ts}))
            report.escalated += 1
            if room.id in digest.chatroom_ids[:MAX_DIGEST_ROWS]:
                shown_escalated.add(digest.message_ts)
        for ts, digest in flagged.items():
            if ts in shown_escalated:
                report.nexudus_requests += 1
                if redraw_digest(self.deps, publisher, session, sub, digest):
                    report.digests_updated += 1
            else:
                store.digest_redrawn(digest)

    def _daily_summary(
        self, sub: Subscription, waiting: int, oldest_since: datetime | None, now: datetime, report: CycleReport
    ) -> None:
        """`summary:HH:MM`: once a day, at or after that time, even without new alerts (recorded first)."""
        zone = zone_of(sub, self.deps.zone)
        day = summary_day(sub, now, zone)
        fresh = self.deps.store.get_subscription(sub.id)
        if day is None or fresh is None:
            return
        history = self.deps.store.history(sub.team_id, since=now - SUMMARY_LOOKBACK)
        summary = daily_summary(history, sub.id, day, zone, waiting, oldest_since)
        self.deps.store.update_subscription(fresh.model_copy(update={"last_summary_on": day.isoformat()}))
        try:
            self.publisher_for(sub).post_summary(sub, summary, now=now)
        except PublishRefused:
            self.deps.store.update_subscription(fresh)  # not posted: try again next cycle
            raise
        report.summaries += 1

    def _redraw_flagged(self, sub: Subscription, session: UserSession, report: CycleReport) -> None:
        """Redraw digests whose last redraw was interrupted (a crash, a Slack error) after their rows changed."""
        for digest in self.deps.store.digests_to_redraw(sub.id):
            report.nexudus_requests += 1
            if redraw_digest(self.deps, self.publisher_for(sub), session, sub, digest):
                report.digests_updated += 1

    def _reconcile(self, sub: Subscription, report: CycleReport) -> None:
        """Settle digests recorded but never stamped (the worker died between posting and stamping).

        The posted message is found by its metadata among the channel's recent messages and stamped, so it
        is redrawn like any other; a digest Slack never received is dropped and its rows are posted anew.
        If Slack's history cannot be read, the intent stays (its rows are not repeated) and is retried.
        """
        store = self.deps.store
        for digest in store.pending_digests(sub.id):
            try:
                ts = self.publisher_for(sub).find_digest(digest)
            except PublishRefused as exc:
                log.warning(
                    "alerts %s: cannot look for an unstamped digest in %s (%s); its rooms are not repeated",
                    sub.id,
                    digest.channel_id,
                    exc.error,
                )
                return
            if ts is None and self.deps.clock() - digest.posted_at < DROP_GRACE:
                continue  # maybe still being posted by another worker: decide next cycle
            if ts is None:
                dropped = store.drop_digest(sub.id, digest.message_ts)
                log.info("alerts %s: a digest was never posted; its %d rooms will be posted again", sub.id, dropped)
            else:
                store.stamp_digest(sub.id, digest.message_ts, ts)
                report.digests_recovered += 1
                log.info("alerts %s: stamped digest %s found in Slack after an interrupted cycle", sub.id, ts)

    # ------------------------------------------------------------------------------ bookkeeping
    def _pause(self, sub: Subscription, reason: str) -> None:
        fresh = self.deps.store.get_subscription(sub.id)
        if fresh is None or fresh.paused_reason is not None:
            return
        log.info("alerts %s: paused (%s)", sub.id, reason)
        self.publisher_for(fresh).tell(fresh, Paused(reason))
        if self.deps.store.update_subscription(fresh.model_copy(update={"paused_reason": reason})):
            subscribing.by_the_app(self.deps, fresh, "pause", reason)

    def _succeeded(self, sub: Subscription, report: CycleReport) -> None:
        fresh = self.deps.store.get_subscription(sub.id)
        if fresh is None:
            return
        changes: dict[str, Any] = {}
        if fresh.paused_reason is not None:
            self.publisher_for(fresh).tell(fresh, Resumed())
            changes["paused_reason"] = None
            report.resumed += 1
        if fresh.last_error is not None:
            if fresh.last_error_reported:
                self.publisher_for(fresh).tell(fresh, Recovered())
            changes.update(last_error=None, last_error_reported=False)
        resumed = "paused_reason" in changes
        if changes and self.deps.store.update_subscription(fresh.model_copy(update=changes)) and resumed:
            subscribing.by_the_app(self.deps, fresh, "resume")

    def _failed(self, sub: Subscription, exc: Exception, report: CycleReport) -> None:
        """Log every failure; tell the channel about the first of a run of failures only."""
        detail = self.publisher_for(sub).words(CycleFailed(exc, sub))
        metrics.count_failure(exc)
        log.warning("alerts %s: cycle failed: %s", sub.id, detail)
        report.details.append(f"{sub.id}: {detail}")
        try:
            fresh = self.deps.store.get_subscription(sub.id)
            if fresh is None:
                return
            told = fresh.last_error_reported
            if not told:
                told = self.publisher_for(fresh).tell(fresh, Failing(detail, max(1, round(self.interval / 60))))
            self.deps.store.update_subscription(
                fresh.model_copy(update={"last_error": detail, "last_error_reported": told})
            )
        except Exception:
            log.exception("alerts %s: could not record the failure", sub.id)
