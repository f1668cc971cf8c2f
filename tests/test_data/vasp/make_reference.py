"""Write the fake VASP reference directories used by tests/vasp (run once by hand).

The outputs are authored, not computed: a 5-atom cubic Ag3SBr cell (one Ag displaced)
with chosen energies, forces, stress (kbar, VASP sign) and eigenvalues. They are small
but complete enough for pymatgen's Vasprun/Outcar and emmet's TaskDoc to parse.
The ``inputs/`` files are written by hand from seed paper 000's Methods and are what the
generated inputs are checked against; this script only copies them into place.

Usage: ``python tests/test_data/vasp/make_reference.py`` from the repository root.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
A = 4.85  # Å
# POSCAR order as atomate2 writes it for the test structure (no sorting): Br S Ag Ag Ag
SPECIES = ["Br", "S", "Ag", "Ag", "Ag"]
FRAC = np.array(
    [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.52, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]
)
FORCES = np.array(
    [
        [0.051, 0.0, 0.0],
        [0.06021, 0.0, 0.0],
        [-0.21345, 0.0, 0.0],
        [0.05112, 0.0, 0.0],
        [0.05112, 0.0, 0.0],
    ]
)
STRESS_KBAR = np.array([[-6.4321, 0.1234, 0.0], [0.1234, -5.9876, 0.0], [0.0, 0.0, -5.9876]])
E_FR, E_0 = -16.84213746, -16.84197125  # eV
NBANDS, NELECT = 32, 46  # Ag 11 x 3 + S 6 + Br 7 electrons
TITELS = {"Ag": "PAW_PBE Ag 02Apr2005", "S": "PAW_PBE S 06Sep2000", "Br": "PAW_PBE Br 06Sep2000"}
MASSES = {"Ag": 107.868, "S": 32.066, "Br": 79.904}
ZVAL = {"Ag": 11.0, "S": 6.0, "Br": 7.0}
KPOINTS = np.array([[0.0, 0.0, 0.0], [0.25, 0.0, 0.0], [0.25, 0.25, 0.0], [0.5, 0.5, 0.5]])
WEIGHTS = np.array([0.125, 0.375, 0.375, 0.125])


def eigenvalues(kpoint_index: int, gap_shift: float) -> np.ndarray:
    """Band energies (eV): 23 occupied valence bands, then conduction bands."""
    valence = np.linspace(-14.0, 2.10, 23) - 0.15 * kpoint_index
    valence[-1] = 2.1 - 0.31 * kpoint_index  # VBM 2.1 eV at Γ
    conduction = np.linspace(3.35, 9.0, NBANDS - 23) + 0.27 * kpoint_index + gap_shift
    return np.concatenate([valence, conduction])


def _vec(rows: np.ndarray, fmt: str = "{:16.8f}") -> str:
    return "\n".join("    <v>" + " ".join(fmt.format(x) for x in r) + " </v>" for r in rows)


def _structure(name: str | None) -> str:
    lattice = np.eye(3) * A
    attr = f' name="{name}"' if name else ""
    return f"""  <structure{attr} >
   <crystal>
    <varray name="basis" >
{_vec(lattice)}
    </varray>
    <i name="volume">{A**3:18.8f} </i>
    <varray name="rec_basis" >
{_vec(np.eye(3) / A)}
    </varray>
   </crystal>
   <varray name="positions" >
{_vec(FRAC)}
   </varray>
  </structure>"""


#: Parameters VASP always writes to vasprun.xml (defaults of a non-hybrid, non-+U run).
PARAMETER_DEFAULTS = {
    "GGA": ("string", "PS"),
    "LHFCALC": ("logical", "F"),
    "AEXX": ("float", "0.0"),
    "HFSCREEN": ("float", "0.0"),
    "LDAU": ("logical", "F"),
    "LUSE_VDW": ("logical", "F"),
    "LSORBIT": ("logical", "F"),
    "LEPSILON": ("logical", "F"),
}


def _params(incar: dict[str, tuple[str, str]], nelm: int) -> str:
    incar = PARAMETER_DEFAULTS | incar
    items = "\n".join(
        f'   <i type="{t}" name="{k}">{v}</i>' if t != "float" else f'   <i name="{k}">{v}</i>'
        for k, (t, v) in incar.items()
    )
    return f"""  <separator name="general" >
{items}
  </separator>
  <separator name="electronic" >
   <i name="NELECT">{NELECT:16.8f}</i>
   <i type="int" name="NBANDS">{NBANDS}</i>
   <separator name="electronic spin" >
    <i type="int" name="ISPIN">     1</i>
    <i type="logical" name="LNONCOLLINEAR"> F  </i>
   </separator>
   <separator name="electronic convergence" >
    <i type="int" name="NELM">{nelm}</i>
    <i name="EDIFF">      0.00000100</i>
   </separator>
  </separator>
  <separator name="ionic" >
   <i type="int" name="NSW">     0</i>
   <i type="int" name="IBRION">    -1</i>
   <i type="int" name="ISIF">     2</i>
  </separator>"""


def vasprun(incar: dict[str, tuple[str, str]], n_scsteps: int, nelm: int, gap_shift: float) -> str:
    """A complete, minimal vasprun.xml."""
    incar_xml = "\n".join(
        f'  <i type="{t}" name="{k}">{v}</i>' if t != "float" else f'  <i name="{k}">{v}</i>'
        for k, (t, v) in incar.items()
    )
    types = ["Br", "S", "Ag"]
    atoms_rc = "\n".join(
        f"    <rc><c>{s:2s}</c><c>{types.index(s) + 1:4d}</c></rc>" for s in SPECIES
    )
    types_rc = "\n".join(
        f"    <rc><c>{SPECIES.count(s):4d}</c><c>{s:2s}</c><c>{MASSES[s]:16.8f}</c>"
        f"<c>{ZVAL[s]:16.8f}</c><c>  {TITELS[s]}                    </c></rc>"
        for s in types
    )
    scsteps = []
    for i in range(n_scsteps):
        de = 10.0 ** (-i - 1) if i < n_scsteps - 1 else 0.0
        scsteps.append(
            f"""  <scstep>
   <time name="dav">    0.10    0.10</time>
   <energy>
    <i name="e_fr_energy">{E_FR + de:16.8f} </i>
    <i name="e_wo_entrp">{E_0 * 2 - E_FR + de:16.8f} </i>
    <i name="e_0_energy">{E_0 + de:16.8f} </i>
   </energy>
  </scstep>"""
        )
    eig_sets = []
    for k in range(len(KPOINTS)):
        e = eigenvalues(k, gap_shift)
        rows = "\n".join(
            f"       <r>{x:10.4f}{(1.0 if j < NELECT // 2 else 0.0):10.4f} </r>"
            for j, x in enumerate(e)
        )
        eig_sets.append(f'      <set comment="kpoint {k + 1}">\n{rows}\n      </set>')
    dos_e = np.linspace(-15.0, 10.0, 11)
    dos_rows = "\n".join(
        f"       <r>{x:10.4f}{1.0:12.4f}{(i + 1) * 4.0:12.4f} </r>" for i, x in enumerate(dos_e)
    )
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<modeling>
 <generator>
  <i name="program" type="string">vasp </i>
  <i name="version" type="string">6.4.2  </i>
  <i name="subversion" type="string">20Jul23 (build Jan 01 2024 00:00:00) complex  parallel </i>
  <i name="platform" type="string">LinuxIFC </i>
  <i name="date" type="string">2024 01 01 </i>
  <i name="time" type="string">12:00:00 </i>
 </generator>
 <incar>
{incar_xml}
 </incar>
 <kpoints>
  <generation param="Gamma">
   <v type="int" name="divisions">      12       12       12 </v>
   <v name="usershift">      0.00000000       0.00000000       0.00000000 </v>
   <v name="genvec1">      0.08333333       0.00000000       0.00000000 </v>
   <v name="genvec2">      0.00000000       0.08333333       0.00000000 </v>
   <v name="genvec3">      0.00000000       0.00000000       0.08333333 </v>
   <v name="shift">      0.00000000       0.00000000       0.00000000 </v>
  </generation>
  <varray name="kpointlist" >
{_vec(KPOINTS)}
  </varray>
  <varray name="weights" >
{_vec(WEIGHTS[:, None])}
  </varray>
 </kpoints>
 <parameters>
{_params(incar, nelm)}
 </parameters>
 <atominfo>
  <atoms>       {len(SPECIES)} </atoms>
  <types>       {len(types)} </types>
  <array name="atoms" >
   <dimension dim="1">ion</dimension>
   <field type="string">element</field>
   <field type="int">atomtype</field>
   <set>
{atoms_rc}
   </set>
  </array>
  <array name="atomtypes" >
   <dimension dim="1">type</dimension>
   <field type="int">atomspertype</field>
   <field type="string">element</field>
   <field>mass</field>
   <field>valence</field>
   <field type="string">pseudopotential</field>
   <set>
{types_rc}
   </set>
  </array>
 </atominfo>
{_structure("initialpos")}
 <calculation>
{chr(10).join(scsteps)}
{_structure(None)}
  <varray name="forces" >
{_vec(FORCES)}
  </varray>
  <varray name="stress" >
{_vec(STRESS_KBAR)}
  </varray>
  <energy>
   <i name="e_fr_energy">{E_FR:16.8f} </i>
   <i name="e_wo_entrp">{E_0 * 2 - E_FR:16.8f} </i>
   <i name="e_0_energy">{E_0:16.8f} </i>
  </energy>
  <time name="totalsc">    1.00    1.00</time>
  <eigenvalues>
   <array>
    <dimension dim="1">band</dimension>
    <dimension dim="2">kpoint</dimension>
    <dimension dim="3">spin</dimension>
    <field>eigene</field>
    <field>occ</field>
    <set>
     <set comment="spin 1">
{chr(10).join(eig_sets)}
     </set>
    </set>
   </array>
  </eigenvalues>
  <separator name="orbital magnetization" >
   <v name="MAGMOM">      0.00000000      0.00000000      0.00000000 </v>
  </separator>
  <dos>
   <i name="efermi">      2.30000000 </i>
   <total>
    <array>
     <dimension dim="1">gridpoints</dimension>
     <dimension dim="2">spin</dimension>
     <field>energy</field>
     <field>total</field>
     <field>integrated</field>
     <set>
      <set comment="spin 1">
{dos_rows}
      </set>
     </set>
    </array>
   </total>
  </dos>
 </calculation>
{_structure("finalpos")}
</modeling>
"""


