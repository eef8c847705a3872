"""
What POK is asked to draw: the POK template a course issues with (``template_choice``), its cached
definition (``template_definitions``), the values its parameters are filled from
(``value_sources``, ``receiver``), the body of every request that describes a credential
(``payload``), and the check of a template before the admin saves it (``template_verification``).

These are POK's certificate templates; the HTML templates of the pages are in openedx_pok/templates/.
Nothing here changes a credential's state.
"""
