"""
The plugin's endpoints under /pok/, for the credential's owner, another learner, an anonymous
visitor and staff. None may show another learner's data it should not, none returns an email,
and none calls POK.
"""

import uuid

import pytest
from opaque_keys.edx.keys import CourseKey


@pytest.fixture
def owner(make_learner):
    return make_learner(username="ana", email="ana@example.com")


@pytest.fixture
def other_learner(make_learner):
    return make_learner(username="bruno", profile_name="Bruno Silva", email="bruno@example.com")


@pytest.fixture
def global_staff(make_learner):
    return make_learner(username="support", is_staff=True)


@pytest.fixture
def emitted(owner, course_key, make_credential):
    return make_credential(owner, course_key, receiver_email="ana@example.com")


@pytest.fixture
def processing(owner, make_course, make_credential):
    return make_credential(owner, make_course(), state="processing", receiver_email="ana@example.com")


def login(client, user):
    if user is not None:
        client.force_login(user)
    return client


VIEWERS = ["owner", "other_learner", "global_staff", None]


@pytest.fixture(params=VIEWERS, ids=["owner", "other learner", "staff", "anonymous"])
def viewer(request):
    return request.getfixturevalue(request.param) if request.param else None


def test_status_is_public_and_tells_only_the_state(client, fake_pok, viewer, processing):
    response = login(client, viewer).get(f"/pok/credentials/{processing.public_id}/status")

    assert response.status_code == 200
    assert response.json() == {"state": "issuing"}
    assert "no-cache" in response["Cache-Control"]
    assert sum(fake_pok.calls.values()) == 0


@pytest.mark.parametrize(
    ("state", "public_state"),
    [
        ("pending", "issuing"),
        ("outcome_unknown", "issuing"),
        ("emitted", "emitted"),
        ("failed", "delayed"),
        ("revoked", "revoked"),
    ],
)
def test_status_maps_internal_states_to_what_the_page_needs(
    client, owner, course_key, make_credential, state, public_state
):
    credential = make_credential(owner, course_key, state=state)

    assert client.get(f"/pok/credentials/{credential.public_id}/status").json() == {"state": public_state}


def test_status_of_an_unknown_credential_is_404(client, db):
    assert client.get(f"/pok/credentials/{uuid.uuid4()}/status").status_code == 404


def test_image_download_of_an_emitted_credential_redirects_to_the_pok_image_for_anyone(
    client, fake_pok, viewer, emitted
):
    response = login(client, viewer).get(f"/pok/credentials/{emitted.public_id}/image")

    assert response.status_code == 302
    assert response["Location"] == emitted.image_url
    assert sum(fake_pok.calls.values()) == 0


def test_image_download_of_a_credential_not_emitted_is_404(client, owner, processing):
    response = login(client, owner).get(f"/pok/credentials/{processing.public_id}/image")

    assert response.status_code == 404


def test_image_download_of_a_revoked_credential_is_404(client, owner, course_key, make_credential):
    credential = make_credential(
        owner, course_key, state="revoked", image_url="https://images.pok.tech/a.png"
    )

    assert client.get(f"/pok/credentials/{credential.public_id}/image").status_code == 404


def test_image_download_refuses_an_image_url_outside_poks_hosts(client, owner, course_key, make_credential):
    credential = make_credential(owner, course_key, image_url="https://images.attacker.example/a.png")

    assert client.get(f"/pok/credentials/{credential.public_id}/image").status_code == 404


def test_my_credentials_lists_the_owners_own_credentials(client, fake_pok, owner, emitted, processing):
    response = login(client, owner).get("/pok/credentials/mine")

    assert response.status_code == 200
    credentials = {item["id"]: item for item in response.json()["credentials"]}
    assert set(credentials) == {str(emitted.public_id), str(processing.public_id)}
    assert credentials[str(emitted.public_id)]["state"] == "emitted"
    assert credentials[str(emitted.public_id)]["view_url"] == emitted.view_url
    assert (
        credentials[str(emitted.public_id)]["image_download_url"]
        == f"/pok/credentials/{emitted.public_id}/image"
    )
    assert credentials[str(processing.public_id)] == {
        "id": str(processing.public_id),
        "course_id": str(processing.course_key),
        "state": "issuing",
        "title": "Introduction to Python",
        "issued_on": None,
        "view_url": "",
        "image_download_url": "",
        "status_url": f"/pok/credentials/{processing.public_id}/status",
    }
    assert "ana@example.com" not in response.content.decode()
    assert sum(fake_pok.calls.values()) == 0


def test_another_learner_sees_only_their_own_credentials(client, other_learner, emitted, processing):
    response = login(client, other_learner).get("/pok/credentials/mine")

    assert response.status_code == 200
    assert response.json() == {"credentials": []}


def test_my_credentials_needs_a_signed_in_learner(client, emitted):
    response = client.get("/pok/credentials/mine")

    assert response.status_code == 401
    assert str(emitted.public_id) not in response.content.decode()


