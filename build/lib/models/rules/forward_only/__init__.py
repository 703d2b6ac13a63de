"""Forward-only learning: forward-forward, recurrent and predictive FF, signal propagation."""
