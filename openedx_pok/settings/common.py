"""
Settings every Open edX project type gets from the plugin.

The platform runs ``plugin_settings`` more than once on the same settings: the ``common`` pass at
the end of ``lms/envs/common.py``, before ``production.py`` applies the operator's YAML, then the
``production`` pass (and ``devstack`` or ``test`` after it). So each pass derives what it adds from
the settings as they are at that moment, and undoes what an earlier pass derived from values the
YAML has since changed. Plain defaults are never written here: :func:`openedx_pok.conf.setting`
supplies them when a setting is read, so a later pass or a Tutor patch never finds a default it
cannot tell from the operator's value (docs/decisions/0010).
"""

from openedx_pok.celery_schedule import beat_schedule
from openedx_pok.conf import setting_in

CREATION_STEP = "openedx_pok.filters.IssuePokCredentialStep"
RENDER_STEP = "openedx_pok.filters.RenderPokCredentialStep"

CREATION_FILTER = "org.openedx.learning.certificate.creation.requested.v1"
RENDER_FILTER = "org.openedx.learning.certificate.render.started.v1"


def plugin_settings(settings):
    add_pipeline_step(settings, CREATION_FILTER, CREATION_STEP)
    add_pipeline_step(settings, RENDER_FILTER, RENDER_STEP)
    derive_beat_entries(settings)


class PluginBeatEntry(dict):
    """
    A beat entry this plugin derived: a later pass may route it anew or take it out.

    Celery reads it as the plain dict it is; an operator's own entry under the same name is a plain
    dict of theirs, and stays as they wrote it.
    """


def derive_beat_entries(settings):
    """The safety net's entries as ``POK_ADD_BEAT_SCHEDULE`` and ``POK_CELERY_QUEUE`` now say."""
    schedule = getattr(settings, "CELERYBEAT_SCHEDULE", None)
    if not isinstance(schedule, dict):
        schedule = {}
        settings.CELERYBEAT_SCHEDULE = schedule
    for name in [name for name, entry in schedule.items() if isinstance(entry, PluginBeatEntry)]:
        del schedule[name]
    if not setting_in(settings, "POK_ADD_BEAT_SCHEDULE"):
        return
    for name, entry in beat_schedule(setting_in(settings, "POK_CELERY_QUEUE")).items():
        if name not in schedule:
            schedule[name] = PluginBeatEntry(entry)


def pipeline_steps(filter_config) -> list:
    """The steps of one OPEN_EDX_FILTERS_CONFIG entry, in every form openedx-filters accepts."""
    pipeline = filter_config.get("pipeline") if isinstance(filter_config, dict) else filter_config
    return [pipeline] if isinstance(pipeline, str) else list(pipeline or [])


def add_pipeline_step(settings, filter_type, step_path):
    """
    Append our step to a filter's pipeline, keeping every other step and the operator's choices.

    A filter configured by nobody yet is created with ``fail_silently`` on, so that an unexpected
    error in any step cannot break the platform's code path; our steps also guard themselves, since
    an operator may have set ``fail_silently`` off for the other steps of the same filter. Each pass
    adds it again if the operator's YAML replaced the whole configuration in between.
    """
    filters_config = getattr(settings, "OPEN_EDX_FILTERS_CONFIG", None)
    if not isinstance(filters_config, dict):
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