def test_global_staff_look_up_any_learner_by_username(client, fake_pok, global_staff, emitted, processing):
    response = login(client, global_staff).get("/pok/credentials/lookup", {"username": "ana"})

    assert response.status_code == 200
    credentials = response.json()["credentials"]
    assert {item["id"] for item in credentials} == {str(emitted.public_id), str(processing.public_id)}
    assert {item["internal_state"] for item in credentials} == {"emitted", "processing"}
    assert {item["account"] for item in credentials} == {"default"}  # the POK account that issues each
    assert all(item["username"] == "ana" for item in credentials)
    assert "ana@example.com" not in response.content.decode()
    assert sum(fake_pok.calls.values()) == 0


def test_staff_lookup_narrows_to_a_course(client, global_staff, emitted, processing):
    response = login(client, global_staff).get(
        "/pok/credentials/lookup", {"username": "ana", "course_id": str(emitted.course_key)}
    )

    assert [item["id"] for item in response.json()["credentials"]] == [str(emitted.public_id)]


def test_staff_lookup_matches_the_course_exactly_whatever_the_database_collation(
    client, global_staff, make_learner, make_credential
):
    """MariaDB compares case-insensitively: course-v1:org+py101 is another course than course-v1:Org+PY101."""
    upper, lower = (
        CourseKey.from_string(key) for key in ("course-v1:Org+PY101+2025", "course-v1:org+py101+2025")
    )
    in_upper = make_credential(make_learner(username="ana"), upper)
    make_credential(make_learner(username="bruno", profile_name="Bruno Silva"), lower)

    response = login(client, global_staff).get("/pok/credentials/lookup", {"course_id": str(upper)})

    assert [item["id"] for item in response.json()["credentials"]] == [str(in_upper.public_id)]


def test_staff_lookup_never_returns_an_email_address_quoted_by_pok(
    client, global_staff, owner, make_credential
):
    make_credential(
        owner,
        CourseKey.from_string("course-v1:ExampleX+PY1+2026"),
        state="failed",
        last_error=(
            "PokValidationError: HTTP 400: receiver ana@example.com (Ana) is invalid; "
            "also seen as ANA%40EXAMPLE.COM and ana\uff20example.com"
        ),
    )

    response = login(client, global_staff).get("/pok/credentials/lookup", {"username": "ana"})

    (item,) = response.json()["credentials"]
    assert item["last_error"] == (
        "PokValidationError: HTTP 400: receiver [e-mail address] (Ana) is invalid; "
        "also seen as [e-mail address] and [e-mail address]"
    )
    assert "example.com" not in response.content.decode().lower()


def test_course_staff_look_up_learners_of_their_course_only(client, make_learner, emitted, processing):
    from common.djangoapps.student.roles import CourseStaffRole

    teacher = make_learner(username="teacher")
    CourseStaffRole(emitted.course_key).add_users(teacher)
    login(client, teacher)

    own_course = client.get("/pok/credentials/lookup", {"course_id": str(emitted.course_key)})
    other_course = client.get("/pok/credentials/lookup", {"course_id": str(processing.course_key)})
    everywhere = client.get("/pok/credentials/lookup", {"username": "ana"})

    assert [item["id"] for item in own_course.json()["credentials"]] == [str(emitted.public_id)]
    assert other_course.status_code == 403
    assert everywhere.status_code == 403


def test_org_staff_look_up_learners_of_their_orgs_courses_only(
    client, make_learner, make_course, make_credential, owner, emitted
):
    from common.djangoapps.student.roles import OrgStaffRole

    other_org = make_credential(owner, make_course(course_id="course-v1:OtherX+AB1+2026"))
    organizer = make_learner(username="organizer")
    OrgStaffRole(emitted.course_key.org).add_users(organizer)
    login(client, organizer)

    own_org = client.get("/pok/credentials/lookup", {"course_id": str(emitted.course_key)})
    elsewhere = client.get("/pok/credentials/lookup", {"course_id": str(other_org.course_key)})

    assert [item["id"] for item in own_org.json()["credentials"]] == [str(emitted.public_id)]
    assert elsewhere.status_code == 403


def test_a_learner_cannot_use_the_staff_lookup(client, other_learner, emitted):
    response = login(client, other_learner).get("/pok/credentials/lookup", {"username": "ana"})

    assert response.status_code == 403
    assert str(emitted.public_id) not in response.content.decode()


def test_anonymous_visitors_cannot_use_the_staff_lookup(client, emitted):
    assert client.get("/pok/credentials/lookup", {"username": "ana"}).status_code == 401


def test_staff_lookup_reports_bad_questions(client, global_staff):
    login(client, global_staff)

    assert client.get("/pok/credentials/lookup").status_code == 400
    assert client.get("/pok/credentials/lookup", {"course_id": "not a course"}).status_code == 400
    assert client.get("/pok/credentials/lookup", {"username": "nobody"}).status_code == 404


def test_endpoints_only_answer_get(client, owner, emitted):
    login(client, owner)

    assert client.post(f"/pok/credentials/{emitted.public_id}/status").status_code == 405
    assert client.post("/pok/credentials/mine").status_code == 405
