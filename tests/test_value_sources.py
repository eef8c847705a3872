"""The named values a credential is described with, and how a template's parameters are filled."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from openedx_pok import platform_adapter
from openedx_pok.client import TemplateParameter
from openedx_pok.services.templates import value_sources
from openedx_pok.services.templates.value_sources import UnfilledParameter


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (Decimal("88.00"), "88"),
        (Decimal("87.50"), "88"),
        (Decimal("87.49"), "87"),
        (Decimal("100.00"), "100"),
        (Decimal("0.00"), "0"),
        (None, ""),
    ],
)
def test_grades_are_whole_percentages_rounded_half_up(percent, expected):
    assert value_sources.grade_string(percent) == expected


def test_issue_dates_follow_poks_date_format():
    moment = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
    assert value_sources.format_issue_date(moment, "dd/MM/yyyy") == "07/03/2026"
    assert value_sources.format_issue_date(moment, "MM/dd/yyyy") == "03/07/2026"


SOURCES = {"grade": "88", "course_title": "Python", "signatory_name": "Grace Hopper", "mode": ""}


def test_parameters_are_filled_by_mapping_then_by_id_or_label(settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {"p-sig": "signatory_name"}
    parameters = (
        TemplateParameter("p-sig", "Signer"),
        TemplateParameter("grade", "Final grade"),
        TemplateParameter("x1", "Course Title"),
    )
    assert value_sources.fill_custom_parameters(parameters, SOURCES) == {
        "p-sig": "Grace Hopper",
        "grade": "88",
        "x1": "Python",
    }


@pytest.mark.parametrize(
    ("parameter", "mapping", "message"),
    [
        (TemplateParameter("x9", "Favourite colour"), {}, "has no value source"),
        (TemplateParameter("x9", "Anything"), {"x9": "shoe_size"}, "unknown source 'shoe_size'"),
        (TemplateParameter("mode", "Mode"), {}, "would be empty"),
    ],
)
def test_a_parameter_left_without_value_is_named_in_the_error(settings, parameter, mapping, message):
    settings.POK_CUSTOM_PARAMETER_SOURCES = mapping
    with pytest.raises(UnfilledParameter, match=message) as raised:
        value_sources.fill_custom_parameters((parameter,), SOURCES)
    assert f"'{parameter.id}'" in str(raised.value)


def test_the_existing_plugins_platform_label_is_an_alias_of_platform_name(settings):
    settings.POK_CUSTOM_PARAMETER_SOURCES = {}

    assert (
        value_sources.source_name_for(TemplateParameter("p1", "Platform"), {"platform_name"})
        == "platform_name"
    )
    assert (
        value_sources.source_name_for(TemplateParameter("platform", ""), {"platform_name"}) == "platform_name"
    )


# -- the declared names -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def documented_source_names() -> set[str]:
    """The first column of docs/templates.md's table of sources, with N spelled out for each position."""
    text = (ROOT / "docs" / "templates.md").read_text()
    table = text.split("| source | value |", 1)[1].split("\n\n", 1)[0]
    names = set()
    for line in table.splitlines():
        first_column = line.split("|")[1] if line.startswith("| `") else ""
        for name in re.findall(r"`(\w+)`", first_column):
            positions = range(1, value_sources.MAX_SIGNATORIES + 1) if "_N_" in name else [None]
            names.update(name.replace("_N_", f"_{number}_") if number else name for number in positions)
    return names


def test_docs_templates_md_lists_every_declared_source():
    assert documented_source_names() == value_sources.SOURCE_NAMES


@pytest.mark.django_db
def test_a_course_gives_only_declared_sources_and_no_position_beyond_studios_four(make_course, settings):
    signatories = [{"name": f"Signer {number}", "title": "", "organization": ""} for number in range(1, 6)]
    course_key = make_course(
        certificates={"certificates": [{"is_active": True, "course_title": "", "signatories": signatories}]}
    )
    values = value_sources.course_values(platform_adapter.get_course_details(course_key))

    assert set(values) <= value_sources.SOURCE_NAMES
    assert set(values) >= set(value_sources.COURSE_SOURCES) - {
        f"signatory_{number}_{part}" for number in (1, 2, 3, 4) for part in value_sources.SIGNATORY_PARTS
    }
    assert (values["signatory_4_name"], values["signatory_name"]) == ("Signer 4", "Signer 1")
    assert "signatory_5_name" not in values


def test_a_learner_gives_exactly_the_learner_sources():
    values = value_sources.learner_values(
        learner_name="Ana",
        username="ana",
        grade="90",
        letter_grade="A",
        mode="verified",
        issue_date="01/02/2026",
    )
    assert tuple(values) == value_sources.LEARNER_SOURCES
