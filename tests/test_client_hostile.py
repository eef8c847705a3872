"""
The POK client against answers no honest server sends (the hostile server on 127.0.0.1): trickled,
endless, oversized, nested too deep, with values that do not fit. Each ends as a typed result or
error, within the call's deadline and a bounded amount of memory, and a POST is never sent twice.
"""

import gzip
import json
import logging
import shutil
import ssl
import subprocess
import tracemalloc

import pytest

from openedx_pok.client import (
    MAX_POK_ID_LENGTH,
    MAX_POK_STATE_LENGTH,
    MAX_RETRY_AFTER_SECONDS,
    MAX_VIEW_URL_LENGTH,
    PokClient,
    PokCreationServerError,
    PokInvalidAnswer,
    PokInvalidCreationAnswer,
    PokOutcomeUnknown,
    PokRateLimited,
    PokUnavailable,
    PokValidationError,
    log_safe,
    transport,
)
from openedx_pok.models import PokCertificate
from tests.hostile_server import Answer, HostileServer, endless, sized

API_KEY = "5f0c6e1e-7d1f-4b55-9d7a-4ad1b4a0c0de"
POK_ID = "9e80b81b-1441-472b-bbd7-0120ec370042"
FIFTY_MB = 50 * 1024 * 1024
MEMORY_BOUND = 10 * 1024 * 1024


def credential(**fields):
    return {
        "id": POK_ID,
        "state": "processing",
        "viewUrl": "",
        "createdAt": "2025-11-13T13:40:12.000Z",
        "credential": {"emissionDate": "2025-11-13T10:00:00+00:00", "title": "Intro to Python"},
        **fields,
    }


def json_answer(data, status=200, **options) -> Answer:
    return Answer(status=status, body=json.dumps(data).encode(), **options)


@pytest.fixture
def server():
    with HostileServer() as hostile:
        yield hostile


def client_for(server, **options) -> PokClient:
    # A deadline of 0.8 s in all; each read may wait up to 0.5 s.
    options = {"timeout": 0.5, "connect_timeout": 0.3, "retry_backoff": 0.01, **options}
    return PokClient(server.url, API_KEY, **options)


def create(server, **options):
    return client_for(server, **options).create_credential({"credential": {}, "receiver": {}})


def peak_memory_of(call):
    """Run ``call`` and return (its result or exception, the peak of memory it allocated)."""
    tracemalloc.start()
    try:
        try:
            outcome = call()
        except Exception as error:  # noqa: BLE001  (returned for the test to assert)
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the deadline --------------------------------------------------------------------------------


def trickled_credential(how):
    body = json.dumps(credential()).encode()
    if how == "status line, headers and body":
        return Answer(body=body, trickle=True, pause=0.02)
    return Answer(body=(bytes([byte]) for byte in body), pause=0.02)


@pytest.mark.parametrize("how", ["status line, headers and body", "body"])
def test_a_trickled_answer_to_the_post_ends_at_the_deadline_as_an_unknown_outcome(server, how):
    """Each byte arrives well within the per-read timeout; the whole answer would take seconds."""
    server.answer = trickled_credential(how)

    with pytest.raises(PokOutcomeUnknown) as caught:
        create(server)

    assert "deadline" in caught.value.message
    assert not isinstance(caught.value, PokInvalidCreationAnswer)
    server.wait_until_idle()
    assert (server.completed, server.cut_short) == (0, 1)
    assert [request.method for request in server.received] == ["POST"]


def test_an_endless_trickle_cannot_hold_the_post(server):
    server.answer = Answer(body=endless(b" "), pause=0.01)

    with pytest.raises(PokOutcomeUnknown) as caught:
        create(server)

    assert "deadline" in caught.value.message
    server.wait_until_idle()
    assert server.cut_short == 1
    assert len(server.received) == 1


