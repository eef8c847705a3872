"""
What operators and their monitoring see of the plugin: credential counts per state (admin header,
``pok_check``, the commands) and edx-django-utils custom attributes (New Relic, Datadog) where
available. The one log line per state change is written by the lifecycle as it moves a row.
"""

from collections import Counter

from django.db.models import Count
from edx_django_utils import monitoring as edx_monitoring

from openedx_pok.models import CredentialState, PokCertificate


def set_custom_attribute(name: str, value) -> None:
    """Attach an attribute to the current transaction in the operator's APM (a no-op without one)."""
    edx_monitoring.set_custom_attribute(f"pok_{name}", value)


def counts_by_state(queryset=None) -> dict[str, int]:
    """Rows per state, every state present (zero when empty), in the state machine's order."""
    queryset = PokCertificate.objects.all() if queryset is None else queryset
    return _in_state_order(dict(queryset.order_by().values_list("state").annotate(count=Count("pk"))))


def _in_state_order(counted: dict[str, int]) -> dict[str, int]:
    counts = {state: counted.pop(state, 0) for state in CredentialState.values}
    counts.update(counted)  # a state this version does not know still gets counted, never hidden
    return counts


def counts_by_account_and_state(queryset=None) -> dict[str, dict[str, int]]:
    """Rows per POK account, then per state: which organisation's credits are doing what."""
    queryset = PokCertificate.objects.all() if queryset is None else queryset
    counts: dict[str, dict[str, int]] = {}
    for account, state, count in (
        queryset.order_by().values_list("account", "state").annotate(count=Count("pk"))
    ):
        counts.setdefault(account, {})[state] = count
    return dict(sorted(counts.items()))


def totals_by_state(by_account: dict[str, dict[str, int]]) -> dict[str, int]:
    """``counts_by_state`` of the rows ``counts_by_account_and_state`` counted, without asking again."""
    summed = Counter()
    for by_state in by_account.values():
        summed.update(by_state)
    return _in_state_order(dict(summed))


def format_counts(counts: dict[str, int]) -> str:
    """One line for terminals and logs: ``emitted 12, failed 1, ...`` (zero states left out)."""
    shown = [f"{state} {count}" for state, count in counts.items() if count]
    return ", ".join(shown) if shown else "no credentials"
