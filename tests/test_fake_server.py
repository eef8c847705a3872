"""The fake POK server itself: its API shapes, its validation, its faults and its counters."""

import html
import json
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
import requests

from openedx_pok.client import PokClient, PokOutcomeUnknown
from openedx_pok.testing import ENDPOINTS, FakePokServer, images

KEY = "test-api-key"


@pytest.fixture
def server():
    with FakePokServer(api_key=KEY, emit_after=None) as fake:
        fake.add_template("diploma", name="Diploma", parameters=[("grade", "Final grade")])
        fake.add_page("landing", "Landing")
        yield fake


def call(server, method, path, body=None, *, key=KEY, data=None, content_type="application/json"):
    headers = {"Authorization": f"ApiKey {key}", "Accept": "application/json"}
    if method == "POST":
        headers["Content-Type"] = content_type
        data = json.dumps(body).encode() if data is None else data
    return requests.request(method, server.url + path, data=data, headers=headers, timeout=2)


def body(**changes):
    payload = {
        "credential": {
            "tags": ["StudentId:7", "CourseId:course-v1:X+Y+Z"],
            "emissionType": "pok",
            "dateFormat": "MM/dd/yyyy",
            "emissionDate": "2026-01-02T03:04:05Z",
            "title": "Course",
            "emitter": "University",
        },
        "receiver": {
            "identification": "7",
            "email": "learner@example.com",
            "firstName": "Lee",
            "lastName": "Ng",
        },
        "customization": {"template": {"id": "diploma", "customParameters": {"grade": "91"}}},
    }
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = payload
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return payload


def create(server, **changes):
    response = call(server, "POST", "credential", body(**changes))
    assert response.status_code == 200, response.text
    return response.json()


# -- shapes --------------------------------------------------------------------------------------


def test_endpoint_shapes(server):
    organization = call(server, "GET", "organization/me").json()
    assert set(organization) >= {
        "name",
        "wallet",
        "availableCredits",
        "emittedCredentials",
        "processingCredentials",
    }
    templates = call(server, "GET", "template").json()
    assert templates["data"][0] == {
        "id": "diploma",
        "name": "Diploma",
        "version": 1,
        "customParameters": [{"id": "grade", "label": "Final grade"}],
    }
    assert call(server, "GET", "template/diploma").json()["customParameters"] == [
        {"id": "grade", "label": "Final grade"}
    ]
    assert call(server, "GET", "page").json() == {"data": [{"id": "landing", "name": "Landing"}]}
    assert call(server, "POST", "template/preview", body()).json()["url"].endswith(".svg")

    credential = create(server)
    assert credential["state"] == "processing"
    assert credential["viewUrl"] == ""
    assert credential["receiver"] == {"name": "Lee Ng", "email": "learner@example.com"}
    assert credential["credential"]["tags"] == ["StudentId:7", "CourseId:course-v1:X+Y+Z"]
    details = credential["credential"]
    assert (details["title"], details["emitter"], details["emissionType"]) == ("Course", "University", "pok")
    assert credential["createdAt"]
    assert call(server, "GET", f"credential/{credential['id']}").json() == credential
    assert server.calls == {endpoint: 1 for endpoint in ENDPOINTS if endpoint != "GET credential image"}


def test_trailing_slash_is_accepted_and_unknown_paths_are_404(server):
    credential = create(server)

    assert call(server, "GET", f"credential/{credential['id']}/").status_code == 200
    assert call(server, "GET", "organization/me/").status_code == 200
    missing = call(server, "GET", "certificates")
    assert missing.status_code == 404
    assert "message" in missing.json()


def test_processing_until_emitted_then_image(server):
    credential_id = create(server)["id"]

    assert call(server, "GET", f"credential/{credential_id}/decrypted-image").status_code == 400
    assert server.credentials[credential_id]["state"] == "processing"

    server.emit_all()

    emitted = call(server, "GET", f"credential/{credential_id}").json()
    assert emitted["state"] == "emitted"
    assert emitted["viewUrl"] == f"{server.url}view/{credential_id}"
    location = call(server, "GET", f"credential/{credential_id}/decrypted-image").json()["location"]
    image = requests.get(location, timeout=2)
    assert image.headers["Content-Type"] == "image/svg+xml"
    assert image.text.startswith("<svg ")
    view = requests.get(emitted["viewUrl"], timeout=2)
    assert credential_id in view.text
    assert f"/images/credential/{credential_id}.svg" in view.text