def test_a_trickled_get_is_unavailable_and_not_retried_past_the_deadline(server):
    server.answer = trickled_credential("body")

    with pytest.raises(PokUnavailable) as caught:
        client_for(server, get_attempts=3).get_credential(POK_ID)

    assert "deadline" in caught.value.message
    assert len(server.received) == 1


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """The hostile server behind TLS, with a certificate for 127.0.0.1 that the client trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603  (fixed arguments)
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    with HostileServer(tls=context) as hostile:
        yield hostile


def test_over_tls_a_trickled_answer_also_ends_at_the_deadline(tls_server):
    server = tls_server
    server.answer = trickled_credential("status line, headers and body")

    with pytest.raises(PokOutcomeUnknown) as caught:
        create(server)

    assert "deadline" in caught.value.message
    server.wait_until_idle()
    assert (server.completed, server.cut_short) == (0, 1)


def test_over_tls_an_honest_answer_is_read(tls_server):
    server = tls_server
    server.answer = json_answer(credential())

    assert create(server).id == POK_ID


def test_the_deadline_is_connect_timeout_plus_timeout():
    assert PokClient("http://127.0.0.1:9/", API_KEY, timeout=10, connect_timeout=5).deadline == 15


# -- the size limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("announced", [True, False])
def test_a_50_mb_answer_to_the_post_is_an_unusable_answer_read_in_bounded_memory(server, announced):
    headers = {"Content-Length": str(FIFTY_MB)} if announced else {}
    server.answer = Answer(headers=headers, body=sized(FIFTY_MB))

    error, peak = peak_memory_of(lambda: create(server))

    assert isinstance(error, PokInvalidCreationAnswer)
    assert "bytes" in error.reason
    assert error.status_code == 200
    assert peak < MEMORY_BOUND
    server.wait_until_idle()
    assert server.cut_short == 1
    assert len(server.received) == 1


def test_a_50_mb_answer_to_a_get_is_an_invalid_answer(server):
    server.answer = Answer(body=sized(FIFTY_MB))

    error, peak = peak_memory_of(lambda: client_for(server).get_credential(POK_ID))

    assert isinstance(error, PokInvalidAnswer)
    assert peak < MEMORY_BOUND
    assert len(server.received) == 1  # an unusable answer is not retried inline


def test_a_compressed_answer_cannot_unpack_past_the_limit(server):
    bomb = gzip.compress(b"0" * FIFTY_MB)
    server.answer = Answer(headers={"Content-Encoding": "gzip"}, body=bomb)

    error, peak = peak_memory_of(lambda: create(server))

    assert isinstance(error, PokInvalidCreationAnswer)
    assert peak < MEMORY_BOUND + len(bomb)
    assert server.received[0].headers["Accept-Encoding"] == "identity"


def test_a_50_mb_error_answer_keeps_its_status(server):
    server.answer = Answer(status=500, reason="Internal Server Error", body=sized(FIFTY_MB))

    error, peak = peak_memory_of(lambda: create(server))

    assert isinstance(error, PokCreationServerError)
    assert error.status_code == 500
    assert error.message.startswith("HTTP 500 Internal Server Error")
    assert peak < MEMORY_BOUND


def test_a_redirect_with_a_50_mb_body_is_not_read(server):
    server.answer = Answer(
        status=302, headers={"Location": "https://elsewhere.example/"}, body=sized(FIFTY_MB)
    )

    error, peak = peak_memory_of(lambda: client_for(server).get_organization())

    assert error.status_code == 302
    assert peak < MEMORY_BOUND


# -- JSON nesting --------------------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEPER_THAN_ALLOWED = json.dumps(credential(extra=json.loads("[" * 40 + "]" * 40))).encode()


@pytest.mark.parametrize("body", [DEEP, DEEPER_THAN_ALLOWED], ids=["100000 deep", "40 deep"])
def test_deeply_nested_json_to_the_post_is_an_unusable_answer(server, body):
    server.answer = Answer(body=body)

    with pytest.raises(PokInvalidCreationAnswer) as caught:
        create(server)

    assert "nested" in caught.value.reason


@pytest.mark.parametrize("body", [DEEP, DEEPER_THAN_ALLOWED], ids=["100000 deep", "40 deep"])
def test_deeply_nested_json_to_a_status_poll_is_an_invalid_answer(server, body):
    server.answer = Answer(body=body)

    with pytest.raises(PokInvalidAnswer) as caught:
        client_for(server).get_credential(POK_ID)

    assert "nested" in caught.value.reason


def test_deeply_nested_json_in_an_error_answer_falls_back_to_the_status_line(server):
    server.answer = Answer(status=422, reason="Unprocessable Entity", body=DEEP)

    with pytest.raises(PokValidationError) as caught:
        create(server)

    assert caught.value.status_code == 422
    assert caught.value.message == "HTTP 422 Unprocessable Entity"


@pytest.mark.parametrize("body", [b"", b"Accepted", b"\xff\xfe garbage", b'"just a string"', b"[1, 2]"])
def test_a_2xx_to_the_post_that_is_not_a_json_object_is_an_unusable_answer(server, body):
    server.answer = Answer(body=body)

    with pytest.raises(PokInvalidCreationAnswer):
        create(server)

    assert len(server.received) == 1


def test_non_finite_numbers_do_not_cost_a_good_id(server):
    server.answer = Answer(body=json.dumps(credential(state=float("nan"), extra=float("inf"))).encode())

    created = create(server)

    assert created.id == POK_ID
    assert created.state == ""
    assert created.problems == ("state is a number, not text",)


def test_an_organisation_with_absurd_numbers_reads_as_unknown_counts(server):
    server.answer = Answer(body=b'{"name": "Org", "availableCredits": 1e999, "emittedCredentials": NaN}')

    organization = client_for(server).get_organization()

    assert (organization.available_credits, organization.emitted_credentials) == (None, None)


# -- odd ids, states, dates and URLs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("pok_id", "reason"),
    [
        ("x" * (MAX_POK_ID_LENGTH + 1), "65 characters long"),
        (12.5, "is a number"),
        (True, "is a boolean"),
        ({"value": POK_ID}, "is an object"),
        ([POK_ID], "is a list"),
        (POK_ID + "\nERROR forged line", "characters other than"),
        ("two words", "characters other than"),
        ("../organization/me", "characters other than"),
        (None, "no credential id"),
        ("", "no credential id"),
    ],
)
def test_an_id_that_cannot_be_stored_is_an_unknown_outcome_with_a_reason(server, pok_id, reason):
    server.answer = json_answer(credential(id=pok_id))

    with pytest.raises(PokInvalidCreationAnswer) as caught:
        create(server)

    assert isinstance(caught.value, PokOutcomeUnknown)
    assert reason in caught.value.reason
    assert "\n" not in caught.value.message
    assert "may exist in POK" in caught.value.message
    assert len(server.received) == 1


def test_a_numeric_id_is_kept_as_text(server):
    server.answer = json_answer(credential(id=17))

    assert create(server).id == "17"


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("s" * (MAX_POK_STATE_LENGTH + 1), "65 characters long"),
        (42, "is a number"),
        ({"name": "emitted"}, "is an object"),
        ("pro\ncessing", "is not a state name"),
        ("emitted\u202e", "is not a state name"),
    ],
)
def test_an_odd_state_is_dropped_with_a_reason_and_the_id_is_kept(server, state, reason):
    server.answer = json_answer(credential(state=state))

    created = create(server)

    assert created.id == POK_ID
    assert created.state == ""
    assert len(created.problems) == 1
    assert created.problems[0].startswith("state")
    assert reason in created.problems[0]


@pytest.mark.parametrize(
    "emission_date",
    [
        "9999-12-31T23:59:59-05:00",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+05:00",  # before year 1 once in UTC
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "+99999-01-01",
        "garbage",
        "2025-11-13T10:00:00" + "0" * 5000,
        1_763_028_000,
    ],
)
def test_an_emission_date_out_of_range_is_dropped_with_a_reason(server, emission_date):
    server.answer = json_answer(credential(credential={"emissionDate": emission_date}))

    created = create(server)

    assert created.id == POK_ID
    assert created.emission_date is None
    assert [problem.split(" ")[0] for problem in created.problems] == ["emissionDate"]
    assert len(created.problems[0]) < 300


def test_a_naive_emission_date_is_read_as_utc(server):
    server.answer = json_answer(credential(credential={"emissionDate": "2025-11-13T10:00:00"}))

    created = create(server)

    assert created.emission_date.isoformat() == "2025-11-13T10:00:00+00:00"
    assert created.problems == ()


def test_an_emission_date_with_an_offset_comes_back_in_utc(server):
    server.answer = json_answer(credential(credential={"emissionDate": "2025-11-13T07:00:00-03:00"}))

    assert create(server).emission_date.isoformat() == "2025-11-13T10:00:00+00:00"


@pytest.mark.parametrize("view_url", ["https://view.pok.tech/c/" + "a" * MAX_VIEW_URL_LENGTH, 7])
def test_a_view_url_that_cannot_be_stored_is_dropped_with_a_reason(server, view_url):
    server.answer = json_answer(credential(state="emitted", viewUrl=view_url))

    created = create(server)

    assert (created.id, created.state, created.view_url) == (POK_ID, "emitted", "")
    assert created.problems[0].startswith("viewUrl")


def test_a_status_poll_without_a_usable_id_is_an_invalid_answer(server):
    server.answer = json_answer(credential(id="x" * 100))

    with pytest.raises(PokInvalidAnswer) as caught:
        client_for(server).get_credential(POK_ID)

    assert "100 characters long" in caught.value.reason


def test_an_image_location_too_long_to_store_is_an_invalid_answer(server):
    server.answer = json_answer({"location": "https://images.pok.tech/" + "a" * 2000})

    with pytest.raises(PokInvalidAnswer):
        client_for(server).get_credential_image(POK_ID)


def test_the_length_limits_are_the_columns(db):
    columns = {field.name: field.max_length for field in PokCertificate._meta.fields}

    assert columns["pok_credential_id"] == MAX_POK_ID_LENGTH
    assert columns["pok_state"] == MAX_POK_STATE_LENGTH
    assert columns["view_url"] == MAX_VIEW_URL_LENGTH


# -- Retry-After ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1e309", None),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("0x10", None),
        ("1" * 5000, None),
        ("-5", 0.0),
        ("99999999999", MAX_RETRY_AFTER_SECONDS),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_SECONDS),
        ("Mon, 32 Foo 99999 99:99:99 GMT", None),
    ],
)
def test_an_absurd_retry_after_is_capped_or_ignored(server, header, expected):
    server.answer = json_answer({"message": "slow down"}, status=429, headers={"Retry-After": header})

    with pytest.raises(PokRateLimited) as caught:
        create(server)

    assert caught.value.retry_after == expected


def test_an_absurd_retry_after_on_a_status_poll_does_not_escape(server):
    server.answer = json_answer({"message": "down"}, status=503, headers={"Retry-After": "1e309"})

    with pytest.raises(PokUnavailable) as caught:
        client_for(server, get_attempts=1).get_credential(POK_ID)

    assert caught.value.retry_after is None


# -- redirects -----------------------------------------------------------------------------------


def test_a_get_redirected_to_another_host_is_not_followed(server):
    server.answer = Answer(status=301, headers={"Location": "https://evil.example/organization/me"})

    with pytest.raises(PokValidationError) as caught:
        client_for(server).get_organization()

    assert caught.value.status_code == 301
    assert len(server.received) == 1


def test_redirects_on_pok_s_own_host_are_followed_a_few_times(server):
    server.answer = Answer(status=302, headers={"Location": "/organization/me"})

    with pytest.raises(PokValidationError) as caught:
        client_for(server).get_organization()

    assert caught.value.status_code == 302
    assert len(server.received) == 4  # the call and three redirects


# -- logs ----------------------------------------------------------------------------------------


def test_poks_words_reach_the_log_bounded_and_escaped(server, caplog):
    caplog.set_level(logging.DEBUG)
    forged = "refused\nERROR openedx_pok forged line " + "x" * 900_000
    server.answer = json_answer({"message": forged}, status=400)

    with pytest.raises(PokValidationError) as caught:
        create(server)

    assert "\n" not in caught.value.message
    assert len(caught.value.message) <= 510
    for record in caplog.records:
        assert "\n" not in record.getMessage()
        assert len(record.getMessage()) < 2000


def test_dropped_values_are_logged_escaped(server, caplog):
    server.answer = json_answer(credential(state="done\nERROR forged"))

    create(server)

    messages = [record.getMessage() for record in caplog.records]
    assert any("values POK sent were dropped" in message for message in messages)
    assert all("\n" not in message for message in messages)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain-id", "plain-id"),
        ("a\nb", "a\\nb"),
        ("rtl\u202eoverride", "rtl\\u202eoverride"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("x" * 150, "x" * 100 + "..."),
        ({"id": 1}, "{'id': 1}"),
    ],
)
def test_log_safe(value, shown):
    assert log_safe(value) == shown


def test_json_depth_is_checked_without_recursion():
    with pytest.raises(transport.UnusableAnswer):
        transport.parse_json(b"[" * 5000 + b"]" * 5000)
    assert transport.parse_json(b'{"a": {"b": [1, {"c": 2}]}}') == {"a": {"b": [1, {"c": 2}]}}
