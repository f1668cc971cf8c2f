"""Published sp3s* tight-binding parameters (Vogl, Hjalmarson and Dow 1983).

Source: P. Vogl, H. P. Hjalmarson and J. D. Dow, "A semi-empirical tight-binding theory of
the electronic structure of semiconductors", J. Phys. Chem. Solids 44, 365 (1983), Table 1
(values in eV, nearest-neighbour sp3s* basis, no spin-orbit coupling). The paper tabulates the
zinc-blende combinations ``V(s,s)``, ``V(x,x)``, ``V(x,y)``, ``V(sa,pc)``, ``V(pa,sc)``,
``V(s*a,pc)``, ``V(pa,s*c)``; :meth:`Sp3sStarParameters.slater_koster` turns them into the
two-centre integrals of Slater and Koster so that any bond direction can be used.
Lattice constants (Å) are the room-temperature experimental ones the fit refers to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import sqrt

from thermogap.errors import InputError

__all__ = ["GAAS_VOGL", "PARAMETER_SETS", "SI_VOGL", "Sp3sStarParameters", "SlaterKoster"]


@dataclass(frozen=True)
class SlaterKoster:
    """Two-centre integrals (eV) of one ordered bond i → j at the reference bond length.

    ``v_sp_sigma`` has the s orbital on atom i and the p orbital on atom j; ``v_ps_sigma`` has
    the p orbital on i and the s orbital on j (both with the Slater–Koster sign convention,
    positive for a bonding-like overlap); likewise for s*.
    """

    v_ss_sigma: float
    v_sp_sigma: float
    v_ps_sigma: float
    v_pp_sigma: float
    v_pp_pi: float
    v_sstar_p_sigma: float
    v_p_sstar_sigma: float


@dataclass(frozen=True)
class Sp3sStarParameters:
    """One sp3s* parameter set of a diamond or zinc-blende semiconductor (energies in eV).

    Parameters
    ----------
    name
        Short name (``"Si"``, ``"GaAs"``).
    cation, anion
        Element symbols; equal for an elemental (diamond) crystal.
    lattice_constant_ang
        Cubic lattice constant the parameters were fitted at, Å; the reference bond length is
        ``a * sqrt(3) / 4``.
    onsite_ev
        ``{element: (E_s, E_p, E_s*)}``, eV.
    v_ss, v_xx, v_xy, v_sa_pc, v_pa_sc, v_sstar_a_pc, v_pa_sstar_c
        Vogl's Table 1 combinations, eV.
    source
        Citation of the numbers.
    """

    name: str
    cation: str
    anion: str
    lattice_constant_ang: float
    onsite_ev: dict[str, tuple[float, float, float]]
    v_ss: float
    v_xx: float
    v_xy: float
    v_sa_pc: float
    v_pa_sc: float
    v_sstar_a_pc: float
    v_pa_sstar_c: float
    valence_electrons: dict[str, int] = field(default_factory=dict)
    source: str = "Vogl, Hjalmarson & Dow, J. Phys. Chem. Solids 44, 365 (1983), Table 1"

    @property
    def bond_length_ang(self) -> float:
        """Ideal nearest-neighbour distance ``a sqrt(3)/4``, Å."""
        return self.lattice_constant_ang * sqrt(3.0) / 4.0

    @property
    def elements(self) -> tuple[str, ...]:
        """The elements this set describes."""
        return tuple(sorted({self.cation, self.anion}))

    def slater_koster(self, element_i: str, element_j: str) -> SlaterKoster:
        """Two-centre integrals of the bond from ``element_i`` to ``element_j``.

        Uses V(s,s) = 4 V_ssσ, V(x,x) = 4/3 V_ppσ + 8/3 V_ppπ, V(x,y) = 4/3 (V_ppσ − V_ppπ)
        and V(s a, p c) = 4/√3 V_spσ (s on the anion), which hold for the ideal tetrahedral
        bond directions.

        Raises
        ------
        InputError
            If the pair is not a cation–anion bond of this set (e.g. an As–As antisite bond).
        """
        pair = {element_i, element_j}
        if pair != {self.cation, self.anion}:
            raise InputError(
                f"bond {element_i}-{element_j} is not described by the {self.name} sp3s* set; "
                f"allowed: {self.cation}-{self.anion}"
            )
        sp = sqrt(3.0) / 4.0
        s_anion_p_cation = sp * self.v_sa_pc
        s_cation_p_anion = sp * self.v_pa_sc
        sstar_anion_p_cation = sp * self.v_sstar_a_pc
        sstar_cation_p_anion = sp * self.v_pa_sstar_c
        i_is_anion = element_i == self.anion and element_j == self.cation
        if self.cation == self.anion:
            i_is_anion = True  # elemental: both orderings are the same numbers
        return SlaterKoster(
            v_ss_sigma=self.v_ss / 4.0,
            v_sp_sigma=s_anion_p_cation if i_is_anion else s_cation_p_anion,
            v_ps_sigma=s_cation_p_anion if i_is_anion else s_anion_p_cation,
            v_pp_sigma=(self.v_xx + 2.0 * self.v_xy) / 4.0,
            v_pp_pi=(self.v_xx - self.v_xy) / 4.0,
            v_sstar_p_sigma=sstar_anion_p_cation if i_is_anion else sstar_cation_p_anion,
            v_p_sstar_sigma=sstar_cation_p_anion if i_is_anion else sstar_anion_p_cation,
        )


#: Silicon, Vogl et al. (1983) Table 1; a = 5.431 Å.
SI_VOGL = Sp3sStarParameters(
    name="Si",
    cation="Si",
    anion="Si",
    lattice_constant_ang=5.431,
    onsite_ev={"Si": (-4.2000, 1.7150, 6.6850)},
    v_ss=-8.3000,
    v_xx=1.7150,
    v_xy=4.5750,
    v_sa_pc=5.7292,
    v_pa_sc=5.7292,
    v_sstar_a_pc=5.3749,
    v_pa_sstar_c=5.3749,
    valence_electrons={"Si": 4},
)

#: Gallium arsenide, Vogl et al. (1983) Table 1 (As is the anion); a = 5.653 Å.
GAAS_VOGL = Sp3sStarParameters(
    name="GaAs",
    cation="Ga",
    anion="As",
    lattice_constant_ang=5.653,
    onsite_ev={"As": (-8.3431, 1.0414, 8.5914), "Ga": (-2.6569, 3.6686, 6.7386)},
    v_ss=-6.4513,
    v_xx=1.9546,
    v_xy=5.0779,
    v_sa_pc=4.4800,
    v_pa_sc=5.7839,
    v_sstar_a_pc=4.8422,
    v_pa_sstar_c=4.8077,
    valence_electrons={"Ga": 3, "As": 5},
)

#: Parameter sets by name.
PARAMETER_SETS: dict[str, Sp3sStarParameters] = {"Si": SI_VOGL, "GaAs": GAAS_VOGL}
