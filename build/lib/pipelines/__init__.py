"""The steps Snakemake calls (``python -m pipelines.<step>``): parse arguments, call the packages,
write outputs atomically."""
