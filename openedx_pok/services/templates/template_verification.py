"""
Whether POK knows a template (and landing page) an operator is about to choose for a course or an
organisation, and whether this plugin can fill the template's parameters: the admin's template
form asks before it saves a row. A POK that cannot be asked never stops the row from being saved.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from openedx_pok import accounts, client
from openedx_pok.services.templates.template_definitions import (
    forget_template_definition,
    get_template_definition,
)
from openedx_pok.services.templates.value_sources import parameter_problems


@dataclass(frozen=True)
class Verification:
    """What was found: errors refuse the row, a warning or a note is shown once it is saved."""

    template_error: str = ""
    page_error: str = ""
    warning: str = ""
    note: str = ""


def verify(template_id: str, page_id: str, account: str = accounts.DEFAULT) -> Verification:
    """Asked of the POK account the row's certificates would issue with."""
    if not accounts.has_a_key(account):
        return Verification(
            warning=_("POK_API_KEY is empty: the template was saved without being checked against POK.")
            if account == accounts.DEFAULT
            else _("POK account %(account)s has no API key: the template was saved without being checked.")
            % {"account": account}
        )
    forget_template_definition(template_id, account)  # the operator may just have changed it in POK
    try:
        template = get_template_definition(template_id, account)
        page_ids = {page.id for page in client.get_client(account).list_pages()} if page_id else set()
    except client.PokNotFound:
        return Verification(
            template_error=_(
                "POK has no template with the id %(id)s. Copy the id from POK's dashboard (Templates)."
            )
            % {"id": template_id}
        )
    except client.PokAuthError:
        return Verification(
            warning=_(
                "POK refused the API key, so the template was saved without being checked. Check POK_API_KEY."
            )
        )
    except client.PokError as error:
        return Verification(
            warning=_(
                "POK could not be reached (%(reason)s): the template was saved without being checked. "
                "Run `manage.py lms pok_check` once POK is back."
            )
            % {"reason": error.message}
        )
    page_error = (
        _("POK has no landing page with the id %(id)s.") % {"id": page_id}
        if page_id and page_id not in page_ids
        else ""
    )
    name = template.name or template_id
    problems = parameter_problems(template.custom_parameters)
    if problems:
        return Verification(
            page_error=page_error,
            template_error=_(
                "POK template %(name)s needs parameters this plugin cannot fill: %(problems)s. "
                "Map each in the POK_CUSTOM_PARAMETER_SOURCES setting (see docs/templates.md)."
            )
            % {"name": name, "problems": "; ".join(problems)},
        )
    parameter_ids = ", ".join(parameter.id for parameter in template.custom_parameters)
    return Verification(
        page_error=page_error,
        note=_("POK template %(name)s checked: parameters %(parameters)s.")
        % {"name": name, "parameters": parameter_ids or _("none")},
    )
