"""Stand-in for the platform's retirement signals; sent with a ``user`` keyword argument."""

from django.dispatch import Signal

USER_RETIRE_LMS_MISC = Signal()
USER_RETIRE_LMS_CRITICAL = Signal()
USER_RETIRE_MAILINGS = Signal()
