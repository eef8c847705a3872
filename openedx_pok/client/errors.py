"""
The typed errors of the POK client: what callers catch instead of ``requests`` exceptions.

Kept apart from the code that raises them so the issuing code can read the hierarchy in one place:
which failures mean "nothing was sent" (:class:`PokUnavailable`), which mean "POK may hold a paid
credential" (:class:`PokOutcomeUnknown`), and which will not succeed when repeated.
"""


class PokError(Exception):
    """Any failure talking to POK. ``status_code`` is None when no HTTP answer arrived."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class PokAuthError(PokError):
    """POK refused the API key (401/403): a configuration problem, retrying will not help."""


class PokAccountNotConfigured(PokAuthError):
    """The credential's POK account is not in POK_ACCOUNTS (any more): there is no key to use."""


class PokNotFound(PokError):
    """POK does not know the template, page or credential id (404)."""


class PokValidationError(PokError):
    """POK rejected the request (400/422), or answered 2xx without what the call needs."""


class PokRateLimited(PokError):
    """POK asked us to slow down (429); ``retry_after`` is in seconds when POK said so."""

    def __init__(self, message: str, status_code: int | None = 429, retry_after: float | None = None):
        super().__init__(message, status_code)
        self.retry_after = retry_after


class PokUnavailable(PokError):
    """
    POK could not be reached or failed on its side (refused, connect timeout, 5xx, GET read timeout).

    For ``POST credential`` this means nothing was sent, except for its subclass
    :class:`PokCreationServerError`.
    """

    def __init__(self, message: str, status_code: int | None = None, retry_after: float | None = None):
        super().__init__(message, status_code)
        self.retry_after = retry_after


class PokCreationServerError(PokUnavailable):
    """
    POK answered ``POST credential`` with a server error (5xx other than 504, which is an unknown
    outcome). POK may have created, and charged for, the credential before failing: the issuing code
    decides whether to send it again. A PokUnavailable, so callers that retry outages still do.
    """


class PokInvalidAnswer(PokUnavailable):
    """
    POK answered a GET (or the template preview) with 2xx but with something this client cannot
    use: too large, not JSON, nested too deep, or without the values the call needs. Nothing was
    created, so it is treated as POK misbehaving for a while: a later attempt may succeed.
    ``reason`` says what was wrong.
    """

    def __init__(self, message: str, status_code: int | None = None, reason: str = ""):
        super().__init__(message, status_code)
        self.reason = reason or message


class PokOutcomeUnknown(PokError):
    """
    A POST was sent but no usable answer came back: POK may or may not have created the
    credential, and re-sending it risks paying twice (ADR 0002).
    """


class PokInvalidCreationAnswer(PokOutcomeUnknown):
    """
    POK accepted ``POST credential`` (2xx) but its answer cannot be used: no credential id, an id
    this plugin cannot store (not text, longer than 64 characters, odd characters), or a body too
    large, not JSON or nested too deep. POK may hold a paid credential; ``reason`` says what was
    wrong and ``status_code`` is POK's 2xx.
    """

    def __init__(self, reason: str, status_code: int | None = None):
        super().__init__(
            f"POK accepted the credential request but its answer cannot be used: {reason}; "
            "the credential may exist in POK.",
            status_code,
        )
        self.reason = reason
