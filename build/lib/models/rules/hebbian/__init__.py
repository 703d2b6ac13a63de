"""Hebbian plasticity: two-factor (SoftHebb), three-factor (reward-modulated) and spiking (R-)STDP."""
