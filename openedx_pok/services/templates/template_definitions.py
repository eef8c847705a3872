"""
POK template definitions (their custom parameters), cached: N credentials from one template cost
one ``GET template/{id}``, not N.
"""

import hashlib
import re

from django.core.cache import cache

from openedx_pok import accounts
from openedx_pok.client import PokTemplate, get_client
from openedx_pok.conf import setting

CACHE_KEY_PREFIX = "openedx_pok:template:"


SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def cache_key(template_id: str, account: str = accounts.DEFAULT) -> str:
    """
    One per account (two POK accounts may both have a template "certificate"): readable for
    ordinary ids, hashed for anything a memcached key could not hold.
    """
    template_id, account = str(template_id), str(account)
    if SAFE_ID.match(template_id) and SAFE_ID.match(account):
        return f"{CACHE_KEY_PREFIX}{account}:{template_id}"
    digest = hashlib.sha256(f"{account}|{template_id}".encode()).hexdigest()
    return f"{CACHE_KEY_PREFIX}sha256:{digest}"


def get_template_definition(template_id: str, account: str = accounts.DEFAULT) -> PokTemplate:
    """The template as the account's POK defines it; client errors (PokNotFound...) propagate."""
    key = cache_key(template_id, account)
    template = cache.get(key)
    if template is None:
        template = get_client(account).get_template(template_id)
        cache.set(key, template, setting("POK_TEMPLATE_CACHE_TIMEOUT"))
    return template


def forget_template_definition(template_id: str, account: str = accounts.DEFAULT) -> None:
    """Drop a cached definition, e.g. after POK rejected parameters that the cache still lists."""
    cache.delete(cache_key(template_id, account))
