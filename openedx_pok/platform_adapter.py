"""
The only module that imports Open edX internals.

Every import happens inside a function: the plugin's modules load before the platform's apps are
ready, and in CMS some LMS modules do not exist at all. Callers get plain data or our own
exceptions, never platform objects they would have to understand.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from openedx_pok.conf import COURSE_WAFFLE_FLAG_NAME, setting

log = logging.getLogger(__name__)

DOWNLOADABLE = "downloadable"


class CourseNotFound(Exception):
    """The platform does not know the course."""


@dataclass(frozen=True)
class Signatory:
    name: str = ""
    title: str = ""
    organization: str = ""


@dataclass(frozen=True)
class CertificateConfiguration:
    """The course's active certificate configuration, as the course team set it in Studio."""

    course_title: str = ""
    signatories: tuple[Signatory, ...] = ()


@dataclass(frozen=True)
class CourseDetails:
    course_key: CourseKey
    display_name: str
    org: str
    display_organization: str
    number: str
    language: str = ""
    certificate_configuration: CertificateConfiguration | None = None


@dataclass(frozen=True)
class PlatformCertificate:
    """The platform's own certificate record for a learner (GeneratedCertificate)."""

    certificate_id: int
    user_id: int
    course_key: CourseKey
    status: str
    mode: str
    grade: str
    verify_uuid: str

    @property
    def is_downloadable(self) -> bool:
        return self.status == DOWNLOADABLE


@dataclass(frozen=True)
class RenderContext:
    """
    What the certificate pages need of the context the platform passes to the render step
    (``CertificateRenderStarted``); its keys and their shapes are the platform's business, read
    only by :func:`read_render_context`.
    """

    course_key: CourseKey | None
    # The learner whose certificate is shown: an id, else a username to look up.
    owner_id: int | None = None
    owner_username: str = ""
    # The viewer's language, as the platform resolved it for the standard page.
    viewer_language: str = ""
    # The platform's own words for the certificate, when the credential has none yet.
    learner_name: str = ""
    course_title: str = ""
    organization: str = ""
    issued_on_text: str = ""
    share_url: str = ""
    platform_name: str = ""
    document_title: str = ""
    logo_src: str = ""
    logo_url: str = ""


def read_render_context(context: dict) -> RenderContext:
    """
    The render step's context as plain data. The owner is the GeneratedCertificate on master, else
    the user keys every release sets; a value of an unexpected type reads as absent.
    """
    try:
        course_key = CourseKey.from_string(_text(context.get("course_id")))
    except InvalidKeyError:
        course_key = None
    platform_name = _text(context.get("platform_name")) or get_platform_name()
    return RenderContext(
        course_key=course_key,
        owner_id=_positive_integer(
            getattr(context.get("user_certificate"), "user_id", None) or context.get("accomplishment_user_id")
        ),
        owner_username=_text(context.get("username")) or _text(context.get("accomplishment_copy_username")),
        viewer_language=_text(context.get("user_language")),
        learner_name=_text(context.get("accomplishment_copy_name")),
        course_title=_text(context.get("accomplishment_copy_course_name")),
        organization=_text(context.get("organization_long_name"))
        or _text(context.get("organization_short_name")),
        issued_on_text=_text(context.get("certificate_date_issued")),
        share_url=_text(context.get("share_url")),
        platform_name=platform_name,
        document_title=_text(context.get("document_title")) or _text(context.get("platform_name")),
        logo_src=_text(context.get("logo_src")),
        logo_url=_text(context.get("logo_url")),
    )


def _text(value) -> str:
    """Text from the context; the platform passes lazy translations too, and None for a missing value."""
    return "" if value is None or isinstance(value, dict | list | tuple) else str(value)