def outcar(n_scsteps: int) -> str:
    """A short OUTCAR: header, energies, timing lines that pymatgen's Outcar reads."""
    lines = [
        " vasp.6.4.2 20Jul23 (build Jan 01 2024 00:00:00) complex",
        " running on    4 total cores",
        "   NELECT =      46.0000    total number of electrons",
        "   k-points           NKPTS =      4   k-points in BZ     NKDIM =      4"
        "   number of bands    NBANDS=     32",
        "   ISPIN  =      1    spin polarized calculation?",
        "   total plane-waves  NPLWV =  110592",
        "   NSW    =      0    number of steps for IOM",
        "   IBRION =     -1    ionic relax: 0-MD 1-quasi-New 2-CG",
    ]
    for i in range(n_scsteps):
        lines.append("-" * 41 + f" Iteration      1(  {i + 1:4d})  " + "-" * 39)
    lines += [
        "  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)",
        "  ---------------------------------------------------",
        f"  free  energy   TOTEN  =       {E_FR:.8f} eV",
        "",
        f"  energy  without entropy=      {E_0 * 2 - E_FR:.8f}  energy(sigma->0) =      {E_0:.8f}",
        "",
        " E-fermi :   2.3000     XC(G=0):  -8.0000     alpha+bet : -5.0000",
        "",
        " number of electron      46.0000000 magnetization       0.0000000",
        "",
        " General timing and accounting informations for this job:",
        " ========================================================",
        "",
        "                  Total CPU time used (sec):        1.000",
        "                            User time (sec):        0.900",
        "                          System time (sec):        0.100",
        "                         Elapsed time (sec):        1.000",
        "",
        "                   Maximum memory used (kb):      100000.",
        "                   Average memory used (kb):          N/A",
        "",
        "                          Minor page faults:        10000",
        "                          Major page faults:            0",
        "                 Voluntary context switches:          100",
    ]
    return "\n".join(lines) + "\n"


