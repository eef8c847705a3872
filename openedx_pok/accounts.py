"""
The POK accounts a site issues with. The top-level POK_* settings are the ``default`` account;
POK_ACCOUNTS adds one per organisation that pays with its own credits, and POK_ORGANIZATION_ACCOUNTS
says which organisation uses which. A course's or an organisation's template row may name one too.

Keys live with the platform's other secrets (settings, YAML configuration, Tutor config), never in
the database: a credential stores only its account's name. Read at call time, like every setting.
"""

from dataclasses import dataclass

from openedx_pok.conf import setting

DEFAULT = "default"
# What an entry of POK_ACCOUNTS may say; what it leaves out comes from the top-level setting, but
# the API key: each account pays with its own credits, never with another's.
ACCOUNT_KEYS = {
    "API_KEY": "POK_API_KEY",
    "API_URL": "POK_API_URL",
    "TEMPLATE_ID": "POK_TEMPLATE_ID",
    "PAGE_ID": "POK_PAGE_ID",
}
INHERITED_KEYS = ("API_URL", "TEMPLATE_ID", "PAGE_ID")


class UnknownAccount(Exception):
    """No account of that name is configured (it may have been removed from POK_ACCOUNTS)."""


@dataclass(frozen=True)
class Account:
    name: str
    api_url: str
    api_key: str
    template_id: str
    page_id: str


def configured() -> dict[str, dict]:
    """POK_ACCOUNTS as it is usable: entries that are mappings, under text names."""
    accounts = setting("POK_ACCOUNTS")
    if not isinstance(accounts, dict):
        return {}
    return {str(name): entry for name, entry in accounts.items() if isinstance(entry, dict)}


def names() -> list[str]:
    """Every account an operator may name: the default one first."""
    return [DEFAULT, *sorted(name for name in configured() if name != DEFAULT)]


def several() -> bool:
    """Whether the site issues with more than the default account: the admin then shows which one."""
    return len(names()) > 1


def get(name: str | None = None) -> Account:
    """The account's details; raises UnknownAccount for a name no longer configured."""
    name = name or DEFAULT
    if name == DEFAULT:
        entry, inherited = {}, ACCOUNT_KEYS  # the top-level settings themselves
    else:
        entry, inherited = configured().get(name), INHERITED_KEYS
        if entry is None:
            raise UnknownAccount(name)

    def value(key: str) -> str:
        own = entry.get(key)
        if own in (None, "") and key in inherited:
            own = setting(ACCOUNT_KEYS[key])
        return str(own or "")

    return Account(name, value("API_URL"), value("API_KEY"), value("TEMPLATE_ID"), value("PAGE_ID"))


def has_a_key(name: str) -> bool:
    """Whether the account can issue: it is configured and has an API key."""
    try:
        return bool(get(name).api_key)
    except UnknownAccount:
        return False


def any_has_a_key() -> bool:
    """Whether any account can issue: a site with no key at all keeps issuing off."""
    return any(has_a_key(name) for name in names())


def for_organization(organization: str) -> str | None:
    """The account POK_ORGANIZATION_ACCOUNTS gives an organisation (short names match in any case)."""
    mapping = setting("POK_ORGANIZATION_ACCOUNTS")
    if not isinstance(mapping, dict):
        return None
    wanted = (organization or "").casefold()
    return next(
        (str(account) for org, account in mapping.items() if str(org).casefold() == wanted and account), None
    )


def chosen(named: str | None, organization: str) -> str:
    """The account certificates issue with: the template row's, else the organisation's, else the default."""
    return named or for_organization(organization) or DEFAULT