def test_emit_after_zero_emits_on_the_next_read(server):
    server.emit_after = 0.0
    credential_id = create(server)["id"]

    assert call(server, "GET", f"credential/{credential_id}").json()["state"] == "emitted"


def test_set_credential_state_sticks(server):
    server.emit_after = 0.0
    credential_id = create(server)["id"]
    server.set_credential_state(credential_id, "revoked")

    assert call(server, "GET", f"credential/{credential_id}").json()["state"] == "revoked"


def test_preview_image_is_served(server):
    url = call(server, "POST", "template/preview", body()).json()["url"]

    assert requests.get(url, timeout=2).text.startswith("<svg ")


def svg_text(svg: str) -> list[str]:
    """The lines of text an SVG image shows, unescaped."""
    return [html.unescape(line) for line in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_a_credential_image_shows_what_the_request_said(server):
    server.emit_after = 0.0
    credential_id = create(
        server,
        receiver__firstName="Ana <b>",
        receiver__lastName="García & Ñúñez",
        credential__title="Data Analysis",
        credential__emitter="Demo University",
        credential__emissionDate="2026-03-04T10:00:00Z",
        credential__dateFormat="dd/MM/yyyy",
    )["id"]
    location = call(server, "GET", f"credential/{credential_id}/decrypted-image").json()["location"]

    svg = requests.get(location, timeout=2).text

    lines = svg_text(svg)
    assert "Ana <b> García & Ñúñez" in lines
    assert "Data Analysis" in lines
    assert "DEMO UNIVERSITY" in lines
    assert "Diploma" in lines  # the template's name
    assert "Issued on 04/03/2026" in lines
    assert "Final grade: 91" in lines
    assert "<b>" not in svg
    assert "PREVIEW" not in lines


def test_a_credential_image_is_drawn_once_and_unknown_ones_are_404(server, monkeypatch):
    server.emit_after = 0.0
    credential_id = create(server)["id"]
    drawn = []
    original = images.certificate_svg
    monkeypatch.setattr(images, "certificate_svg", lambda *a, **k: drawn.append(1) or original(*a, **k))

    first = requests.get(f"{server.url}images/credential/{credential_id}.svg", timeout=2)
    second = requests.get(f"{server.url}images/credential/{credential_id}.svg?expires=x", timeout=2)

    assert first.content == second.content
    assert len(drawn) == 1
    assert requests.get(f"{server.url}images/credential/unknown.svg", timeout=2).status_code == 404
    assert requests.get(f"{server.url}view/unknown", timeout=2).status_code == 404


def test_a_preview_shows_placeholders_in_its_templates_own_look(server):
    server.add_template("badge", name="Badge", look="modern")
    server.add_template("diploma-2", name="Diploma", look="classic")
    preview = body(receiver__firstName="[First name]", receiver__lastName="[Last name]")
    preview["customization"]["template"] = {"id": "badge", "customParameters": {}}
    badge = requests.get(call(server, "POST", "template/preview", preview).json()["url"], timeout=2).text
    preview["customization"]["template"] = {"id": "diploma-2", "customParameters": {}}
    diploma = requests.get(call(server, "POST", "template/preview", preview).json()["url"], timeout=2).text

    assert "[First name] [Last name]" in svg_text(badge)
    assert "PREVIEW" in svg_text(badge)
    assert images.LOOKS["modern"].frame in badge
    assert images.LOOKS["classic"].frame in diploma
    assert images.LOOKS["classic"].frame not in badge


def test_an_unknown_look_is_refused(server):
    with pytest.raises(ValueError, match="Unknown look"):
        server.add_template("x", look="glitter")


def test_credits_are_spent_and_exhausted(server):
    server.credits = 1
    create(server)

    refused = call(server, "POST", "credential", body())

    assert refused.status_code == 400
    assert refused.json()["message"] == "The organization has no credits left."
    assert call(server, "GET", "organization/me").json()["availableCredits"] == 0


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["wrong", ""])
def test_auth_header_is_checked(server, key):
    response = call(server, "GET", "organization/me", key=key)

    assert response.status_code == 401
    assert response.json() == {"message": "Invalid or missing API key."}


