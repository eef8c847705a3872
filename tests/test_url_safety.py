"""Which URLs from POK may reach a page or a redirect."""

import pytest

from openedx_pok.url_safety import is_safe_pok_url, safe_pok_url


@pytest.mark.parametrize(
    "url",
    [
        "https://pok.tech/c/1",
        "https://view.pok.tech/c/9e80b81b-1441-472b-bbd7-0120ec370042",
        "https://VIEW.POK.TECH/c/1",
        "https://app.credentity.xyz/c/1",
        "https://view.pok.tech:443/c/1",
    ],
)
def test_https_urls_on_poks_hosts_are_accepted(url):
    assert safe_pok_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:image/png;base64,AAAA",
        "http://view.pok.tech/c/1",
        "ftp://view.pok.tech/c/1",
        "https://evilpok.tech/c/1",
        "https://pok.tech.attacker.example/c/1",
        "https://attacker.example/pok.tech",
        "https://attacker.example#.pok.tech",
        "https://view.pok.tech@attacker.example/",
        "https://user:secret@view.pok.tech/",
        "https:\\\\attacker.example\\pok.tech",
        "//view.pok.tech/c/1",
        "/c/1",
        "https://view.pok.tech:99999/c/1",
        "https://view.pok.tech/c/1\n",
        "",
        None,
        "https://view.pok.tech/" + "a" * 3000,
    ],
)
def test_anything_else_is_refused(url):
    assert safe_pok_url(url) == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://pok-images.s3.amazonaws.com/a.png?X-Amz-Expires=3600&X-Amz-Signature=abc",
        "https://anyones-bucket.s3.amazonaws.com/phishing.png",
        "https://d111111abcdef8.cloudfront.net/image.png",
    ],
)
def test_cloud_storage_hosts_are_not_trusted_by_default(url):
    """Anyone can serve a file from these domains: only the operator can name POK's bucket."""
    assert safe_pok_url(url) == ""


def test_an_operator_adds_the_exact_image_host(settings):
    settings.POK_ALLOWED_URL_HOSTS = ["pok.tech", "credentity.xyz", "pok-images.s3.amazonaws.com"]

    assert is_safe_pok_url("https://pok-images.s3.amazonaws.com/a.png?X-Amz-Signature=abc")
    assert not is_safe_pok_url("https://anyones-bucket.s3.amazonaws.com/phishing.png")


def test_a_refused_url_names_its_host_in_the_log_escaped(caplog):
    assert safe_pok_url("https://d111111abcdef8.cloudfront.net/image.png") == ""
    assert safe_pok_url("https://gro.elpmaxe\u202e.pok.tech.attacker.example/x") == ""

    assert "host d111111abcdef8.cloudfront.net" in caplog.text
    assert "POK_ALLOWED_URL_HOSTS" in caplog.text
    assert "\u202e" not in caplog.text
    assert "gro.elpmaxe\\u202e.pok.tech" in caplog.text


def test_allowed_hosts_are_configurable(settings):
    settings.POK_ALLOWED_URL_HOSTS = ["credentials.example.org"]

    assert is_safe_pok_url("https://cdn.credentials.example.org/a.png")
    assert not is_safe_pok_url("https://view.pok.tech/c/1")


def test_local_http_urls_need_the_explicit_test_setting(settings):
    settings.POK_ALLOW_INSECURE_LOCAL_URLS = False
    assert not is_safe_pok_url("http://127.0.0.1:8123/images/a.png")
    assert not is_safe_pok_url("https://localhost/images/a.png")

    settings.POK_ALLOW_INSECURE_LOCAL_URLS = True
    assert is_safe_pok_url("http://127.0.0.1:8123/images/a.png")
    assert is_safe_pok_url("http://localhost:8000/view/1")
    assert is_safe_pok_url("http://[::1]:8000/view/1")
    assert not is_safe_pok_url("http://10.0.0.1/images/a.png")
    assert not is_safe_pok_url("javascript:alert(1)")


def test_the_local_allowance_is_off_by_default():
    from openedx_pok.conf import SETTINGS_BY_NAME

    assert SETTINGS_BY_NAME["POK_ALLOW_INSECURE_LOCAL_URLS"].default is False
