"""Explicit global credit through fixed feedback: feedback alignment, direct FA, sign symmetry."""
