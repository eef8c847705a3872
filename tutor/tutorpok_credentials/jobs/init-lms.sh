{% if "pok" in PLUGINS -%}
echo "openedx-pok-credentials: the existing POK plugin (pok) is still enabled; this plugin replaces it: tutor plugins disable pok"
{% endif -%}
echo "openedx-pok-credentials: creating or updating its tables (a database of the existing POK plugin is adopted)"
./manage.py lms migrate openedx_pok
./manage.py lms pok_adoption_report --summary
# Adopted credentials POK is still processing get their status checked now.
./manage.py lms pok_sync
{% if POK_ENABLE_ALL_COURSES -%}
echo "openedx-pok-credentials: switching POK certificates on for every course (course and organisation overrides still apply)"
./manage.py lms waffle_flag openedx_pok.enable_pok_certificates --everyone --create
{%- endif %}
{% if not POK_API_KEY -%}
echo "openedx-pok-credentials: POK_API_KEY is empty, no credential will be issued until it is set"
{%- endif %}
