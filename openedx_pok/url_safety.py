"""
URLs that come from POK are data, not trusted markup: they reach ``href``, ``src`` and redirects
only when they use https and point at one of POK's hosts (``POK_ALLOWED_URL_HOSTS``). The default
names POK's own domains only, never a whole cloud provider's: anyone can host a file under
``amazonaws.com`` or ``cloudfront.net``. Operators add the one host that serves their images.

Escaping alone does not stop ``javascript:`` links or redirects to a look-alike host, hence this
allow-list. ``POK_ALLOW_INSECURE_LOCAL_URLS`` lets the fake POK server on 127.0.0.1 through in tests
and the demo; it is off by default.
"""

import logging
from urllib.parse import urlsplit

from openedx_pok.client import log_safe
from openedx_pok.conf import setting

log = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URL_LENGTH = 2000


def safe_pok_url(url: str | None) -> str:
    """The URL unchanged when it may be shown or followed, otherwise an empty string."""
    if not url:
        return ""
    if is_safe_pok_url(url):
        return url
    log.warning(
        "Refused a URL from POK that is not https on an allowed host (host %s): "
        "add the host to POK_ALLOWED_URL_HOSTS if it is POK's",
        log_safe(_host_of(url)),
    )
    return ""


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "") if isinstance(url, str) else ""
    except ValueError:
        return ""


def is_safe_pok_url(url: str) -> bool:
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or url != url.strip():
        return False
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in url):
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None or "\\" in url:
        return False
    if parts.scheme == "https":
        return _host_allowed(host)
    return parts.scheme == "http" and host in LOCAL_HOSTS and bool(setting("POK_ALLOW_INSECURE_LOCAL_URLS"))


def _host_allowed(host: str) -> bool:
    """Suffix match on dot boundaries: ``view.pok.tech`` matches ``pok.tech``, ``evilpok.tech`` does not."""
    if host in LOCAL_HOSTS and setting("POK_ALLOW_INSECURE_LOCAL_URLS"):
        return True
    host = host.rstrip(".")
    for entry in setting("POK_ALLOWED_URL_HOSTS") or ():
        allowed = str(entry).strip().lower().strip(".")
        if allowed and (host == allowed or host.endswith("." + allowed)):
            return True
    return False
