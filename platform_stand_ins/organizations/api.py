"""Stand-in for edx-organizations' Python API: organisations as serialized dictionaries."""

from organizations.models import Organization, OrganizationCourse


def _serialize(organization):
    return {
        "id": organization.id,
        "name": organization.name,
        "short_name": organization.short_name,
        "description": organization.description,
        "logo": None,
        "active": organization.active,
    }


def get_course_organizations(course_key):
    links = OrganizationCourse.objects.filter(course_id=course_key, active=True, organization__active=True)
    return [_serialize(link.organization) for link in links.select_related("organization").order_by("pk")]


def add_organization(organization_data):
    organization, _ = Organization.objects.update_or_create(
        short_name=organization_data["short_name"],
        defaults={"name": organization_data["name"], "description": organization_data.get("description", "")},
    )
    return _serialize(organization)


def add_organization_course(organization_data, course_key):
    organization = Organization.objects.get(short_name=organization_data["short_name"])
    OrganizationCourse.objects.get_or_create(course_id=course_key, organization=organization)
