"""Contract tests of the POK client against the fake POK server, over real HTTP."""

import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from openedx_pok.client import (
    PokAuthError,
    PokClient,
    PokCreationServerError,
    PokCredential,
    PokNotFound,
    PokOrganization,
    PokOutcomeUnknown,
    PokPage,
    PokRateLimited,
    PokTemplate,
    PokUnavailable,
    PokValidationError,
    TemplateParameter,
    get_client,
    parse_retry_after,
)
from openedx_pok.testing import FakePokServer

API_KEY = "5f0c6e1e-7d1f-4b55-9d7a-4ad1b4a0c0de"
LEARNER_EMAIL = "ana.garcia@example.com"


def credential_body(template_id="diploma", **receiver):
    return {
        "credential": {
            "tags": ["StudentId:42", "CourseId:course-v1:Org+PY101+2025", "Mode:verified"],
            "skipAcceptance": True,
            "emissionType": "pok",
            "dateFormat": "dd/MM/yyyy",
            "emissionDate": "2025-11-13T10:00:00+00:00",
            "title": "Intro to Python",
            "emitter": "Example University",
        },
        "receiver": {
            "languageTag": "es-AR",
            "identification": "42",
            "email": LEARNER_EMAIL,
            "firstName": "Ana",
            "lastName": "Garcíaflores",
            **receiver,
        },
        "customization": {
            "page": "landing",
            "template": {"id": template_id, "customParameters": {"grade": "88"}},
        },
    }


@pytest.fixture
def server():
    with FakePokServer(api_key=API_KEY, emit_after=0.0) as fake:
        fake.add_template("diploma", name="Diploma", parameters=[("grade", "Final grade")], version=3)
        fake.add_template("plain", name="Plain")
        fake.add_page("landing", "Landing page")
        yield fake


def make_client(base_url, api_key=API_KEY, **options):
    options = {"timeout": 0.5, "connect_timeout": 0.3, "retry_backoff": 0.01, **options}
    return PokClient(base_url, api_key, **options)


