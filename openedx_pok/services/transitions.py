"""
The credential lifecycle's transitions, as data: one row a transition.

A row names the transition, the states it leaves from and the state it reaches (``STAYS``: only
fields change, nothing enters the history), then what it does to the row: the attempt count, the
next check (``next_attempt_at``, as ``policy`` computes it), the last error and POK's state, the
tracking event it emits and the task that follows it; None where it leaves that alone. Below each
row: what it means, and the fields it clears, stamps or sets.

:func:`openedx_pok.services.lifecycle.apply` is the code that applies a row; docs/states.md lists
the same rows, and a test keeps the two equal.
"""

# ruff: noqa: E501  (the table keeps one transition a row, wider than code lines)

import enum
from dataclasses import dataclass

from openedx_pok.models import CredentialState, RevokedBy
from openedx_pok.services import queueing

S = CredentialState
# The source of the transition that creates a row; not a state a row can be in.
NEW = "new"
# The target of a transition that leaves the state as it is.
STAYS = None

EVENT_REQUESTED = "edx.pok.credential.requested"
EVENT_EMITTED = "edx.pok.credential.emitted"
EVENT_FAILED = "edx.pok.credential.failed"
EVENT_REVOKED = "edx.pok.credential.revoked"


class Attempts(enum.Enum):
    COUNT = "one more"
    REFUND = "one less (POK only slowed us down)"
    RESET = "back to zero"


class NextCheck(enum.Enum):
    """When the lifecycle acts on the row next by itself (``next_attempt_at``), as the policy computes it."""

    CLEAR = "none"
    NOW = "now"
    NOT_BEFORE = "when the course shows its certificates (now if it does)"
    RETRY = "exponential backoff"
    RATE_LIMIT = "POK's Retry-After"
    NEXT_ROUND = "another round later, while rounds are left"
    RESEND_UNKNOWN = "re-sent after POK_UNKNOWN_OUTCOME_RETRY_AFTER, when it is set"
    FIRST_CHECK = "first status check"
    NEXT_CHECK = "next status check, later as the credential ages"
    CHECK_AFTER_ERROR = "next status check, not before POK's Retry-After"
    LEASE = "held while this check runs"


class Text(enum.Enum):
    SET = "set"
    CLEAR = "cleared"


class FollowUp(enum.Enum):
    """The task queued once the change commits, by its registered name."""

    ISSUE = queueing.ISSUE_CREDENTIAL
    CHECK = queueing.CHECK_CREDENTIAL_STATUS


# Every field a re-issue clears: what described the previous POK credential.
PREVIOUS_CREDENTIAL_FIELDS = (
    "pok_credential_id",
    "pok_state",
    "view_url",
    "image_url",
    "image_url_expires_at",
    "emission_date",
    "requesting_since",
)


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str | None
    attempts: Attempts | None
    # None: ``next_attempt_at`` stays; the follow-up, if any, waits until then.
    next_check: NextCheck | None
    last_error: Text | None
    pok_state: Text | None
    event: str | None
    follow_up: FollowUp | None
    description: str
    # Who revoked it, for a transition to *revoked*.
    revoked_by: str = ""
    clears: tuple[str, ...] = ()
    # The row's POST starts now (``requesting_since``).
    starts_request: bool = False

    def __post_init__(self):
        object.__setattr__(self, "sources", frozenset(self.sources))

    def target_from(self, state: str) -> str:
        return state if self.target is STAYS else self.target


EVERY_STATE_BUT_REVOKED = frozenset(S.values) - {S.REVOKED}
NOT_HELD_BY_POK = frozenset({S.PENDING, S.REQUESTING, S.RETRYING, S.FAILED, S.OUTCOME_UNKNOWN})

