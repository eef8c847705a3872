"""
Tutor plugin for openedx-pok-credentials; Tutor loads `tutorpok_credentials.plugin` when
`tutor plugins enable pok-credentials` is run. It replaces the existing POK plugin's `pok` (module
`tutorpok`, distribution tutor-contrib-pok), so both can be installed while an operator switches.
"""
