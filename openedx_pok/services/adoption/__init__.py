"""
Adopting the database of the existing POK plugin (the registry's openedx-pok), which has the same
app label, the same table names and twelve migrations of its own (docs/decisions/0007).

Migration 0001 sets its tables aside under ``openedx_pok_legacy_*`` (:mod:`.tables`), so that 0002
can create ours; 0003 copies what maps onto our models (:mod:`.rows` says what each row becomes,
:mod:`.copying` copies them). Nothing is dropped: the set-aside tables stay, and every row that
could not be adopted is reported, by the migration and by ``pok_adoption_report``.

The code reads the tables themselves, whichever of its migrations that plugin had reached, and never
imports our models: migrations pass their historical models in, the report command the real ones.
"""
