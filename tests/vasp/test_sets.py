"""Generated VASP inputs against seed paper 000's settings, written out by hand here."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from thermogap.errors import ConfigError, InputError
from thermogap.levels import load_level
from thermogap.vasp.custodian import custodian_handlers, run_vasp_kwargs
from thermogap.vasp.sets import kpoint_grid, relax_set_generator, static_set_generator


def _cubic(a: float = 4.85) -> Structure:
    return Structure(
        Lattice.cubic(a),
        ["I", "S", "Ag", "Ag", "Ag"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


@pytest.mark.parametrize("a", [4.6, 4.85, 5.1])
@pytest.mark.parametrize(
    ("scaling", "expected"),
    [
        ((1, 1, 1), (12, 12, 12)),
        ((2, 2, 2), (6, 6, 6)),
        ((3, 3, 3), (4, 4, 4)),
        ((2, 2, 1), (6, 6, 12)),
        ((4, 4, 4), (3, 3, 3)),
    ],
)
def test_kpoint_density_is_12_cubed_on_the_5_atom_cell(a, scaling, expected):
    # 12x12x12 on the unit cell means 12/n divisions on an n-fold supercell, for any a
    assert kpoint_grid(_cubic(a) * scaling, 12**3 * 5) == expected


def test_kpoint_grid_never_coarser_than_requested():
    # a 5x5x5 supercell: 12/5 = 2.4 divisions -> rounded up to 3, not down to 2
    assert kpoint_grid(_cubic() * (5, 5, 5), 12**3 * 5) == (3, 3, 3)
    with pytest.raises(InputError, match="kpoints_per_atom"):
        kpoint_grid(_cubic(), 0)


def test_pbesol_static_inputs():
    vis = static_set_generator(load_level("pbesol").vasp).get_input_set(
        _cubic() * 2, potcar_spec=True
    )
    incar = vis.incar
    assert incar["GGA"].upper() == "PS"
    assert incar["ENCUT"] == 550
    assert incar["NSW"] == 0
    assert incar["LHFCALC"] is False
    assert "AEXX" not in incar and "HFSCREEN" not in incar and "METAGGA" not in incar
    assert incar["ISMEAR"] == 0
    assert vis.kpoints.style.name == "Gamma"
    assert tuple(vis.kpoints.kpts[0]) == (6, 6, 6)
    assert vis.potcar.split() == ["I", "S", "Ag"]  # POTCAR.spec symbols


def test_hsesol_static_inputs():
    vis = static_set_generator(load_level("hsesol").vasp).get_input_set(_cubic(), potcar_spec=True)
    incar = vis.incar
    # HSEsol = HSE screened hybrid built on PBEsol
    assert incar["GGA"].upper() == "PS"
    assert incar["LHFCALC"] is True
    assert incar["HFSCREEN"] == pytest.approx(0.2)
    assert incar["AEXX"] == pytest.approx(0.25)
    assert incar["ENCUT"] == 550
    assert tuple(vis.kpoints.kpts[0]) == (12, 12, 12)


def test_relaxation_force_tolerance():
    incar = (
        relax_set_generator(load_level("pbesol").vasp)
        .get_input_set(_cubic(), potcar_spec=True)
        .incar
    )
    assert incar["EDIFFG"] == pytest.approx(-0.005)
    assert incar["NSW"] > 0 and incar["IBRION"] == 2
    assert incar["GGA"].upper() == "PS" and incar["ENCUT"] == 550


def test_incar_updates_override_everything():
    settings = load_level("pbesol").vasp.model_copy(
        update={"incar_updates": {"ENCUT": 600, "NCORE": 4}}
    )
    incar = static_set_generator(settings).get_input_set(_cubic(), potcar_spec=True).incar
    assert incar["ENCUT"] == 600 and incar["NCORE"] == 4


def test_custodian_settings():
    settings = load_level("pbesol").vasp.custodian.model_copy(update={"max_errors": 3})
    kwargs = run_vasp_kwargs(settings)
    assert kwargs["max_errors"] == 3
    assert [type(h).__name__ for h in kwargs["handlers"]] == settings.handlers
    with pytest.raises(ConfigError, match=r"NoSuchHandler.*allowed: .*VaspErrorHandler"):
        custodian_handlers(["NoSuchHandler"])
