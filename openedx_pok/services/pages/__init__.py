"""
What the certificate page shows: the render step's decision (``rendering``), each public state's
learner page (``learner_pages``), Studio's preview (``studio_preview``), what the ``/pok/``
endpoints tell (``descriptions``) and the frame every page shares (``frame``). Decided from the
local row: no learner page calls POK.
"""
