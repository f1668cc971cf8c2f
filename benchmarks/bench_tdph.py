"""Cost and physics check of one-shot SSCHA with CHGNet: SrTiO3 (2x2x2, 40 atoms) at 300 K.

Prints, for the relax + harmonic step and for the renormalisation (one shot and
self-consistent): wall seconds, MLIP force calls, the Γ soft mode and the lowest commensurate
frequency before/after, and the projected wall time of the paper's 4,669 compounds on N
workers (assuming every compound costs what SrTiO3 costs here).

Run: PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_tdph.py [--samples 16 32 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pymatgen.io.ase import AseAtomsAdaptor

from thermogap.engines import get_calculator
from thermogap.mlip.relaxation import relax
from thermogap.phonons.anharmonic import commensurate_frequencies, renormalised_phonons
from thermogap.phonons.harmonic import compute_force_constants
from thermogap.structures.prototypes import perovskite
from thermogap.tdph.metrics import frequency_shift_norm, r_full, r_onsite

N_PAPER = 4669


class CountingCalculator:
    """Counts force calls of a wrapped ASE calculator."""

    def __init__(self, inner: object) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def get_forces(self, atoms: object) -> np.ndarray:
        """Forces of ``atoms`` (counted)."""
        self.calls += 1
        return self.inner.get_forces(atoms)  # type: ignore[attr-defined]

    def get_potential_energy(self, atoms: object, force_consistent: bool = False) -> float:
        """Energy of ``atoms`` (counted with the forces, not separately)."""
        return self.inner.get_potential_energy(atoms)  # type: ignore[attr-defined]


def _gamma_soft(phonon: object) -> float:
    """Lowest optical frequency at Γ (the three modes closest to zero are acoustic), THz."""
    freqs = phonon.run_qpoints([[0, 0, 0]]).frequencies[0]  # type: ignore[attr-defined]
    acoustic = np.argsort(np.abs(freqs))[:3]
    return float(np.delete(freqs, acoustic).min())


def _by_q(phonon: object) -> str:
    """Γ soft mode and the lowest frequency at X, M and R (THz), one line."""
    qs = {"X": [0.5, 0, 0], "M": [0.5, 0.5, 0], "R": [0.5, 0.5, 0.5]}
    freqs = phonon.run_qpoints(list(qs.values())).frequencies  # type: ignore[attr-defined]
    lowest = ", ".join(f"{k} {f.min():+.2f}" for k, f in zip(qs, freqs, strict=True))
    return f"Γ soft {_gamma_soft(phonon):+.2f}, {lowest} THz"


def finetune_demo(epochs: int) -> None:
    """Fine-tune CHGNet on NaCl data from force constants 1.3 x CHGNet's; held out: KCl.

    Two recipes: all layers but the embeddings with energy and force loss (energies on the
    model's scale), and the readout MLP only with the force loss only.
    """
    from pymatgen.core import Structure

    from thermogap.flows.tdph import example_structures
    from thermogap.tdph.finetune import (
        finetune_chgnet,
        model_reference_energy,
        phonon_frequency_mae,
    )
    from thermogap.tdph.synthetic import synthetic_dataset

    calc = get_calculator("chgnet")
    refs = {}
    for name in ("NaCl", "KCl"):
        ph = compute_force_constants(
            Structure.from_file(example_structures([name])[0]), calc, supercell_matrix=(2, 2, 2)
        )
        ph.force_constants = 1.3 * np.asarray(ph.force_constants)
        refs[name] = ph
    before = {n: phonon_frequency_mae(p, calc) for n, p in refs.items()}
    recipes = {
        "all layers but embeddings, E+F loss, lr 3e-4": dict(learning_rate=3e-4),
        "readout MLP only, F loss only, lr 1e-3": dict(
            learning_rate=1e-3, train_only=("mlp",), energy_loss_ratio=0.0
        ),
    }
    for seed in (0, 1):
        e0 = model_reference_energy(refs["NaCl"], calc)
        train = synthetic_dataset(
            refs["NaCl"], "NaCl", n_configs=10, reference_energy_ev=e0, seed=100 * seed
        )
        val = synthetic_dataset(
            refs["NaCl"], "NaCl", n_configs=2, reference_energy_ev=e0, seed=100 * seed + 1
        )
        for label, kwargs in recipes.items():
            start = time.perf_counter()
            result = finetune_chgnet(train, val, epochs=epochs, seed=seed, **kwargs)  # type: ignore[arg-type]
            seconds = time.perf_counter() - start
            after = {n: phonon_frequency_mae(p, result.calculator) for n, p in refs.items()}
            print(
                f"fine-tune CHGNet ({label}), 10 NaCl supercells, {epochs} epochs, seed {seed}: "
                f"{seconds:.1f} s; force MAE train {result.train_force_mae_before:.4f} -> "
                f"{result.train_force_mae_after:.4f} eV/Å; phonon MAE NaCl (trained) "
                f"{before['NaCl']:.3f} -> {after['NaCl']:.3f} THz, KCl (held out) "
                f"{before['KCl']:.3f} -> {after['KCl']:.3f} THz"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sc-samples", type=int, default=24)
    parser.add_argument("--sc-iterations", type=int, default=4)
    parser.add_argument("--sc-mixing", type=float, default=0.5)
    parser.add_argument("--sc-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--floor",
        type=float,
        default=2.0,
        help="min_sampling_frequency_thz (0: phonopy's |ω| alone).",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=0,
        help="Only run the fine-tuning demo with this many epochs.",
    )
    args = parser.parse_args()
    if args.finetune_epochs:
        finetune_demo(args.finetune_epochs)
        return

    calc = CountingCalculator(get_calculator("chgnet"))
    start = time.perf_counter()
    cell = relax(
        AseAtomsAdaptor.get_atoms(perovskite(3.9, a="Sr", b="Ti", x="O")),
        calc.inner,
        fmax_ev_per_ang=0.005,
        relax_cell=True,
    )
    structure = AseAtomsAdaptor.get_structure(cell.atoms)
    harmonic = compute_force_constants(structure, calc, supercell_matrix=(2, 2, 2))
    t_harm = time.perf_counter() - start
    _, f0 = commensurate_frequencies(harmonic)
    print(
        f"CHGNet a = {structure.lattice.a:.4f} Å; relax + harmonic {t_harm:.1f} s, "
        f"{cell.n_steps + 1 + calc.calls} force calls"
    )
    print(
        f"harmonic: Γ soft mode {_gamma_soft(harmonic):+.2f} THz, lowest commensurate "
        f"{f0.min():+.2f} THz (negative = imaginary)"
    )
    runs = [(n, 1, seed, 1.0) for n in args.samples for seed in args.seeds]
    runs += [(args.sc_samples, args.sc_iterations, s, args.sc_mixing) for s in args.sc_seeds]
    floor = args.floor or None
    for n, iterations, seed, mixing in runs:
        start = time.perf_counter()
        res = renormalised_phonons(
            harmonic,
            calc.inner,
            300.0,
            n_samples=n,
            iterations=iterations,
            mixing=mixing,
            seed=seed,
            min_sampling_frequency_thz=floor,
        )
        if iterations > 1:
            print(f"    its one shot (iteration 1): {_by_q(res.phonon_after(1))}")
        seconds = time.perf_counter() - start
        fc0, fc1 = harmonic.force_constants, res.phonon.force_constants
        sites = {s.element: round(s.r_onsite, 3) for s in r_onsite(harmonic, fc1)}
        label = "one shot" if iterations == 1 else f"{iterations} iterations, α={mixing}"
        print(
            f"300 K {label}, {n} samples, seed {seed}: {seconds:.1f} s, "
            f"{res.n_calculator_calls} calls; Γ soft {_gamma_soft(res.phonon):+.2f} THz; "
            f"lowest {res.iterations[-1].min_frequency_thz:+.2f} THz; "
            f"imaginary commensurate modes {len(res.imaginary_before)} -> "
            f"{len(res.imaginary_after)}; R_full {r_full(fc0, fc1):.3f}; R_onsite {sites}; "
            f"shift norm {frequency_shift_norm(harmonic, res.phonon):.3f}; "
            f"rms u {res.iterations[0].rms_displacement_ang:.3f} Å "
            f"(last iteration {res.iterations[-1].rms_displacement_ang:.3f} Å); "
            f"sampling floor {floor} THz\n    {_by_q(res.phonon)}"
        )
        if iterations == 1 and seed == args.seeds[0]:
            per_compound = t_harm + seconds
            for workers in (1, 16, 128, 1024):
                hours = N_PAPER * per_compound / workers / 3600
                print(f"    projected {N_PAPER} compounds on {workers:>4} workers: {hours:8.2f} h")


if __name__ == "__main__":
    main()
