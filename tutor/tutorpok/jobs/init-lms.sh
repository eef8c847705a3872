echo "openedx-pok: creating or updating its tables"
./manage.py lms migrate openedx_pok
{% if POK_ENABLE_ALL_COURSES -%}
echo "openedx-pok: switching POK certificates on for every course (course and organisation overrides still apply)"
./manage.py lms waffle_flag openedx_pok.enable_pok_certificates --everyone --create
{%- endif %}
{% if not POK_API_KEY -%}
echo "openedx-pok: POK_API_KEY is empty, no credential will be issued until it is set"
{%- endif %}
