"""Temperature-dependent phonons at scale (seed 003): metrics, synthetic data, analysis."""
