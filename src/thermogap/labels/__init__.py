"""Labelling configurations at a level of theory, and exporting the labels.

See :mod:`thermogap.labels.labeling` (plain labelling functions) and
:mod:`thermogap.labels.export` (extended XYZ for MACE, ``(Structure, value)`` records for GNNs).
"""

from thermogap.labels.export import (
    label_docs_to_atoms,
    label_docs_to_gnn_records,
    ok_labels,
    write_extxyz,
)

__all__ = ["label_docs_to_atoms", "label_docs_to_gnn_records", "ok_labels", "write_extxyz"]