def test_bearer_scheme_is_refused(server):
    response = requests.get(server.url + "template", headers={"Authorization": f"Bearer {KEY}"}, timeout=2)

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (b"{not json", "application/json", "The body must be a JSON object."),
        (b"[1, 2]", "application/json", "The body must be a JSON object."),
        (b"", "application/json", "The body must be a JSON object."),
        (b"{}", "text/plain", "Content-Type must be application/json."),
    ],
)
def test_malformed_bodies(server, data, content_type, message):
    response = call(server, "POST", "credential", data=data, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["message"] == message
    assert server.credentials == {}


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"receiver": None}, 400, "receiver is required."),
        ({"receiver__email": "nobody"}, 400, "receiver.email must be an email address."),
        ({"customization": None}, 400, "customization.template is required."),
        ({"customization__template__id": ""}, 400, "customization.template.id is required."),
        ({"customization__template__id": "nope"}, 404, "Template nope not found."),
        (
            {"customization__template__customParameters": {"grade": "1", "extra": "x"}},
            400,
            "Unknown custom parameters: extra.",
        ),
        (
            {"customization__template__customParameters": {}},
            400,
            "Missing or empty custom parameters: grade.",
        ),
        (
            {"customization__template__customParameters": {"grade": 91}},
            400,
            "Custom parameters must be strings: grade.",
        ),
        ({"customization__page": ""}, 400, "Page '' not found."),
        ({"credential__emissionType": "nft"}, 400, "credential.emissionType must be one of pok, blockchain."),
        (
            {"credential__dateFormat": "yyyy-MM-dd"},
            400,
            "credential.dateFormat must be one of dd/MM/yyyy, MM/dd/yyyy.",
        ),
        ({"credential__tags": "StudentId:7"}, 400, "credential.tags must be a list of strings."),
        (
            {"credential__emissionDate": "yesterday"},
            400,
            "credential.emissionDate must be an ISO 8601 timestamp.",
        ),
    ],
)
def test_invalid_credential_bodies(server, changes, status, message):
    response = call(server, "POST", "credential", body(**changes))

    assert response.status_code == status
    assert response.json()["message"] == message
    assert server.credentials == {}


@pytest.mark.parametrize("tag", ["es_AR", "english", "", "e", "en-", 42])
def test_bad_language_tags_are_refused(server, tag):
    response = call(server, "POST", "credential", body(receiver__languageTag=tag))

    assert response.status_code == 400
    assert "languageTag" in response.json()["message"]


@pytest.mark.parametrize("tag", ["es-AR", "en", "en-US", "zh-Hant-TW", "es-419", "pt-BR"])
def test_good_language_tags_are_accepted(server, tag):
    create(server, receiver__languageTag=tag)


def test_missing_parameters_can_be_allowed(server):
    server.require_all_parameters = False

    create(server, customization__template__customParameters={})


def test_known_page_is_accepted(server):
    create(server, customization__page="landing")


# -- faults --------------------------------------------------------------------------------------


def test_fail_next_hits_only_its_endpoint_and_count(server):
    server.fail_next("GET template", status=502, count=2, headers={"Retry-After": "3"})

    assert call(server, "GET", "organization/me").status_code == 200
    first = call(server, "GET", "template/diploma")
    assert (first.status_code, first.headers["Retry-After"]) == (502, "3")
    assert call(server, "GET", "template/diploma").status_code == 502
    assert call(server, "GET", "template/diploma").status_code == 200
    assert server.calls["GET template"] == 3


def test_fail_next_on_post_creates_nothing(server):
    server.fail_next("POST credential", status=500)

    assert call(server, "POST", "credential", body()).status_code == 500
    assert server.credentials == {}
    assert len(server.bodies("POST credential")) == 1


