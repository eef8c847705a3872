"""
The learner pages speak the viewer's language: the platform resolves it (``user_language`` in the
render context) and the plugin ships compiled catalogues for English, Spanish and Brazilian Portuguese.
"""

import gettext
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation

import openedx_pok

LOCALE = Path(openedx_pok.__file__).parent / "locale"


@pytest.mark.parametrize(
    ("accept_language", "html_lang", "expected"),
    [
        ("es", "es", ["Ver y verificar en POK", "Añadir al perfil de LinkedIn", "Fecha de emisión"]),
        ("pt-br", "pt-br", ["Ver e verificar no POK", "Adicionar ao perfil do LinkedIn", "Data de emissão"]),
        ("en", "en", ["View and verify on POK", "Add to LinkedIn profile", "Issued on"]),
    ],
)
def test_certificate_page_is_in_the_viewers_language(
    client, fake_pok, certified, make_credential, accept_language, html_lang, expected
):
    make_credential(certified.user, certified.course_id)

    page = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE=accept_language)

    content = page.content.decode()
    assert f'<html lang="{html_lang}"' in content
    for text in expected:
        assert text in content


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("es", ["Este certificado se está emitiendo", "Esta página se vuelve a cargar cada 30 segundos."]),
        ("pt-br", ["Este certificado está sendo emitido", "Esta página é recarregada a cada 30 segundos."]),
    ],
)
def test_being_issued_page_is_in_the_viewers_language(
    client, fake_pok, certified, make_credential, accept_language, expected
):
    make_credential(certified.user, certified.course_id, state="processing")

    content = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE=accept_language)

    for text in expected:
        assert text in content.content.decode()


@pytest.mark.parametrize(
    ("accept_language", "retry_in", "expected", "absent"),
    [
        ("es", timedelta(hours=1), "Seguiremos intentándolo", "equipo de soporte del curso"),
        ("es", None, "necesita la atención del equipo de soporte del curso", "Seguiremos intentándolo"),
        ("pt-br", timedelta(hours=1), "Continuaremos tentando", "equipe de suporte do curso"),
        ("pt-br", None, "precisa da atenção da equipe de suporte do curso", "Continuaremos tentando"),
    ],
    ids=["es retry scheduled", "es nothing retries", "pt-br retry scheduled", "pt-br nothing retries"],
)
def test_delayed_page_is_in_the_viewers_language_whether_or_not_a_retry_is_scheduled(
    client, fake_pok, certified, make_credential, accept_language, retry_in, expected, absent
):
    make_credential(
        certified.user,
        certified.course_id,
        state="failed",
        next_attempt_at=timezone.now() + retry_in if retry_in else None,
    )

    content = client.get(
        f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE=accept_language
    ).content.decode()

    assert (
        "Este certificado se está retrasando" if accept_language == "es" else "Este certificado está atrasado"
    ) in content
    assert expected in content
    assert absent not in content


def test_issue_date_is_written_the_viewers_way(client, fake_pok, certified, make_credential):
    make_credential(certified.user, certified.course_id, emission_date=datetime(2026, 3, 5, tzinfo=UTC))

    spanish = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    portuguese = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE="pt-br")

    assert "5 de marzo de 2026" in spanish
    assert "5 de Março de 2026" in portuguese.content.decode()


def test_preview_page_is_in_the_viewers_language(
    client, fake_pok, course_key, enable_pok_for_course, make_learner
):
    enable_pok_for_course(course_key)
    client.force_login(make_learner(username="admin", is_staff=True))

    content = client.get(
        f"/certificates/course/{course_key}", {"preview": "verified"}, HTTP_ACCEPT_LANGUAGE="pt-br"
    ).content.decode()

    assert "Pré-visualização do certificado" in content
    [body] = fake_pok.bodies("POST template preview")
    assert body["receiver"]["languageTag"] == "pt-BR"
    assert body["receiver"]["firstName"] == "[Nome]"


def test_an_arabic_viewer_reads_the_page_in_arabic_right_to_left_with_names_isolated(
    client, fake_pok, certified, make_credential
):
    make_credential(certified.user, certified.course_id, receiver_name="Ana García")

    page = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE="ar").content.decode()

    assert '<html lang="ar" dir="rtl">' in page
    assert "العرض والتحقّق على POK" in page
    assert "<h1><bdi>Ana García</bdi></h1>" in page
    assert "<strong><bdi>Introduction to Python</bdi></strong>" in page