def contcar() -> str:
    """CONTCAR = final structure (unchanged in a static run)."""
    rows = "\n".join("  " + " ".join(f"{x:.16f}" for x in r) for r in FRAC)
    return (
        "Br1 S1 Ag3\n1.0\n"
        + "\n".join("  " + " ".join(f"{x:.16f}" for x in r) for r in np.eye(3) * A)
        + "\nBr S Ag\n1 1 3\ndirect\n"
        + rows
        + "\n"
    )


PBESOL_INCAR = {
    "PREC": ("string", "accurate"),
    "ENCUT": ("float", "550.0"),
    "GGA": ("string", "PS"),
    "ISMEAR": ("int", "0"),
    "SIGMA": ("float", "0.01"),
    "LORBIT": ("int", "11"),
}
HSESOL_INCAR = PBESOL_INCAR | {
    "LHFCALC": ("logical", "T"),
    "HFSCREEN": ("float", "0.2"),
    "AEXX": ("float", "0.25"),
    "ALGO": ("string", "All"),
}

CASES = {
    # name: (incar, scf steps, NELM, conduction-band shift eV)
    "Ag3SBr_pbesol_static": (PBESOL_INCAR, 12, 200, 0.0),
    "Ag3SBr_hsesol_static": (HSESOL_INCAR, 14, 200, 0.9),
    # electronic SCF hit NELM: VASP "finished" but not converged
    "Ag3SBr_pbesol_unconverged": (PBESOL_INCAR, 6, 6, 0.0),
}


def main() -> None:
    for name, (incar, n_sc, nelm, shift) in CASES.items():
        out = HERE / name / "outputs"
        out.mkdir(parents=True, exist_ok=True)
        with gzip.open(out / "vasprun.xml.gz", "wt") as f:
            f.write(vasprun(incar, n_sc, nelm, shift))
        with gzip.open(out / "OUTCAR.gz", "wt") as f:
            f.write(outcar(n_sc))
        with gzip.open(out / "CONTCAR.gz", "wt") as f:
            f.write(contcar())


if __name__ == "__main__":
    main()