def test_drop_next_closes_without_an_answer(server):
    server.drop_next("POST credential")

    with pytest.raises(requests.ConnectionError):
        call(server, "POST", "credential", body())
    assert server.credentials == {}
    assert create(server)["state"] == "processing"


def test_drop_after_create_keeps_the_credential_and_answers_nothing(server):
    server.drop_after_create_next()

    with pytest.raises(requests.ConnectionError):
        call(server, "POST", "credential", body())

    assert len(server.credentials) == 1
    assert create(server)["state"] == "processing"


def test_timeout_after_create_keeps_the_credential(server):
    server.timeout_after_create_next()
    client = PokClient(server.url, KEY, timeout=0.2, connect_timeout=0.2)

    with pytest.raises(PokOutcomeUnknown):
        client.create_credential(body())

    assert [credential["receiver"]["email"] for credential in server.credentials.values()] == [
        "learner@example.com"
    ]


def test_rate_limit_and_lifting_it(server):
    server.rate_limit(per_second=2)
    statuses = [call(server, "GET", "page").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    limited = call(server, "GET", "page")
    assert int(limited.headers["Retry-After"]) >= 1
    server.rate_limit(None)
    assert call(server, "GET", "page").status_code == 200


def test_outage_on_and_off(server):
    server.outage = True
    down = call(server, "GET", "organization/me")
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "5"
    assert call(server, "POST", "credential", body()).status_code == 503
    server.outage = False
    assert call(server, "GET", "organization/me").status_code == 200
    assert server.credentials == {}


def test_latency_past_the_read_timeout(server):
    server.latency = 0.5

    with pytest.raises(requests.ReadTimeout):
        requests.get(server.url + "page", headers={"Authorization": f"ApiKey {KEY}"}, timeout=(1, 0.1))


def test_unknown_endpoint_name_is_refused(server):
    with pytest.raises(ValueError, match="Unknown endpoint"):
        server.fail_next("POST credentials")


# -- counters ------------------------------------------------------------------------------------


def test_duplicates_per_receiver_and_course(server):
    create(server)
    create(server, credential__tags=["StudentId:7", "CourseId:course-v1:X+Other+Z"])
    assert server.duplicates() == []

    create(server)

    assert server.duplicates() == [("7", "CourseId:course-v1:X+Y+Z")]


def test_reset_forgets_calls_credentials_and_faults(server):
    create(server)
    server.fail_next("GET pages", status=500)
    server.outage = True

    server.reset()

    assert server.calls == {}
    assert server.credentials == {}
    assert server.bodies("POST credential") == []
    assert call(server, "GET", "page").status_code == 200
    assert "diploma" in server.templates


def test_concurrent_posts_are_all_counted(server):
    def post():
        create(server)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert server.calls["POST credential"] == 20
    assert len(server.credentials) == 20
    assert server.credits == 980
    assert server.duplicates() == [("7", "CourseId:course-v1:X+Y+Z")]


# -- command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_command_line_serves_until_interrupted(stop_signal):
    """Also when started by a script in the background, where SIGINT is ignored until handled."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openedx_pok.testing",
            "--port",
            "0",
            "--emit-after",
            "never",
            "--template",
            "course-cert:Course certificate:grade=Final grade,hours",
            "--page",
            "landing:Landing",
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )
    try:
        url = process.stdout.readline().split(" at ")[1].strip()
        client = PokClient(url, "test-api-key", timeout=2, connect_timeout=2)
        template = client.get_template("course-cert")
        assert [(p.id, p.label) for p in template.custom_parameters] == [
            ("grade", "Final grade"),
            ("hours", "hours"),
        ]
        assert client.get_template("default-template").custom_parameters == ()
        assert [page.id for page in client.list_pages()] == ["landing"]
    finally:
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_command_line_reports_a_busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(  # noqa: S603 - our own module and a port number
            [sys.executable, "-m", "openedx_pok.testing", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert result.returncode == 1
    assert result.stderr == f"Cannot listen on 127.0.0.1:{port}: Address already in use; try --port 0.\n"
