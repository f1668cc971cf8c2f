"""A thermogap-trained MACE model drives atomate2's force-field Makers."""

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.io.ase import AseAtomsAdaptor
from tiny_mace import ag3sbr_cell

from thermogap.mlip.calculator import load_mace_calculator


def test_atomate2_static_maker_runs_a_thermogap_mace_model(tiny_mace, tmp_path):
    from atomate2.forcefields.jobs import ForceFieldStaticMaker

    atoms = ag3sbr_cell()
    atoms.positions[0] += [0.05, -0.03, 0.02]  # forces that are not zero by symmetry
    structure = AseAtomsAdaptor.get_structure(atoms)
    # atomate2 builds any calculator from a MontyDecoder-style dict: thermogap's loader checks
    # the model file's SHA-256 before anything is unpickled
    maker = ForceFieldStaticMaker(
        force_field_name={
            "@module": "thermogap.mlip.calculator",
            "@callable": "load_mace_calculator",
        },
        calculator_kwargs={
            "path": str(tiny_mace.model_path),
            "expected_sha256": tiny_mace.sha256,
            "dtype": "float64",
        },
    )
    job = maker.make(structure)
    responses = run_locally(job, root_dir=tmp_path, ensure_success=True)
    output = responses[job.uuid][1].output.output

    own = load_mace_calculator(tiny_mace.model_path, tiny_mace.sha256, dtype="float64")
    atoms.calc = own
    assert output.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
    np.testing.assert_allclose(output.forces, atoms.get_forces(), atol=1e-6)
    assert np.abs(atoms.get_forces()).max() > 1e-3
