"""Shared fixtures: learners, courses, the course switch, certificates, credentials, queued tasks."""

import itertools
import time
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from opaque_keys.edx.keys import CourseKey

from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME

pytest_plugins = ["openedx_pok.testing.pytest_plugin"]

_sequence = itertools.count(1)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Locks, rate limits and scheduled-run markers live in the cache: none leaks between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """
    Once the test database is migrated, a transactional test's closing flush no longer re-creates
    every content type and permission (Django's post_migrate receivers, 0.2 s a test, a sixth of
    the suite): no test needs Permission rows (they use superusers and the platform's roles), and
    content types are created again on first use (``_fresh_content_types``).
    """
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes
    from django.db.models.signals import post_migrate

    post_migrate.disconnect(
        create_permissions, dispatch_uid="django.contrib.auth.management.create_permissions"
    )
    post_migrate.disconnect(create_contenttypes)
    yield
    post_migrate.connect(create_contenttypes)
    post_migrate.connect(create_permissions, dispatch_uid="django.contrib.auth.management.create_permissions")


@pytest.fixture(autouse=True)
def _fresh_content_types():
    """A flush leaves the content type cache pointing at deleted rows: forget it after every test."""
    yield
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


@pytest.fixture
def make_learner(db):
    """A learner with a profile, as the platform creates them; ``profile_name=None`` skips the profile."""
    from common.djangoapps.student.models import UserProfile

    def make(username=None, profile_name="Ana García", email=None, **fields):
        number = next(_sequence)
        username = username or f"learner{number}"
        user = get_user_model().objects.create_user(
            username=username, email=email or f"{username}@example.com", password="pass", **fields
        )
        if profile_name is not None:
            UserProfile.objects.create(user=user, name=profile_name)
        return user

    return make


@pytest.fixture
def learner(make_learner):
    return make_learner()


ACTIVE_CERTIFICATE_CONFIG = {
    "id": 1,
    "name": "Main certificate",
    "is_active": True,
    "course_title": "Introduction to Python",
    "signatories": [{"id": 1, "name": "Grace Hopper", "title": "Dean", "organization": "Example University"}],
    "version": 1,
}


@pytest.fixture
def make_course(db):
    """
    A course the platform knows, with Studio's certificate configurations; other CourseOverview
    fields (pacing, end, certificate display) may be given by name.
    """
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview

    def make(course_id=None, display_name="Python 101", certificates=None, organization_name=None, **fields):
        course_key = CourseKey.from_string(course_id or f"course-v1:ExampleX+PY{next(_sequence)}+2026")
        if certificates is None:
            certificates = {"certificates": [ACTIVE_CERTIFICATE_CONFIG]}
        CourseOverview.objects.create(
            id=course_key,
            display_name=display_name,
            org=course_key.org,
            display_org_with_default=fields.pop("display_organization", course_key.org),
            display_number_with_default=fields.pop("number", course_key.course),
            language=fields.pop("language", "en"),
            certificates=certificates,
            **fields,
        )
        if organization_name:
            from organizations.api import add_organization, add_organization_course

            organization = add_organization({"name": organization_name, "short_name": course_key.org})
            add_organization_course(organization, course_key)
        return course_key

    return make


@pytest.fixture
def course_key(make_course):
    return make_course(organization_name="Example University")


@pytest.fixture
def enable_pok_for_course(db):
    """Switch POK on for one course, as an operator does with the course waffle flag override."""
    from openedx.core.djangoapps.waffle_utils.models import WaffleFlagCourseOverrideModel

    def enable(course_key, on=True):
        WaffleFlagCourseOverrideModel.objects.create(
            waffle_flag=COURSE_WAFFLE_FLAG_NAME, course_id=course_key, override_choice="on" if on else "off"
        )

    return enable


@pytest.fixture
def pok_course(course_key, enable_pok_for_course):
    """The ``course_key`` course with POK switched on for it."""
    enable_pok_for_course(course_key)
    return course_key


@pytest.fixture
def course_grade():
    """A CourseGrade-like object: the platform passes this, not a float."""

    def make(percent=0.88, letter_grade="Pass", passed=True):
        return SimpleNamespace(percent=percent, letter_grade=letter_grade, passed=passed)

    return make


