"""Who a credential is for: names split and cleaned for POK's receiver, language tags POK accepts."""

import pytest

from openedx_pok.services.templates import receiver


@pytest.mark.parametrize(
    ("full_name", "account_parts", "expected"),
    [
        ("Ana García", ("", ""), ("Ana", "García")),
        ("  Ana   María  García López ", ("", ""), ("Ana", "María García López")),
        ("García, Ana", ("", ""), ("Ana", "García")),
        ("García López, Ana María", ("", ""), ("Ana María", "García López")),
        ("Madonna", ("", ""), ("Madonna", "")),
        ("Madonna,", ("", ""), ("Madonna", "")),
        ("", ("", ""), ("ana42", "")),
        ("   ", ("", ""), ("ana42", "")),
        ("Ana María García", ("Ana María", "García"), ("Ana María", "García")),
        ("", ("Ana María", "García"), ("Ana María", "García")),
        ("Ana G. Smith", ("Ana", "Gómez"), ("Ana", "G. Smith")),
        (",", ("", ""), ("ana42", "")),
        (" , ", ("", ""), ("ana42", "")),
        (",,,", ("", ""), ("ana42", "")),
        ("-", (",", ","), ("ana42", "")),
        ("\u200b\u202e\u2066", ("", ""), ("ana42", "")),
        (",", ("\u200b", "\u200d"), ("ana42", "")),
        ("A\u200bna Gar\u2060cía", ("", ""), ("Ana", "García")),
        ("\u202eaicraG anA", ("", ""), ("aicraG", "anA")),
        ("Ana\u2067 García\u2069", ("", ""), ("Ana", "García")),
        ("\ufeffAna\u00ad García", ("", ""), ("Ana", "García")),
        ("Ana\nGarcía\tLópez", ("", ""), ("Ana", "García López")),
        ("Ana\x07 García", ("", ""), ("Ana", "García")),
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            ("", ""),
            ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", ""),
        ),
        ("Ana\u200c García\u200d", ("", ""), ("Ana", "García")),
        ("Ana García", ("Ana\u200b", "García\u202e"), ("Ana", "García")),
    ],
    ids=repr,
)
def test_names_are_split_robustly(full_name, account_parts, expected):
    first_name, last_name = account_parts
    assert (
        receiver.split_name(full_name, first_name=first_name, last_name=last_name, username="ana42")
        == expected
    )


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("es_AR", "es-AR"),
        ("es-ar", "es-AR"),
        ("pt-br", "pt-BR"),
        ("PT_BR", "pt-BR"),
        ("zh-hans", "zh-Hans"),
        ("zh_hans_cn", "zh-Hans-CN"),
        ("es-419", "es-419"),
        ("fr", "fr"),
        ("", ""),
        ("not a language", ""),
        ("x", ""),
    ],
)
def test_language_tags_are_normalised_to_bcp_47(tag, expected):
    assert receiver.normalize_language_tag(tag) == expected


@pytest.mark.parametrize(
    ("learner", "site", "default", "expected"),
    [
        ("es_AR", "en", "en-US", "es-AR"),
        ("", "pt-br", "en-US", "pt-BR"),
        ("", "", "es-AR", "es-AR"),
        ("en", "fr", "en-US", "en-US"),  # a bare language borrows the default's region
        ("fr", "en", "en-US", "fr"),
        ("gibberish!", "", "en-GB", "en-GB"),
        ("", "", "", "en-US"),
    ],
)
def test_language_tag_comes_from_the_learner_then_the_site_then_the_setting(
    settings, learner, site, default, expected
):
    settings.LANGUAGE_CODE = site
    settings.POK_DEFAULT_LANGUAGE = default
    assert receiver.resolve_language_tag(learner) == expected
