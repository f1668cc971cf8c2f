"""Machine-learned interatomic potentials: MACE training, calculators, metrics, validation.

Importing this package imports neither torch nor mace; the submodules do so lazily.
"""
