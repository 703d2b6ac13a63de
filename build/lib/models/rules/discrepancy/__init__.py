"""Discrepancy reduction: target propagation, local representation alignment, predictive and neural generative coding."""