def _positive_integer(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _course_waffle_flag(name: str = COURSE_WAFFLE_FLAG_NAME):
    from openedx.core.djangoapps.waffle_utils import CourseWaffleFlag

    return CourseWaffleFlag(name, __name__)


def is_pok_enabled_for_course(course_key: CourseKey) -> bool:
    """
    POK issues certificates for every course, or for those switched on (course → org → global flag),
    with our flag or with the existing POK plugin's (POK_LEGACY_COURSE_FLAG).
    """
    if setting("POK_ENABLED_FOR_ALL_COURSES"):
        return True
    if _course_waffle_flag().is_enabled(course_key):
        return True
    legacy_flag = setting("POK_LEGACY_COURSE_FLAG")
    return bool(legacy_flag and _course_waffle_flag(legacy_flag).is_enabled(course_key))


def where_course_flag_is_on(name: str) -> list[str]:
    """
    Where a course waffle flag switches courses on: its current course and organisation overrides
    set to on, and its django-waffle flag when that is on for everyone.
    """
    from django.apps import apps
    from openedx.core.djangoapps.waffle_utils.models import (
        WaffleFlagCourseOverrideModel,
        WaffleFlagOrgOverrideModel,
    )

    scopes = []
    for model, key, label in (
        (WaffleFlagCourseOverrideModel, "course_id", "course"),
        (WaffleFlagOrgOverrideModel, "org", "organisation"),
    ):
        current = {}
        for row in model.objects.filter(waffle_flag=name).order_by("pk"):
            current[getattr(row, key)] = row  # the newest row of each course or organisation decides
        scopes.extend(
            f"{label} {value}"
            for value, row in sorted(current.items(), key=lambda item: str(item[0]))
            if row.enabled and row.override_choice == "on"
        )
    if apps.is_installed("waffle"):
        from waffle.models import Flag

        if Flag.objects.filter(name=name, everyone=True).exists():
            scopes.append("everyone (django-waffle flag)")
    return scopes


def get_course_details(course_key: CourseKey) -> CourseDetails:
    from django.http import Http404
    from openedx.core.lib.courses import get_course_by_id

    try:
        course = get_course_by_id(course_key)
    except Http404 as error:
        raise CourseNotFound(str(course_key)) from error
    return CourseDetails(
        course_key=course_key,
        display_name=getattr(course, "display_name", "") or "",
        org=getattr(course, "org", "") or course_key.org,
        display_organization=getattr(course, "display_organization", "") or "",
        number=getattr(course, "display_number_with_default", "") or getattr(course, "number", "") or "",
        language=getattr(course, "language", "") or "",
        certificate_configuration=_active_certificate_configuration(getattr(course, "certificates", None)),
    )


def _active_certificate_configuration(certificates: dict | None) -> CertificateConfiguration | None:
    """Studio keeps several configurations; only the active one describes the real certificate."""
    for config in (certificates or {}).get("certificates", []) or []:
        if config.get("is_active"):
            return CertificateConfiguration(
                course_title=config.get("course_title") or "",
                signatories=tuple(
                    Signatory(
                        name=signatory.get("name") or "",
                        title=signatory.get("title") or "",
                        organization=signatory.get("organization") or "",
                    )
                    for signatory in config.get("signatories", []) or []
                ),
            )
    return None


def get_organization_name(course_key: CourseKey) -> str:
    """Long name of the course's first organisation, or an empty string."""
    try:
        from organizations.api import get_course_organizations
    except ImportError:
        return ""
    organizations = get_course_organizations(course_key=course_key) or []
    for organization in organizations:
        name = organization.get("name") or organization.get("short_name")
        if name:
            return name
    return ""


def get_learner_full_name(user) -> str:
    """The name the learner gave in their profile, falling back to Django's first and last names."""
    from django.core.exceptions import ObjectDoesNotExist

    try:
        profile_name = user.profile.name
    except (ObjectDoesNotExist, AttributeError):
        profile_name = ""
    return (profile_name or user.get_full_name() or "").strip()


def get_learner_language(user) -> str:
    from openedx.core.djangoapps.user_api.preferences.api import get_user_preference

    return get_user_preference(user, "pref-lang") or ""


def is_studio() -> bool:
    """Whether this process is Studio (CMS), which issues no credential and runs none of its tasks."""
    return str(getattr(settings, "ROOT_URLCONF", "")).startswith("cms.")


def get_platform_name() -> str:
    return getattr(settings, "PLATFORM_NAME", "") or ""


def get_platform_certificate(user_id: int, course_key: CourseKey) -> PlatformCertificate | None:
    from lms.djangoapps.certificates.api import get_certificate_for_user_id

    certificate = get_certificate_for_user_id(user_id, course_key)
    return _to_platform_certificate(certificate) if certificate else None


def get_certificate_by_verify_uuid(verify_uuid: str) -> PlatformCertificate | None:
    """The certificate a ``/certificates/<verify_uuid>`` link shows, whatever its status (for operators)."""
    from lms.djangoapps.certificates.models import GeneratedCertificate

    certificate = (
        GeneratedCertificate.objects.filter(verify_uuid=verify_uuid).first() if verify_uuid else None
    )
    return _to_platform_certificate(certificate) if certificate else None


def iter_downloadable_certificates(course_key: CourseKey) -> Iterator[PlatformCertificate]:
    """Every downloadable Open edX certificate of a course, for backfills."""
    from lms.djangoapps.certificates.models import GeneratedCertificate

    certificates = GeneratedCertificate.eligible_certificates.filter(
        course_id=course_key, status=DOWNLOADABLE
    )
    for certificate in certificates.order_by("pk").iterator():
        yield _to_platform_certificate(certificate)


def downloadable_certificates_since(
    since: datetime, *, after_id: int, limit: int
) -> list[PlatformCertificate]:
    """
    Downloadable certificates changed since ``since``, in id order after ``after_id``: a page of at
    most ``limit`` for the reconciliation, whatever the course.
    """
    from lms.djangoapps.certificates.models import GeneratedCertificate

    certificates = GeneratedCertificate.eligible_certificates.filter(
        status=DOWNLOADABLE, modified_date__gte=since, pk__gt=after_id
    )
    return [_to_platform_certificate(certificate) for certificate in certificates.order_by("pk")[:limit]]


def _to_platform_certificate(certificate) -> PlatformCertificate:
    return PlatformCertificate(
        certificate_id=certificate.pk,
        user_id=certificate.user_id,
        course_key=certificate.course_id,
        status=certificate.status,
        mode=certificate.mode,
        grade=str(certificate.grade or ""),
        verify_uuid=certificate.verify_uuid,
    )


def is_course_staff(user, course_key: CourseKey) -> bool:
    """
    Who may see Studio's certificate preview, as the platform's PREVIEW_CERTIFICATES grants it:
    global staff, and staff or instructors of the course or of its org.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    from common.djangoapps.student.roles import (
        CourseInstructorRole,
        CourseStaffRole,
        GlobalStaff,
        OrgInstructorRole,
        OrgStaffRole,
    )

    return (
        GlobalStaff().has_user(user)
        or CourseStaffRole(course_key).has_user(user)
        or CourseInstructorRole(course_key).has_user(user)
        or OrgStaffRole(course_key.org).has_user(user)
        or OrgInstructorRole(course_key.org).has_user(user)
    )


def certificate_available_date(course_key: CourseKey) -> datetime | None:
    """
    When learners may first see the course's certificates, as the platform decides it
    (``certificates_viewable_for_course``); None when they already may. An instructor-paced course
    with display behaviour "end" or "end_with_date" shows them only after its end or its certificate
    available date. A course with no such date at all gets None: there would be nothing to wait for.
    """
    from openedx.core.djangoapps.content.course_overviews.models import CourseOverview

    try:
        course = CourseOverview.get_from_id(course_key)
    except CourseOverview.DoesNotExist:
        return None
    if course.self_paced or course.certificates_show_before_end:
        return None
    behavior = course.certificates_display_behavior
    if behavior in ("early_no_info", "early_with_info"):  # older releases also show "early_with_info" early
        return None
    if behavior == "end_with_date" and course.certificate_available_date:
        available_at = course.certificate_available_date
    else:
        available_at = course.end  # "end", and what the platform reads as "end" without a date
    return available_at if available_at and available_at > timezone.now() else None


@dataclass(frozen=True)
class GradeSnapshot:
    """The learner's grade as the certificate request carried it; ``problem`` says why none was kept."""

    percent: Decimal | None
    letter_grade: str = ""
    problem: str = ""


def read_grade(course_grade) -> GradeSnapshot:
    """
    The CourseGrade the platform passes (``percent`` from 0 to 1, despite the float annotation), or
    the 0..1 fraction a GeneratedCertificate keeps. Never raises: a grade that cannot be read, is
    not a number, or lies outside 0..1 is kept as none, with the reason.
    """
    try:
        fraction = getattr(course_grade, "percent", course_grade)
        letter = str(getattr(course_grade, "letter_grade", "") or "")
    except Exception as error:  # noqa: BLE001  (a platform object may raise anything from a property)
        return GradeSnapshot(None, "", f"the grade could not be read ({type(error).__name__})")
    if fraction is None or isinstance(fraction, bool):
        return GradeSnapshot(None, letter)
    try:
        percent = Decimal(str(fraction)) * 100
    except (ArithmeticError, ValueError, TypeError):
        return GradeSnapshot(None, letter, "the grade is not a number")
    if not percent.is_finite() or not 0 <= percent <= 100:
        return GradeSnapshot(None, letter, f"the grade {str(fraction)[:20]} is not a fraction from 0 to 1")
    return GradeSnapshot(percent.quantize(Decimal("0.01")), letter)


def emit_tracking_event(name: str, data: dict) -> None:
    """Send an analytics event through Open edX's tracker when it is installed."""
    try:
        from eventtracking import tracker
    except ImportError:
        log.debug("Event tracking unavailable; not emitting %s", name)
        return
    tracker.emit(name, data)
