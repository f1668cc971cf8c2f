"""The ``thermogap`` command-line interface."""
