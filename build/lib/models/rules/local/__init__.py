"""Local, non-synergistic credit: synthetic gradients, local losses, fixed local classifiers, HSIC."""