@pytest.fixture
def client(server):
    return make_client(server.url)


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 whose accept queue is full: new connections never complete."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@pytest.fixture
def mute_port():
    """A port on 127.0.0.1 that accepts connections and reads requests but never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


# -- every endpoint ------------------------------------------------------------------------------


def test_organization(server, client):
    organization = client.get_organization()

    assert organization == PokOrganization(
        name="Fake POK Organization",
        available_credits=1000,
        emitted_credentials=0,
        processing_credentials=0,
    )
    assert server.calls["GET organization"] == 1


def test_templates_list_and_limit(server, client):
    assert [template.id for template in client.list_templates()] == ["diploma", "plain"]
    assert [template.id for template in client.list_templates(limit=1)] == ["diploma"]
    assert server.received[-1][1] == "/template?limit=1"


def test_one_template_with_its_parameters(client):
    template = client.get_template("diploma")

    assert template == PokTemplate(
        id="diploma",
        name="Diploma",
        custom_parameters=(TemplateParameter(id="grade", label="Final grade"),),
    )


def test_pages(client):
    assert client.list_pages() == [PokPage(id="landing", name="Landing page")]


def test_template_preview_returns_an_image_url(server, client):
    url = client.preview_template(credential_body())

    assert url.startswith(server.url)
    assert url.endswith(".svg")
    assert server.bodies("POST template preview") == [credential_body()]


def test_create_get_and_image_of_a_credential(server, client):
    created = client.create_credential(credential_body())

    assert created.state == "processing"
    assert created.view_url == ""
    assert created.emission_date == datetime(2025, 11, 13, 10, tzinfo=UTC)
    assert created.problems == ()
    assert server.bodies("POST credential") == [credential_body()]

    fetched = client.get_credential(created.id)
    assert fetched.id == created.id
    assert fetched.state == "emitted"
    assert fetched.view_url.endswith(created.id)

    location = client.get_credential_image(created.id)
    assert location.startswith(f"{server.url}images/credential/{created.id}.svg")


def test_request_headers(server, client):
    client.get_organization()
    client.create_credential(credential_body())

    (get_method, _, get_headers), (post_method, _, post_headers) = server.received
    assert (get_method, post_method) == ("GET", "POST")
    for headers in (get_headers, post_headers):
        assert headers["Authorization"] == f"ApiKey {API_KEY}"
        assert headers["Accept"] == "application/json"
    assert post_headers["Content-Type"] == "application/json"
    assert "Content-Type" not in get_headers


def test_unknown_states_are_kept_verbatim(server, client):
    created = client.create_credential(credential_body())
    server.set_credential_state(created.id, "awaitingNotarization")

    assert client.get_credential(created.id).state == "awaitingNotarization"


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "//"])
def test_base_url_with_or_without_trailing_slash(server, suffix):
    client = make_client(server.url.rstrip("/") + suffix)

    client.get_organization()
    client.get_template("diploma")

    assert [path for _, path, _ in server.received] == ["/organization/me", "/template/diploma"]


@pytest.mark.parametrize("suffix", ["/v1", "/v1/"])
def test_base_url_path_prefix_is_kept(server, suffix):
    client = make_client(server.url.rstrip("/") + suffix)

    with pytest.raises(PokNotFound):
        client.get_organization()

    assert server.received[0][1] == "/v1/organization/me"


def test_ids_cannot_add_path_segments(server, client):
    with pytest.raises(PokNotFound):
        client.get_credential("../organization/me?x=1")

    assert server.received[-1][1] == "/credential/..%2Forganization%2Fme%3Fx%3D1"


# -- error classes -------------------------------------------------------------------------------


def test_wrong_api_key_is_an_auth_error(server):
    client = make_client(server.url, api_key="not-the-key")

    with pytest.raises(PokAuthError) as caught:
        client.get_organization()

    assert caught.value.status_code == 401
    assert caught.value.message == "Invalid or missing API key."
    assert server.calls["GET organization"] == 1


def test_forbidden_is_an_auth_error(server, client):
    server.fail_next("GET templates", status=403, message="Key lacks the templates scope.")

    with pytest.raises(PokAuthError) as caught:
        client.list_templates()

    assert caught.value.status_code == 403
    assert caught.value.message == "Key lacks the templates scope."


def test_unknown_credential_is_not_found(client):
    with pytest.raises(PokNotFound) as caught:
        client.get_credential("no-such-credential")

    assert caught.value.status_code == 404


def test_validation_error_carries_poks_message(server, client):
    body = credential_body()
    body["customization"]["template"]["customParameters"]["colour"] = "red"

    with pytest.raises(PokValidationError) as caught:
        client.create_credential(body)

    assert caught.value.status_code == 400
    assert caught.value.message == "Unknown custom parameters: colour."
    assert server.credentials == {}


def test_422_is_a_validation_error_and_list_messages_are_joined(server, client):
    server.fail_next("POST credential", status=422, message=["title is too long", "emitter is empty"])

    with pytest.raises(PokValidationError) as caught:
        client.create_credential(credential_body())

    assert caught.value.status_code == 422
    assert caught.value.message == "title is too long; emitter is empty"


def test_error_without_a_json_body_uses_the_status_line(server, client):
    with pytest.raises(PokNotFound) as caught:
        make_client(server.url + "images/").get_organization()

    assert caught.value.message == "HTTP 404 Not Found"


def test_2xx_without_a_credential_id_is_an_unknown_outcome(server, client):
    """POK said yes: the credential may exist and be paid for, so the caller must not send it again."""
    server.fail_next("POST credential", status=200, message="Accepted")

    with pytest.raises(PokOutcomeUnknown) as caught:
        client.create_credential(credential_body())

    assert "no credential id" in caught.value.message
    assert server.calls["POST credential"] == 1


def test_a_gateway_timeout_on_the_credential_post_is_an_unknown_outcome(server, client):
    server.fail_next("POST credential", status=504)

    with pytest.raises(PokOutcomeUnknown) as caught:
        client.create_credential(credential_body())

    assert caught.value.status_code == 504
    assert server.calls["POST credential"] == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_other_5xx_on_the_credential_post_are_server_errors_after_sending(server, client, status):
    """POK may have created the credential before failing: a type of its own, still an unavailability."""
    server.fail_next("POST credential", status=status)

    with pytest.raises(PokCreationServerError) as caught:
        client.create_credential(credential_body())

    assert isinstance(caught.value, PokUnavailable)
    assert caught.value.status_code == status
    assert "may have created the credential" in caught.value.message
    assert server.calls["POST credential"] == 1


def test_5xx_on_the_template_preview_is_plain_unavailability(server, client):
    server.fail_next("POST template preview", status=500)

    with pytest.raises(PokUnavailable) as caught:
        client.preview_template(credential_body())

    assert type(caught.value) is PokUnavailable


def test_any_2xx_is_success(server, client):
    server.success_status = 201

    created = client.create_credential(credential_body())

    assert client.get_credential(created.id).id == created.id


def test_a_redirected_post_is_not_followed(server, client):
    server.fail_next("POST credential", status=301, headers={"Location": f"{server.url}credential"})

    with pytest.raises(PokValidationError) as caught:
        client.create_credential(credential_body())

    assert caught.value.status_code == 301
    assert server.calls == {"POST credential": 1}


def test_rate_limited_with_retry_after_seconds(server, client):
    server.fail_next("POST credential", status=429, headers={"Retry-After": "7"})

    with pytest.raises(PokRateLimited) as caught:
        client.create_credential(credential_body())

    assert caught.value.retry_after == 7.0
    assert caught.value.status_code == 429
    assert server.calls["POST credential"] == 1


def test_rate_limited_with_retry_after_http_date(server, client):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    server.fail_next("GET credential", status=429, headers={"Retry-After": later})

    with pytest.raises(PokRateLimited) as caught:
        client.get_credential("x")

    assert 100 < caught.value.retry_after <= 120
    assert server.calls["GET credential"] == 1


def test_server_rate_limit_answers_429(server, client):
    server.rate_limit(per_second=1)
    client.get_organization()

    with pytest.raises(PokRateLimited) as caught:
        client.get_organization()

    assert caught.value.retry_after >= 1


def test_5xx_on_post_is_a_server_error_and_not_retried(server, client):
    server.fail_next("POST credential", status=503, count=3, headers={"Retry-After": "1"})

    with pytest.raises(PokCreationServerError) as caught:
        client.create_credential(credential_body())

    assert caught.value.status_code == 503
    assert caught.value.retry_after == 1.0
    assert server.calls["POST credential"] == 1
    assert server.credentials == {}


def test_outage_with_a_long_retry_after_is_not_waited_for(server, client):
    server.outage = True

    with pytest.raises(PokUnavailable) as caught:
        client.get_organization()

    assert caught.value.retry_after == 5.0
    assert server.calls["GET organization"] == 1


# -- retries -------------------------------------------------------------------------------------


def test_get_retries_5xx_then_succeeds(server, client):
    created = client.create_credential(credential_body())
    server.fail_next("GET credential", status=502, count=2)

    assert client.get_credential(created.id).id == created.id
    assert server.calls["GET credential"] == 3


def test_get_gives_up_after_a_few_attempts(server, client):
    server.fail_next("GET template", status=500, count=10)

    with pytest.raises(PokUnavailable) as caught:
        client.get_template("diploma")

    assert caught.value.status_code == 500
    assert server.calls["GET template"] == 3


def test_get_retries_a_dropped_connection(server, client):
    server.drop_next("GET template", count=1)

    assert client.get_template("diploma").id == "diploma"
    assert server.calls["GET template"] == 2


def test_get_read_timeout_is_retried_then_unavailable(server):
    client = make_client(server.url, timeout=0.2, get_attempts=2)
    server.latency = 0.5

    with pytest.raises(PokUnavailable) as caught:
        client.list_pages()

    assert caught.value.status_code is None
    assert server.calls["GET pages"] == 2


def test_post_is_never_retried_after_a_dropped_connection(server, client):
    server.drop_next("POST credential", count=1)

    with pytest.raises(PokOutcomeUnknown):
        client.create_credential(credential_body())

    assert server.calls["POST credential"] == 1


# -- timeouts and unreachable servers -----------------------------------------------------------


def test_post_answer_lost_after_creation_is_outcome_unknown(server, client):
    server.timeout_after_create_next()

    with pytest.raises(PokOutcomeUnknown) as caught:
        client.create_credential(credential_body())

    assert caught.value.status_code is None
    assert server.calls["POST credential"] == 1
    assert len(server.credentials) == 1


def test_post_to_a_server_that_never_answers_is_outcome_unknown(mute_port):
    client = make_client(f"http://127.0.0.1:{mute_port}", timeout=0.2)

    with pytest.raises(PokOutcomeUnknown):
        client.create_credential(credential_body())


@pytest.mark.parametrize("call", ["get", "post"])
def test_connect_timeout_is_unavailable(silent_port, call):
    client = make_client(f"http://127.0.0.1:{silent_port}", connect_timeout=0.2, get_attempts=1)

    with pytest.raises(PokUnavailable) as caught:
        client.get_organization() if call == "get" else client.create_credential(credential_body())

    assert caught.value.message == "POK is not reachable: no connection within the connect timeout."


@pytest.mark.parametrize("call", ["get", "post"])
def test_connection_refused_is_unavailable(call):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{closed_port}", get_attempts=2)

    with pytest.raises(PokUnavailable) as caught:
        client.get_organization() if call == "get" else client.create_credential(credential_body())

    assert caught.value.status_code is None
    assert caught.value.message == "POK is not reachable: connection refused."


# -- logs ----------------------------------------------------------------------------------------


def test_logs_never_hold_the_key_and_hold_pii_only_below_info(server, client, caplog):
    caplog.set_level(logging.DEBUG)
    created = client.create_credential(credential_body())
    client.get_credential(created.id)
    server.fail_next("POST credential", status=400, message=f"receiver {LEARNER_EMAIL} (Ana) is invalid")
    with pytest.raises(PokValidationError) as caught:
        client.create_credential(credential_body())
    server.timeout_after_create_next()
    with pytest.raises(PokOutcomeUnknown):
        client.create_credential(credential_body())
    with pytest.raises(PokAuthError):
        make_client(server.url, api_key="wrong-" + API_KEY).get_organization()

    assert API_KEY not in caplog.text
    assert API_KEY not in repr(client)
    assert API_KEY not in str(caught.value)
    info_and_above = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for pii in (LEARNER_EMAIL, "Ana", "Garcíaflores"):
        assert pii not in info_and_above
    assert "POK POST credential -> 200" in info_and_above
    assert created.id in info_and_above
    assert LEARNER_EMAIL in caplog.text  # POK's own message is kept, at DEBUG only


# -- settings and parsing ------------------------------------------------------------------------


def test_get_client_reads_settings_and_shares_one_session(settings, server):
    settings.POK_API_URL = server.url.rstrip("/")
    settings.POK_API_KEY = API_KEY
    settings.POK_TIMEOUT = 3
    settings.POK_CONNECT_TIMEOUT = 2

    first, second = get_client(), get_client()

    assert first.session is second.session
    assert (first.timeout, first.connect_timeout) == (3.0, 2.0)
    assert first.get_organization().name == "Fake POK Organization"


def test_fake_pok_fixture_points_settings_at_the_server(fake_pok):
    assert get_client().get_template("default-template").custom_parameters == ()
    assert fake_pok.calls["GET template"] == 1


def test_credential_parsing_tolerates_missing_and_unknown_fields():
    credential = PokCredential.from_json(
        {"id": 17, "state": "somethingNew", "createdAt": "garbage", "extra": {"x": 1}, "receiver": None}
    )

    assert credential.id == "17"
    assert credential.state == "somethingNew"
    assert (credential.view_url, credential.emission_date, credential.problems) == ("", None, ())


def test_credential_parsing_keeps_the_receiver_tags_and_title_for_comparison_only():
    credential = PokCredential.from_json(
        {
            "id": "c1",
            "state": "emitted",
            "credential": {"tags": ["StudentId:4", 7, None, "CourseId:course-v1:A+B+C"], "title": "Python"},
            "receiver": {"name": "Ana García", "email": "ana@example.com"},
        }
    )
    odd = PokCredential.from_json(
        {"id": "c2", "credential": {"tags": "StudentId:4", "title": {"x": 1}}, "receiver": {"email": 42}}
    )

    assert (credential.receiver_email, credential.receiver_name) == ("ana@example.com", "Ana García")
    assert credential.tags == ("StudentId:4", "CourseId:course-v1:A+B+C")
    assert credential.title == "Python"
    assert (odd.receiver_email, odd.receiver_name, odd.tags, odd.title, odd.problems) == ("", "", (), "", ())


def test_template_parsing_tolerates_odd_parameters():
    template = PokTemplate.from_json(
        {"id": "t", "name": "T", "customParameters": [{"id": "a"}, "b", {"label": "no id"}, None]}
    )

    assert template.custom_parameters == (TemplateParameter("a", "a"), TemplateParameter("b", "b"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("1.5", 1.5), ("-4", 0.0), ("soon", None)],
)
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_date_in_the_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
