"""jobflow Makers wrapping thermogap science functions."""