# fmt: off
TRANSITIONS: tuple[Transition, ...] = (
    #          name                        from                                                                  to                 attempts         next check                   last error  POK state event            follow-up
    # -- the platform asks --------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------
    Transition("requested",                {NEW},                                                                S.PENDING,         None,            NextCheck.NOT_BEFORE,        None,       None,     EVENT_REQUESTED, FollowUp.ISSUE,
               "Open edX created the certificate: the credential is recorded and its sending queued."),
    Transition("reopened",                 {S.REVOKED, S.FAILED},                                                S.PENDING,         Attempts.RESET,  NextCheck.NOT_BEFORE,        Text.CLEAR, None,     EVENT_REQUESTED, FollowUp.ISSUE,
               "Open edX asked again for a credential POK never held (revoked by Open edX or POK, or refused): "
               "issued afresh.",
               clears=("requesting_since", "emission_date")),
    Transition("reopened_to_recheck",      {S.REVOKED},                                                          S.PROCESSING,      None,            NextCheck.NOW,               None,       None,     EVENT_REQUESTED, FollowUp.CHECK,
               "Open edX asked again for a revoked credential POK holds: POK's own state is read again."),
    Transition("reopened_as_unknown",      {S.REVOKED},                                                          S.OUTCOME_UNKNOWN, None,            NextCheck.CLEAR,             Text.SET,   None,     EVENT_REQUESTED, None,
               "Open edX asked again for a credential revoked while its request was unanswered: POK may hold it."),
    # -- sending ------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------
    Transition("claimed",                  {S.PENDING, S.RETRYING},                                              S.REQUESTING,      Attempts.COUNT,  NextCheck.CLEAR,             None,       None,     None,            None,
               "A worker marks the credential as being sent, and commits, before its single POST.",
               starts_request=True),
    Transition("accepted",                 {S.REQUESTING, S.OUTCOME_UNKNOWN, S.FAILED},                          S.PROCESSING,      None,            NextCheck.FIRST_CHECK,       Text.CLEAR, Text.SET, None,            FollowUp.CHECK,
               "POK holds the credential and is producing it; its status checks begin."),
    Transition("emitted",                  {S.REQUESTING, S.PROCESSING, S.OUTCOME_UNKNOWN, S.FAILED},            S.EMITTED,         None,            NextCheck.CLEAR,             Text.CLEAR, Text.SET, EVENT_EMITTED,   None,
               "POK emitted the credential."),
    Transition("rate_limited",             {S.REQUESTING, S.OUTCOME_UNKNOWN},                                    S.RETRYING,        Attempts.REFUND, NextCheck.RATE_LIMIT,        Text.SET,   None,     None,            FollowUp.ISSUE,
               "POK answered 429 with Retry-After: nothing was created; sent again when POK said, without "
               "spending an attempt."),
    Transition("retry_scheduled",          {S.REQUESTING, S.OUTCOME_UNKNOWN},                                    S.RETRYING,        None,            NextCheck.RETRY,             Text.SET,   None,     None,            FollowUp.ISSUE,
               "POK was unreachable or failing and created nothing: sent again after a growing delay."),
    Transition("round_failed",             {S.REQUESTING, S.OUTCOME_UNKNOWN},                                    S.FAILED,          None,            NextCheck.NEXT_ROUND,        Text.SET,   None,     EVENT_FAILED,    FollowUp.ISSUE,
               "POK stayed unavailable for a whole round of attempts: another round later, while rounds are left."),
    Transition("preparation_retry",        {S.PENDING, S.RETRYING},                                              S.RETRYING,        Attempts.COUNT,  NextCheck.RETRY,             Text.SET,   None,     None,            FollowUp.ISSUE,
               "The request could not be prepared for a passing reason (POK's template unavailable, a platform "
               "error); nothing was sent. Counts as an attempt."),
    Transition("preparation_round_failed", {S.PENDING, S.RETRYING},                                              S.FAILED,          Attempts.COUNT,  NextCheck.NEXT_ROUND,        Text.SET,   None,     EVENT_FAILED,    FollowUp.ISSUE,
               "The request could not be prepared for a whole round of attempts; nothing was sent."),
    Transition("refused",                  {S.PENDING, S.RETRYING, S.REQUESTING, S.OUTCOME_UNKNOWN},             S.FAILED,          None,            NextCheck.CLEAR,             Text.SET,   None,     EVENT_FAILED,    None,
               "POK refused the credential (400, 401, 403, 404, 422), or the plugin cannot describe it (no "
               "template, a parameter without value): waits for a person."),
    Transition("answer_lost",              {S.REQUESTING, S.OUTCOME_UNKNOWN},                                    S.OUTCOME_UNKNOWN, None,            NextCheck.RESEND_UNKNOWN,    Text.SET,   None,     None,            FollowUp.ISSUE,
               "The POST was sent but no answer was recorded: POK may or may not hold the credential. Never "
               "sent again without an operator (or POK_UNKNOWN_OUTCOME_RETRY_AFTER)."),
    # -- status checks ------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------
    Transition("check_started",            {S.PROCESSING},                                                       STAYS,             None,            NextCheck.LEASE,             None,       None,     None,            None,
               "A status check holds the row while it asks POK, so a duplicate task stands back."),
    Transition("still_processing",         {S.PROCESSING},                                                       STAYS,             None,            NextCheck.NEXT_CHECK,        Text.CLEAR, Text.SET, None,            FollowUp.CHECK,
               "POK is still producing the credential: the next check is scheduled, later each time."),
    Transition("check_failed",             {S.PROCESSING},                                                       STAYS,             None,            NextCheck.CHECK_AFTER_ERROR, Text.SET,   None,     None,            FollowUp.CHECK,
               "POK could not be asked (unreachable, key refused): asked again later."),
    Transition("pok_state_seen",           {S.PROCESSING, S.EMITTED, S.FAILED, S.REVOKED},                       STAYS,             None,            None,                        None,       Text.SET, None,            None,
               "What POK says is recorded without changing the state: an early check of a credential still "
               "processing, a re-read of an emitted one, or POK's answer for a credential revoked here."),
    Transition("failed_in_pok",            {S.REQUESTING, S.OUTCOME_UNKNOWN, S.PROCESSING},                      S.FAILED,          None,            NextCheck.CLEAR,             Text.SET,   Text.SET, EVENT_FAILED,    None,
               "POK reports the credential aborted or its signature rejected, or no longer knows it."),
    # -- revocations --------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------
    Transition("revoked_by_platform",      EVERY_STATE_BUT_REVOKED,                                              S.REVOKED,         None,            NextCheck.CLEAR,             None,       None,     EVENT_REVOKED,   None,
               "Open edX revoked the certificate (CERTIFICATE_REVOKED): a credential not sent yet never is.",
               revoked_by=RevokedBy.PLATFORM),
    Transition("revoked_in_pok",           {S.REQUESTING, S.OUTCOME_UNKNOWN, S.PROCESSING, S.EMITTED, S.FAILED}, S.REVOKED,         None,            NextCheck.CLEAR,             None,       Text.SET, EVENT_REVOKED,   None,
               "POK reports the credential revoked.",
               revoked_by=RevokedBy.POK),
    Transition("revoked_by_operator",      EVERY_STATE_BUT_REVOKED,                                              S.REVOKED,         None,            NextCheck.CLEAR,             None,       None,     EVENT_REVOKED,   None,
               "An operator revoked it (admin, openedx_pok.api): a new request from Open edX does not undo it.",
               revoked_by=RevokedBy.OPERATOR),
    Transition("retired",                  NOT_HELD_BY_POK,                                                      S.REVOKED,         None,            NextCheck.CLEAR,             None,       None,     EVENT_REVOKED,   None,
               "The learner was retired before POK held the credential: it is never sent.",
               revoked_by=RevokedBy.RETIREMENT),
    # -- operators and the sweep --------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------
    Transition("retried_by_operator",      {S.PENDING, S.RETRYING, S.FAILED, S.OUTCOME_UNKNOWN},                 S.PENDING,         None,            NextCheck.CLEAR,             None,       None,     None,            FollowUp.ISSUE,
               "An operator sends it now (admin, pok_retry); an unknown outcome only when they accept the "
               "duplicate risk."),
    Transition("reissued",                 {S.EMITTED, S.FAILED, S.OUTCOME_UNKNOWN, S.REVOKED},                  S.PENDING,         Attempts.RESET,  NextCheck.CLEAR,             Text.CLEAR, None,     EVENT_REQUESTED, FollowUp.ISSUE,
               "An operator asks for a brand-new POK credential (it costs a credit); the previous POK id stays "
               "in the history.",
               clears=PREVIOUS_CREDENTIAL_FIELDS),
    Transition("attached",                 {S.OUTCOME_UNKNOWN},                                                  S.PROCESSING,      None,            NextCheck.NOW,               Text.CLEAR, Text.SET, None,            FollowUp.CHECK,
               "An operator found the credential in POK's dashboard and attached its id (admin, pok_attach) once "
               "POK confirmed its receiver and course: nothing is sent again, its status checks begin at once."),
    Transition("another_round",            {S.FAILED},                                                           S.PENDING,         None,            NextCheck.CLEAR,             None,       None,     None,            FollowUp.ISSUE,
               "The sweep gives a credential that failed during an outage another round of attempts."),
    Transition("resent_after_unknown",     {S.OUTCOME_UNKNOWN},                                                  S.PENDING,         None,            NextCheck.CLEAR,             None,       None,     None,            FollowUp.ISSUE,
               "POK_UNKNOWN_OUTCOME_RETRY_AFTER is set and has passed: sent again, at the risk of a duplicate."),
)
# fmt: on