class QueuedTasks:
    """
    Celery tasks the code sent, kept in order instead of going to a broker; ``run`` executes them
    here. A task sent with a countdown is not due yet: it stays in ``sent`` until a run with
    ``delayed=True`` (its countdown has passed), so self-scheduling chains advance one step per run.
    """

    def __init__(self):
        self.sent = []
        self._due = {}  # id(options) -> when, in real time, the task's countdown ends

    def record(self, task, args=None, kwargs=None, **options):
        self._due[id(options)] = time.monotonic() + (options.get("countdown") or 0)
        self.sent.append((task, tuple(args or ()), dict(kwargs or {}), options))

    @property
    def names(self):
        return [task.name for task, *_ in self.sent]

    def named(self, name):
        """The queued tasks of one name, as (args, kwargs, options)."""
        return [(args, kwargs, options) for task, args, kwargs, options in self.sent if task.name == name]

    def run(self, limit=10_000, *, delayed=False, elapsed=False):
        """
        Run the due tasks, and those they queue at once, synchronously and in order; returns how
        many ran. ``delayed``: the clock jumped, every countdown has passed; ``elapsed``: run those
        whose countdown has passed in real time.
        """
        ran, waiting, later = 0, self.sent, []
        self.sent = []
        while waiting and ran < limit:
            entry = waiting.pop(0)
            task, args, kwargs, options = entry
            countdown_over = delayed or (elapsed and self._due.get(id(options), 0) <= time.monotonic())
            if options.get("countdown") and not countdown_over:
                later.append(entry)
                continue
            task(*args, **kwargs)
            ran += 1
            for queued in self.sent:
                (later if queued[3].get("countdown") else waiting).append(queued)
            self.sent = []
        self.sent = [*later, *waiting]
        return ran


@pytest.fixture
def queued_tasks():
    """
    Record ``apply_async`` calls of Celery tasks; tests run them with ``queued_tasks.run()``. The
    patch is the fixture's own, so a test's ``monkeypatch.undo()`` does not send tasks to a broker.
    """
    from celery.app.task import Task

    queue = QueuedTasks()

    def apply_async(task, args=None, kwargs=None, **options):
        queue.record(task, args, kwargs, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Task, "apply_async", apply_async)
        yield queue


@pytest.fixture
def make_platform_certificate(db):
    """The learner's downloadable GeneratedCertificate, as the platform's certificate task leaves it."""
    from lms.djangoapps.certificates.models import GeneratedCertificate

    def make(user, course_key, mode="verified", status="downloadable", grade="0.88"):
        return GeneratedCertificate.objects.create(
            user=user,
            course_id=course_key,
            mode=mode,
            status=status,
            grade=grade,
            verify_uuid=GeneratedCertificate.new_verify_uuid(),
        )

    return make


@pytest.fixture
def certified(learner, pok_course, make_platform_certificate):
    """The learner's downloadable platform certificate, in a course where POK is on."""
    return make_platform_certificate(learner, pok_course)


@pytest.fixture
def make_credential(db):
    """A PokCertificate written directly in a state (what rendering reads); emitted ones complete."""
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from openedx_pok.models import PokCertificate

    def make(user, course_key, state="emitted", **fields):
        values = {
            "state": state,
            "mode": "verified",
            "title": "Introduction to Python",
            "emitter": "Example University",
            "receiver_name": "Ana García",
            "template_id": "default-template",
        }
        if state == "emitted":
            pok_id = str(uuid.uuid4())
            values.update(
                pok_state="emitted",
                pok_credential_id=pok_id,
                view_url=f"https://view.pok.tech/c/{pok_id}",
                image_url=f"https://images.pok.tech/credential/{pok_id}.png",
                image_url_expires_at=timezone.now() + timedelta(hours=1),
                emission_date=timezone.now(),
            )
        values.update(fields)
        return PokCertificate.objects.create(user=user, course_key=course_key, **values)

    return make


@pytest.fixture
def tracked_events(monkeypatch):
    """The analytics events the plugin emits, as (name, data), instead of going to the tracker."""
    from openedx_pok import platform_adapter

    events = []
    monkeypatch.setattr(
        platform_adapter, "emit_tracking_event", lambda name, data: events.append((name, data))
    )
    return events


@pytest.fixture
def credential_in(fake_pok, make_learner, course_key, enable_pok_for_course, course_grade, queued_tasks):
    """
    A new learner's credential brought to ``state`` by the real issuing code talking to the fake
    POK (faults injected where the state needs them), in ``course_key`` unless another is given.
    """
    from openedx_pok.models import CredentialState as S
    from openedx_pok.services.issuing import creation, operator_actions, sending

    enable_pok_for_course(course_key)
    faults = {
        S.FAILED: lambda: fake_pok.fail_next("POST credential", status=422, message="Receiver rejected."),
        S.RETRYING: lambda: fake_pok.fail_next("POST credential", status=503),
        S.OUTCOME_UNKNOWN: fake_pok.drop_after_create_next,
    }

    def make(state, course=None):
        credential = creation.record_certificate_request(
            user=make_learner(),
            course_key=course or course_key,
            mode="verified",
            status=None,
            course_grade=course_grade(),
            generation_mode=None,
        )
        if state != S.PENDING:
            faults.get(state, lambda: None)()
            sending.issue(credential.pk)
            credential.refresh_from_db()
        if state in (S.EMITTED, S.REVOKED):
            operator_actions.resync_from_pok(credential)
        if state == S.REVOKED:
            operator_actions.revoke(credential, "revoked for the test")
        credential.refresh_from_db()
        assert credential.state == state
        return credential

    return make