@pytest.mark.parametrize("language", ["he", "fa"])
def test_a_right_to_left_viewer_without_a_catalogue_reads_a_plain_english_page(
    client, fake_pok, certified, make_credential, language
):
    """English sentences are never laid out right to left: the page takes the language it is written in."""
    make_credential(certified.user, certified.course_id, state="processing")

    page = client.get(
        f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()

    assert '<html lang="en" dir="ltr">' in page
    assert "This certificate is being issued" in page


def test_without_a_catalogue_the_page_falls_back_to_the_sites_language(
    client, fake_pok, certified, make_credential, settings
):
    settings.LANGUAGE_CODE = "es"
    settings.LOCALE_PATHS = []  # as before; setting it drops the translations built for the old LANGUAGE_CODE
    make_credential(certified.user, certified.course_id, state="processing")

    page = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE="he").content.decode()

    assert '<html lang="es" dir="ltr">' in page
    assert "Este certificado se está emitiendo" in page
    english = client.get(f"/certificates/{certified.verify_uuid}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en" dir="ltr">' in english
    assert "This certificate is being issued" in english


# Where the learner pages and Studio's preview take their words from.
PAGE_SOURCES = r"^#: .*(templates/openedx_pok/|services/(rendering|learner_pages|studio_preview|pages)\.py)"


def page_messages(language: str) -> dict[str, str]:
    """The messages of the learner pages and Studio's preview in a catalogue, with their translation."""
    entries = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8").split("\n\n")
    messages = {}
    for entry in entries:
        if not re.search(PAGE_SOURCES, entry, re.MULTILINE):
            continue
        msgid = "".join(re.findall(r'"(.*)"', entry.split("msgid ", 1)[1].split("\nmsgstr", 1)[0]))
        first_translation = re.split(r"\nmsgstr(?:\[0\])? ", entry, maxsplit=1)[1].split("\nmsgstr[", 1)[0]
        messages[msgid.split('"\nmsgid_plural', 1)[0]] = "".join(re.findall(r'"(.*)"', first_translation))
    return messages


@pytest.mark.parametrize("language", ["es", "pt_BR", "ar"])
def test_every_message_of_the_pages_is_translated(language):
    """A page half in one language and half in another is what the catalogue language check cannot catch."""
    messages = page_messages(language)

    assert len(messages) > 80
    assert [msgid for msgid, translated in messages.items() if not translated] == []


@pytest.mark.parametrize(("language", "code"), [("es", "es"), ("pt-br", "pt-br"), ("ar", "ar"), ("en", "en")])
def test_each_catalogue_names_its_language(language, code):
    with translation.override(language):
        assert translation.pgettext("language of the learner pages", "en") == code


@pytest.mark.parametrize("language", ["en", "es", "pt_BR", "ar"])
def test_catalogues_ship_with_the_package(language):
    catalogue = LOCALE / language / "LC_MESSAGES"

    assert (catalogue / "django.po").is_file()
    assert (catalogue / "django.mo").is_file()


@pytest.mark.parametrize("language", ["es", "pt_BR"])
def test_compiled_catalogues_hold_every_message_of_their_source(language):
    """A .po edited without running compilemessages would leave its new messages untranslated."""
    catalogue = LOCALE / language / "LC_MESSAGES"
    source_messages = re.findall(
        r"^msgid ", (catalogue / "django.po").read_text(encoding="utf-8"), re.MULTILINE
    )
    with (catalogue / "django.mo").open("rb") as compiled:
        compiled_messages = {
            key[0] if isinstance(key, tuple) else key for key in gettext.GNUTranslations(compiled)._catalog
        }

    assert len(compiled_messages - {""}) == len(source_messages) - 1


@pytest.mark.parametrize("language", ["es", "pt-br"])
def test_every_learner_facing_string_is_translated(language):
    """Every message of the learner pages has a translation (msgfmt dropped none as fuzzy or empty)."""
    learner_messages = [
        "Your certificate is being issued",
        "Your certificate is delayed",
        "View and verify on POK",
        "Add to LinkedIn profile",
        "Download certificate image",
        "Share this certificate",
        "Copy link",
        "Share by email",
        "Skip to main content",
        "The certificate preview could not be shown",
    ]
    with translation.override(language):
        untranslated = [message for message in learner_messages if translation.gettext(message) == message]

    assert untranslated == []


@pytest.mark.parametrize(
    ("language", "updated", "and_more"),
    [("es", "actualizado", "y 3 más"), ("pt-br", "atualizado", "e mais 3")],
)
def test_operations_admin_strings_are_translated(language, updated, and_more):
    """The credential admin's column and its bulk-action confirmation speak the staff member's language."""
    with translation.override(language):
        assert translation.gettext("updated") == updated
        more = translation.ngettext("and %(counter)s more", "and %(counter)s more", 3) % {"counter": 3}

    assert more == and_more
