"""
The two Open edX pipeline steps. They translate the filter's arguments into service calls and
nothing else; the guard keeps any bug of ours out of the platform's code path.
"""

import logging
from contextlib import contextmanager

from openedx_filters import PipelineStep
from openedx_filters.exceptions import OpenEdxFilterException

from openedx_pok.services.issuing import creation
from openedx_pok.services.pages import rendering

log = logging.getLogger(__name__)


@contextmanager
def shielded_from_platform(step_name: str):
    """Let the filter's own exceptions through (they are how a step talks to the platform); log the rest."""
    try:
        yield
    except OpenEdxFilterException:
        raise
    except Exception:
        log.exception("POK %s step failed; the platform continues without it", step_name)


class IssuePokCredentialStep(PipelineStep):
    """CertificateCreationRequested: record the request, queue the issuing; never blocks, never prevents."""

    def run_filter(self, user, course_key, mode, status, grade, generation_mode):
        with shielded_from_platform("creation"):
            creation.record_certificate_request(
                user=user,
                course_key=course_key,
                mode=mode,
                status=status,
                course_grade=grade,
                generation_mode=generation_mode,
            )
        return {}


class RenderPokCredentialStep(PipelineStep):
    """CertificateRenderStarted: show the POK credential, its progress, or let the standard page render."""

    def run_filter(self, context, custom_template):
        with shielded_from_platform("render"):
            rendering.render_certificate_page(context)
        return {}
