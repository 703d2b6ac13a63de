"""Learning rules, one module each, in one folder per family of mechanisms
(``models.registry.FAMILY_FOLDERS``); the registry id is the module's file stem. Helpers shared by
several families live here (``_local_util``); a family's own mechanics live in its folder."""
