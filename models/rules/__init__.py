"""One learning rule per module; the registry id is the module's file stem."""
