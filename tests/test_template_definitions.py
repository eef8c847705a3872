"""The template definition cache: one GET per template, whatever the number of credentials."""

import pytest

from openedx_pok.client import PokNotFound, PokUnavailable, TemplateParameter
from openedx_pok.services.templates.template_definitions import (
    cache_key,
    forget_template_definition,
    get_template_definition,
)


@pytest.fixture
def diploma(fake_pok):
    fake_pok.add_template("diploma", name="Diploma", parameters=[("grade", "Final grade")])
    return fake_pok


def test_many_lookups_cost_one_get(diploma):
    definitions = [get_template_definition("diploma") for _ in range(5)]

    assert diploma.calls["GET template"] == 1
    assert all(definition == definitions[0] for definition in definitions)
    assert definitions[0].custom_parameters == (TemplateParameter("grade", "Final grade"),)


def test_each_template_is_cached_separately(diploma):
    get_template_definition("diploma")
    get_template_definition("default-template")
    get_template_definition("diploma")

    assert diploma.calls["GET template"] == 2


def test_cache_expires_after_the_configured_time(diploma, settings):
    settings.POK_TEMPLATE_CACHE_TIMEOUT = 0  # Django: 0 means "expire immediately"

    get_template_definition("diploma")
    get_template_definition("diploma")

    assert diploma.calls["GET template"] == 2


def test_forget_fetches_again(diploma):
    get_template_definition("diploma")
    diploma.add_template("diploma", name="Diploma", parameters=[("grade", "Grade"), ("hours", "Hours")])
    forget_template_definition("diploma")

    assert [parameter.id for parameter in get_template_definition("diploma").custom_parameters] == [
        "grade",
        "hours",
    ]
    assert diploma.calls["GET template"] == 2


def test_errors_are_not_cached(diploma):
    with pytest.raises(PokNotFound):
        get_template_definition("missing")
    diploma.outage = True
    with pytest.raises(PokUnavailable):
        get_template_definition("diploma")
    diploma.outage = False

    assert get_template_definition("diploma").name == "Diploma"
    assert diploma.calls["GET template"] == 3


def test_cache_keys_are_safe_for_memcached_and_one_per_account():
    assert cache_key("diploma-2025") == "openedx_pok:template:default:diploma-2025"
    assert cache_key("diploma-2025", "school-b") == "openedx_pok:template:school-b:diploma-2025"
    odd = cache_key("a template with spaces/and slashes")
    assert " " not in odd
    assert odd.startswith("openedx_pok:template:sha256:")
