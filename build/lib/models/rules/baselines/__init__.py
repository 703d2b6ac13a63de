"""Baselines and controls: end-to-end backprop and the untrained network."""
