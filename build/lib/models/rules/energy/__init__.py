"""Energy-based learning: equilibrium propagation, contrastive Hebbian learning, recirculation."""
