"""PhononMaker run through jobflow against a real results database."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermogap.errors import UnknownEntryError
from thermogap.execution import run_flow
from thermogap.jobs.phonons import PhononMaker
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.phonons.storage import load_phonopy
from thermogap.schemas.phonons import PhononDoc, PhononSettings
from thermogap.structures import antiperovskite

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def maker() -> PhononMaker:
    return PhononMaker(
        calculator="chgnet", settings=PhononSettings(band_npoints=11, dos_mesh=[6, 6, 6])
    )


def test_phonon_job_stores_document_and_force_constants_and_is_reused(db, maker):
    structure = antiperovskite(4.9)
    summary = run_flow(maker.make(structure), db)
    assert (summary.n_ran, summary.n_failed) == (1, 0)

    docs = db.query("phonons")
    assert len(docs) == 1
    doc = PhononDoc(**docs[0])
    assert doc.supercell_matrix == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert doc.structure_id in db.distinct("structures", "structure_id")

    # the stored force constants are those of an independent direct calculation
    from thermogap.engines import get_calculator

    direct = compute_force_constants(
        structure, get_calculator("chgnet"), supercell_matrix=(2, 2, 2)
    )
    loaded = load_phonopy(db, doc.phonon_id)
    np.testing.assert_allclose(loaded.force_constants, direct.force_constants, atol=1e-6)

    # cubic Ag3SBr is unstable with CHGNet; every stored imaginary mode is real physics of the FCs
    assert not doc.dynamically_stable and doc.imaginary_modes
    for mode in doc.imaginary_modes[:5]:
        freqs = direct.run_qpoints([mode.qpoint]).frequencies[0]
        assert np.min(np.abs(freqs - mode.frequency_thz)) < 1e-4
    assert doc.min_frequency_thz == pytest.approx(doc.imaginary_modes[0].frequency_thz)
    path = np.array(doc.band_structure.frequencies_thz)
    assert path.shape == (len(doc.band_structure.qpoints), 15)
    assert doc.min_frequency_thz <= path.min() + 1e-12

    # a second run of the same job reuses the stored output and writes no duplicate
    again = run_flow(maker.make(structure), db)
    assert (again.n_ran, again.n_reused) == (0, 1)
    assert db.count("phonons") == 1


def test_unknown_phonon_id_lists_known_ones(db):
    with pytest.raises(UnknownEntryError, match="no phonon calculation"):
        load_phonopy(db, "0123456789abcdef")
