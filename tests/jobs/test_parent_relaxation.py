"""Parents are relaxed with the engine of their phonons: CHGNet's pressure is checked directly."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import Flow, JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.jobs.phonons import ParentRelaxMaker
from thermogap.schemas.phonons import RelaxedStructureDoc
from thermogap.structures import load_structure

EV_PER_ANG3_IN_GPA = 160.21766208


def _chgnet_pressure_gpa(structure) -> float:
    """Independent check: p = -tr(σ)/3 from a fresh CHGNet calculator's stress."""
    from thermogap.engines import get_calculator

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = get_calculator("chgnet")
    return float(-np.mean(atoms.get_stress()[:3]) * EV_PER_ANG3_IN_GPA)


def test_relaxed_parent_has_zero_chgnet_pressure():
    start = load_structure("Ag3SBr")
    assert _chgnet_pressure_gpa(start) > 1.0  # +1.9 GPa at the fixed 4.90 Å
    job = ParentRelaxMaker(calculator="chgnet").make(start)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(Flow([job]), store=store, ensure_success=True)
    doc = RelaxedStructureDoc.model_validate(responses[job.uuid][1].output)
    assert abs(_chgnet_pressure_gpa(doc.structure)) < 0.1
    a, b, c = doc.structure.lattice.abc
    assert a == pytest.approx(b) == pytest.approx(c)  # still cubic
    assert doc.lattice_parameter_ang == pytest.approx(a) and abs(a - 4.90) > 0.02
    assert doc.initial_pressure_gpa == pytest.approx(_chgnet_pressure_gpa(start), abs=1e-3)


def test_paper_preset_builds_vasp_relaxation_and_phonons_of_the_parents():
    from thermogap.flows.presets import build_preset_flow, load_preset

    flow = build_preset_flow(load_preset("paper"))
    names = [job.name for job, _ in flow.iterflow()]
    assert sum(n == "relax parent Ag3SBr" for n in names) == 1
    relax_jobs = [j for j, _ in flow.iterflow() if j.name.startswith("relax parent")]
    assert {type(j.maker).__name__ for j in relax_jobs} == {"RelaxMaker"}  # atomate2 VASP
    assert sum(n == "pbesol relax" for n in names) == 2  # dataset: one per parent
    assert any(n.startswith("store_external_phonons") for n in names)
    assert not any(n.startswith("harmonic phonons") for n in names)  # no CHGNet parents


def test_relaxed_cell_reaches_the_structures_collection_through_the_builder(db):
    """EMT Cu3Au relaxed from a strained cell; its a is the minimum of a direct E(a) scan."""
    from ase.calculators.emt import EMT

    from fixtures.carried_docs import as_built, emt_engine
    from fixtures.crystals import l12_cu3au
    from thermogap.execution import run_flow

    start = l12_cu3au()
    start.scale_lattice(start.volume * 1.06)
    with emt_engine():
        summary = run_flow(ParentRelaxMaker(calculator="emt", fmax_ev_per_ang=1e-3).make(start), db)
    assert summary.n_failed == 0, summary.errors
    assert summary.built["structures"] == 1  # the job wrote nothing; the builder did
    (stored,) = db.query("structures")
    doc = RelaxedStructureDoc.model_validate(as_built(stored))
    assert doc.calculator == "emt" and doc.converged

    # independent reference: energy of the ideal L1_2 cell over a, parabola at the minimum
    def energy(a: float) -> float:
        cell = l12_cu3au()
        cell.scale_lattice(a**3)
        atoms = AseAtomsAdaptor.get_atoms(cell)
        atoms.calc = EMT()
        return float(atoms.get_potential_energy())

    grid = np.linspace(3.55, 3.85, 31)
    best = grid[np.argmin([energy(a) for a in grid])]
    fine = np.linspace(best - 0.01, best + 0.01, 9)
    c2, c1, _ = np.polyfit(fine, [energy(a) for a in fine], 2)
    assert doc.lattice_parameter_ang == pytest.approx(-c1 / (2 * c2), abs=2e-3)
    assert abs(doc.lattice_parameter_ang - start.volume ** (1 / 3)) > 0.05  # it did move
