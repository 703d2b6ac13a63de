"""Public data with integrity: downloads (mirror first), training sets, stimulus sets, recordings."""
