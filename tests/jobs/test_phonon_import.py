"""Phonons from atomate2 and phonopy are accepted where thermogap takes phonons."""

import numpy as np
import pytest
from jobflow import Flow, run_locally
from pymatgen.core import Lattice, Structure

from thermogap.errors import InputError
from thermogap.jobs.phonon_import import ImportPhononsMaker
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.phonons.interop import phonopy_from_atomate2, phonopy_from_file


def _silicon() -> Structure:
    return Structure(
        Lattice([[0, 2.73, 2.73], [2.73, 0, 2.73], [2.73, 2.73, 0]]),
        ["Si", "Si"],
        [[0, 0, 0], [0.25, 0.25, 0.25]],
    )


@pytest.fixture(scope="module")
def atomate2_silicon_phonons(tmp_path_factory):
    """atomate2's force-field phonon flow (CHGNet) on primitive Si, run locally."""
    from atomate2.forcefields.flows.phonons import PhononMaker

    maker = PhononMaker(
        min_length=7.0, use_symmetrized_structure="primitive", kpath_scheme="setyawan_curtarolo"
    )
    flow = maker.make(_silicon())
    responses = run_locally(flow, root_dir=tmp_path_factory.mktemp("a2"), ensure_success=True)
    return responses[flow.jobs[-1].uuid][1].output


def test_atomate2_phonons_match_thermogaps_own_finite_displacements(atomate2_silicon_phonons):
    from thermogap.engines import get_calculator

    imported = phonopy_from_atomate2(atomate2_silicon_phonons)
    # thermogap's own finite-displacement phonons with the same engine on the same cell
    structure = Structure.from_dict(atomate2_silicon_phonons.structure.as_dict())
    own = compute_force_constants(
        structure,
        get_calculator("chgnet"),
        supercell_matrix=np.asarray(atomate2_silicon_phonons.supercell_matrix).astype(int),
    )
    qpoints = [[0, 0, 0], [0.5, 0, 0.5], [0.5, 0.5, 0.5]]
    f_imported = np.array([imported.get_frequencies(q) for q in qpoints])
    f_own = np.array([own.get_frequencies(q) for q in qpoints])
    np.testing.assert_allclose(f_imported, f_own, atol=0.15)  # THz
    assert f_own[1:].min() > 2.0  # X and L acoustic branches are far from zero: a real check


def test_import_job_stores_a_thermogap_phonon_document(db, atomate2_silicon_phonons, tmp_path):
    from thermogap.execution import run_flow

    job = ImportPhononsMaker().make(atomate2_silicon_phonons)
    summary = run_flow(Flow([job]), db)
    assert summary.n_failed == 0 and not summary.errors
    doc = db.query_one("phonons", {"calculator": "atomate2"})
    assert doc["formula"] == "Si" and doc["n_atoms"] == 2
    assert doc["dynamically_stable"] is True
    # what is stored rebuilds the same phonons
    from thermogap.phonons.storage import load_phonopy

    again = load_phonopy(db, doc["phonon_id"])
    direct = phonopy_from_atomate2(atomate2_silicon_phonons)
    np.testing.assert_allclose(
        again.get_frequencies([0.5, 0, 0.5]), direct.get_frequencies([0.5, 0, 0.5]), atol=1e-8
    )
    # a phonopy.yaml written by phonopy itself is accepted too
    path = tmp_path / "phonopy.yaml"
    direct.save(str(path), settings={"force_constants": True})
    loaded = phonopy_from_file(path)
    for q in ([0, 0, 0], [0.5, 0, 0.5], [0.25, 0.25, 0]):
        np.testing.assert_allclose(loaded.get_frequencies(q), direct.get_frequencies(q), atol=1e-6)


def test_documents_without_force_constants_are_refused():
    with pytest.raises(InputError, match="force_constants"):
        phonopy_from_atomate2({"structure": _silicon().as_dict(), "supercell_matrix": np.eye(3)})
    with pytest.raises(InputError, match="does not exist"):
        phonopy_from_file("/nonexistent/phonopy.yaml")
