import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.errors import InputError
from thermogap.mlip.validation import (
    commensurate_qpoints,
    compare_phonon_frequencies,
    phonon_frequencies_thz,
    validate_phonons,
)


def test_frequencies_match_ase_phonons_for_emt_copper(tmp_path):
    """Independent reference: ASE's own finite-displacement phonons of fcc Cu with EMT."""
    from ase import units
    from ase.phonons import Phonons

    atoms = bulk("Cu", "fcc", a=3.6)
    qpoints = commensurate_qpoints([3, 3, 3])
    ours = phonon_frequencies_thz(AseAtomsAdaptor.get_structure(atoms), EMT(), qpoints, [3, 3, 3])
    ph = Phonons(atoms, EMT(), supercell=(3, 3, 3), delta=0.01, name=str(tmp_path / "ph"))
    ph.run()
    ph.read(acoustic=True)
    energies_ev = ph.band_structure(qpoints, modes=False, born=False, verbose=False)
    ase_thz = energies_ev / units._hplanck / 1e12 * units._e  # eV → THz
    np.testing.assert_allclose(np.sort(ours, axis=1), np.sort(ase_thz.real, axis=1), atol=0.05)


def test_identical_frequencies_give_zero_error_and_agreement():
    structure = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.6))
    result = validate_phonons(structure, EMT(), EMT(), supercell_matrix=[2, 2, 2])
    assert result["frequency_mae_thz"] == pytest.approx(0.0, abs=1e-9)
    assert result["frequency_r2"] == pytest.approx(1.0)
    assert result["imaginary_agree"] and result["n_imaginary_mlip"] == 0


def test_imaginary_branches_compared_per_qpoint():
    q = np.zeros((3, 3))
    ref = np.array([[-1.0, 2.0], [1.0, 2.0], [0.5, 3.0]])
    shifted = ref + 0.2
    same = compare_phonon_frequencies(shifted, ref, q, imaginary_tolerance_thz=0.1)
    assert same["imaginary_agree"] and same["imaginary_qpoints_mlip"] == [0]
    assert same["frequency_mae_thz"] == pytest.approx(0.2)
    other = compare_phonon_frequencies(np.abs(ref), ref, q)
    assert not other["imaginary_agree"] and other["imaginary_qpoints_reference"] == [0]
    with pytest.raises(InputError):
        compare_phonon_frequencies(ref[:2], ref, q)
