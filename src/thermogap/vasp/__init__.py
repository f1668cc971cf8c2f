"""VASP levels of theory through atomate2 input sets and custodian."""

from thermogap.vasp.custodian import custodian_handlers, run_vasp_kwargs
from thermogap.vasp.makers import relax_maker, static_maker
from thermogap.vasp.parse import label_doc_from_task_doc, vasp_stress_to_ase
from thermogap.vasp.run import vasp_static_label
from thermogap.vasp.sets import (
    ThermogapRelaxSetGenerator,
    ThermogapStaticSetGenerator,
    kpoint_grid,
    relax_set_generator,
    static_set_generator,
)

__all__ = [
    "ThermogapRelaxSetGenerator",
    "ThermogapStaticSetGenerator",
    "custodian_handlers",
    "kpoint_grid",
    "label_doc_from_task_doc",
    "relax_maker",
    "relax_set_generator",
    "run_vasp_kwargs",
    "static_maker",
    "static_set_generator",
    "vasp_static_label",
    "vasp_stress_to_ase",
]
