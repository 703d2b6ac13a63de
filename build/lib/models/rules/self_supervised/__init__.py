"""Self-supervised objectives: greedy InfoMax, blockwise SSL and end-to-end SimCLR (their control)."""
