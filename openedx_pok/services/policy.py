"""
Every delay the lifecycle waits: retries of a POST, rounds after a long outage, status checks, and
how long a task may sleep in the broker.

One object, read from the settings when it is asked, so that the transitions, the sweep, the admin
and the pages never keep a copy of a rule.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import InterfaceError, OperationalError

from openedx_pok import client
from openedx_pok.conf import setting

# Redis redelivers a task whose countdown outlives its visibility timeout (one hour by default), so
# no task sleeps longer than half of it; a longer wait is the sweep's to end.
MAX_COUNTDOWN = 30 * 60
# Upper bound for an honoured Retry-After, so that a strange header cannot park a credential for ever.
MAX_RETRY_AFTER = 24 * 3600
# Seconds of spread added to POK's Retry-After (at least; a tenth of a long Retry-After otherwise).
RATE_LIMIT_JITTER = 0.5
# A task delivered by Celery slightly before its countdown (clock skew between hosts) is still due.
DUE_TOLERANCE = timedelta(seconds=1)
# A pending row whose task has not started after this long was probably lost with its message (or
# the workers are busy with a backfill: the sweep then re-queues it once per period, not every run).
LOST_TASK_AFTER = timedelta(minutes=10)
# A status check that has not run this long after it was due was lost: the sweep queues another.
OVERDUE_CHECK_AFTER = timedelta(seconds=60)
# A learner's page asks POK about its credential at most this often (through a task), and not when
# a check has just run or is about to.
EARLY_CHECK_INTERVAL = 5
# The sweep runs at most this often when it schedules itself.
SWEEP_INTERVAL = 60
# Credentials requested in bulk (pok_backfill): no learner is watching their page, so their first
# status check waits this long, and the checks do not take POK's rate limit from the POSTs. A
# learner who does look brings a check forward.
BACKFILL_GENERATION_MODE = "backfill"
BULK_FIRST_CHECK_DELAY = 60.0

# The database refused a worker (down, restarting, failing over, a dropped connection), as opposed
# to a query it refused on its merits (IntegrityError, ProgrammingError), which no retry mends.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# A task that met DATABASE_UNAVAILABLE is sent again within 1, 2, 4... seconds (full jitter), never
# more than this apart: the work resumes within half a minute of the database's return, and what
# POK emitted meanwhile reaches the pages within a minute (bench/recovery.py, database-outage).
DATABASE_RETRY_MAX_DELAY = 30
# How often a task tries again (over 25 minutes at most); then the sweep and the reconciliation
# find its work in the rows.
DATABASE_RETRIES = 55
# POK's answer to a POST lives only in the task that records it: that one tries for up to a day.
RECORD_ANSWER_RETRIES = 24 * 60


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    failed_rounds: int
    retry_base_delay: float
    retry_max_delay: float
    poll_initial_delay: float
    poll_max_delay: float
    requesting_timeout: float
    unknown_outcome_resend_after: float | None
    call_seconds: float

    @classmethod
    def current(cls) -> "Policy":
        resend_after = setting("POK_UNKNOWN_OUTCOME_RETRY_AFTER")
        return cls(
            max_attempts=max(1, int(setting("POK_MAX_ATTEMPTS"))),
            failed_rounds=max(0, int(setting("POK_FAILED_RETRY_ROUNDS"))),
            retry_base_delay=float(setting("POK_RETRY_BASE_DELAY")),
            retry_max_delay=float(setting("POK_RETRY_MAX_DELAY")),
            poll_initial_delay=float(setting("POK_STATUS_POLL_INITIAL_DELAY")),
            poll_max_delay=float(setting("POK_STATUS_POLL_MAX_DELAY")),
            requesting_timeout=float(setting("POK_REQUESTING_TIMEOUT")),
            unknown_outcome_resend_after=None if resend_after is None else float(resend_after),
            call_seconds=float(setting("POK_CONNECT_TIMEOUT")) + float(setting("POK_TIMEOUT")),
        )

    # -- sending ---------------------------------------------------------------------------------

    def round_is_over(self, attempts: int) -> bool:
        """Whether the attempts spent so far close a round of POK_MAX_ATTEMPTS."""
        return attempts > 0 and attempts % self.max_attempts == 0

    def retry_delay(self, attempts: int, retry_after: float | None = None) -> float:
        """
        Exponential backoff with jitter: base·2^(n-1) capped, then a random point in its upper half,
        never sooner than POK's own Retry-After.
        """
        attempt_in_round = (attempts - 1) % self.max_attempts + 1
        ceiling = min(self.retry_max_delay, self.retry_base_delay * 2 ** (attempt_in_round - 1))
        delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311  (jitter, not security)
        if retry_after:
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        return delay

    def rate_limit_delay(self, retry_after: float | None) -> float:
        """POK's Retry-After plus a little jitter, so the learners turned away do not return as one herd."""
        wait = min(float(retry_after or 0), MAX_RETRY_AFTER)
        return wait + random.uniform(0, max(RATE_LIMIT_JITTER, wait / 10))  # noqa: S311  (jitter)

    def next_round_delay(self, attempts: int) -> float | None:
        """
        After a whole round failed because POK was unavailable, the sweep grants further rounds,
        POK_RETRY_MAX_DELAY apart, up to POK_FAILED_RETRY_ROUNDS; None when they are spent.
        """
        if attempts < self.max_attempts * (1 + self.failed_rounds):
            return self.retry_max_delay
        return None

    # -- status checks ---------------------------------------------------------------------------

    def first_check_delay(self, generation_mode: str = "") -> float:
        if generation_mode == BACKFILL_GENERATION_MODE:
            return max(self.poll_initial_delay, BULK_FIRST_CHECK_DELAY)
        return self.poll_initial_delay

    def next_check_delay(self, age_seconds: float, retry_after: float | None = None) -> float:
        """Checks get rarer as a credential stays in POK: roughly its age, within the configured bounds."""
        delay = max(self.poll_initial_delay, min(self.poll_max_delay, max(0.0, age_seconds)))
        if retry_after:
            delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
        return delay

    def check_lease(self) -> float:
        """How long a started check keeps others off its row: every attempt of one GET, and their waits."""
        return client.GET_ATTEMPTS * (self.call_seconds + client.MAX_INLINE_RETRY_WAIT)

    # -- tasks -----------------------------------------------------------------------------------

    @staticmethod
    def countdown(delay: float) -> float | None:
        """The countdown of the task that acts after ``delay``; None when the wait is the sweep's."""
        delay = max(0.0, delay)
        return delay if delay <= MAX_COUNTDOWN else None
