"""
Settings every Open edX project type gets from the plugin.

Only absent settings receive defaults: a value the operator set before ``add_plugins`` runs
(LMS's YAML configuration) is kept, and one set afterwards (a Tutor patch) simply overrides ours.
"""

import copy

from openedx_pok.celery_schedule import beat_schedule
from openedx_pok.conf import SETTINGS

CREATION_STEP = "openedx_pok.filters.IssuePokCredentialStep"
RENDER_STEP = "openedx_pok.filters.RenderPokCredentialStep"

CREATION_FILTER = "org.openedx.learning.certificate.creation.requested.v1"
RENDER_FILTER = "org.openedx.learning.certificate.render.started.v1"


def plugin_settings(settings):
    for entry in SETTINGS:
        if not hasattr(settings, entry.name):
            setattr(settings, entry.name, copy.deepcopy(entry.default))
    add_pipeline_step(settings, CREATION_FILTER, CREATION_STEP)
    add_pipeline_step(settings, RENDER_FILTER, RENDER_STEP)
    if settings.POK_ADD_BEAT_SCHEDULE:
        add_beat_entries(settings)


def add_beat_entries(settings):
    """Our safety-net entries for platforms that run Celery beat; an entry of the same name is kept."""
    schedule = getattr(settings, "CELERYBEAT_SCHEDULE", None)
    if not isinstance(schedule, dict):
        schedule = {}
        settings.CELERYBEAT_SCHEDULE = schedule
    for name, entry in beat_schedule(settings.POK_CELERY_QUEUE).items():
        schedule.setdefault(name, entry)


def pipeline_steps(filter_config) -> list:
    """The steps of one OPEN_EDX_FILTERS_CONFIG entry, in every form openedx-filters accepts."""
    pipeline = filter_config.get("pipeline") if isinstance(filter_config, dict) else filter_config
    return [pipeline] if isinstance(pipeline, str) else list(pipeline or [])


def add_pipeline_step(settings, filter_type, step_path):
    """
    Append our step to a filter's pipeline, keeping every other step and the operator's choices.

    A filter configured by nobody yet is created with ``fail_silently`` on, so that an unexpected
    error in any step cannot break the platform's code path; our steps also guard themselves, since
    an operator may have set ``fail_silently`` off for the other steps of the same filter.
    """
    filters_config = getattr(settings, "OPEN_EDX_FILTERS_CONFIG", None)
    if filters_config is None:
        filters_config = {}
        settings.OPEN_EDX_FILTERS_CONFIG = filters_config
    filter_config = filters_config.get(filter_type)
    if not isinstance(filter_config, dict):
        # openedx-filters also accepts a bare list or string of steps, meaning fail_silently on.
        filter_config = {"fail_silently": True, "pipeline": pipeline_steps(filter_config)}
        filters_config[filter_type] = filter_config
    pipeline = pipeline_steps(filter_config)
    if step_path not in pipeline:
        pipeline.append(step_path)
    filter_config["pipeline"] = pipeline
