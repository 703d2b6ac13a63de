"""Networks and learning rules: the shared architectures, the Rule interface, the registry."""
