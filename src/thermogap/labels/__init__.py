"""Labelling configurations at a level of theory, and exporting the labels."""
