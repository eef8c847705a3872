"""
A credential's way from the platform's request to POK's final answer: recording it in the creation
step (``creation``), its single POST (``sending``), following it in POK (``status``), the safety
nets for lost tasks and missed certificates (``sweep``, ``reconciliation``), and what operators, the
platform's revocation and a learner's retirement do to it (``operator_actions``, ``retirement``,
``unfilled_parameters``).
"""
