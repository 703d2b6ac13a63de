"""Pure analysis functions: RDMs, RSA comparators, noise ceilings, inference, layer selection, rankings."""
