"""Explicit global credit by perturbation: weight and node perturbation."""
