"""Flow builders: jobflow Flows assembled from thermogap Makers."""
