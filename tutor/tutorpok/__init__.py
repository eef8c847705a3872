"""Tutor plugin for openedx-pok; Tutor loads `tutorpok.plugin` when `tutor plugins enable pok` is run."""
