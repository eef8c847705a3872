"""
POK template definitions (their custom parameters), cached: N credentials from one template cost
one ``GET template/{id}``, not N.
"""

import hashlib
import re

from django.core.cache import cache

from openedx_pok.client import PokTemplate, get_client
from openedx_pok.conf import setting

CACHE_KEY_PREFIX = "openedx_pok:template:"


SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def cache_key(template_id: str) -> str:
    """Readable for ordinary ids; hashed for anything a memcached key could not hold."""
    template_id = str(template_id)
    if SAFE_ID.match(template_id):
        return f"{CACHE_KEY_PREFIX}{template_id}"
    return f"{CACHE_KEY_PREFIX}sha256:{hashlib.sha256(template_id.encode()).hexdigest()}"


def get_template_definition(template_id: str) -> PokTemplate:
    """The template as POK defines it; client errors (PokNotFound, PokUnavailable...) propagate."""
    key = cache_key(template_id)
    template = cache.get(key)
    if template is None:
        template = get_client().get_template(template_id)
        cache.set(key, template, setting("POK_TEMPLATE_CACHE_TIMEOUT"))
    return template


def forget_template_definition(template_id: str) -> None:
    """Drop a cached definition, e.g. after POK rejected parameters that the cache still lists."""
    cache.delete(cache_key(template_id))
