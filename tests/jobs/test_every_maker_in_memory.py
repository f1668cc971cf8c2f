"""Every public Maker runs under a plain jobflow store: ``JobStore(MemoryStore(), {"data": ...})``.

The Makers are run the way a user composes them, in four small flows under
``jobflow.run_locally`` with an in-memory job store and an in-memory ``data`` store (no results
database anywhere): the temperature study (tiny settings, every stage), a toolbox of the
Makers the study does not use, the optics flow and the tdph flow with fine-tuning. Every job
that completes is recorded with the class of the Maker that made it (also the jobs added at
run time); each public Maker then gets its own test case. A new public Maker fails
``test_every_public_maker_is_listed`` until it is run here or listed in ``NOT_RUN_HERE``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from jobflow import Flow, Job, JobStore, Maker, run_locally
from maggma.stores import MemoryStore

import thermogap.flows as public_flows
import thermogap.jobs as public_jobs
from fixtures.carried_docs import tiny_random_mace
from fixtures.models import gnn_model_doc, mlip_model_doc
from fixtures.optics import OPTICS_SETTINGS
from fixtures.temperature import TINY

#: public Makers not run here, and where they are tested instead
NOT_RUN_HERE = {
    "VaspLabelMaker": "needs VASP: run on atomate2's fake VASP in tests/vasp/test_vasp_labels.py",
}


def _public_makers() -> list[str]:
    names = []
    for module in (public_jobs, public_flows):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Maker):
                names.append(name)
    return sorted(names)


PUBLIC_MAKERS = _public_makers()


def _builds_a_flow(cls: type) -> bool:
    """Whether ``cls.make`` returns a Flow (rather than being a job)."""
    function = inspect.unwrap(getattr(cls.make, "original", cls.make))
    return "Flow" in str(inspect.signature(function).return_annotation)


def _memory_store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


def _synthetic_labels(n: int, level: str) -> list[dict]:
    """LabelDoc dicts of rattled Ag3SBr cells with a smooth, known band gap."""
    from thermogap.structures import load_structure

    rng = np.random.default_rng(7)
    base = load_structure("Ag3SBr")
    labels = []
    for i in range(n):
        cell = base.copy()
        cell.perturb(0.02 + 0.1 * rng.random())
        spread = float(np.std(cell.cart_coords - base.cart_coords))
        labels.append(
            {
                "label_id": f"s{i}:{level}",
                "config_id": f"s{i}",
                "level": level,
                "status": "ok",
                "scheme": "random" if i % 2 else "phonon",
                "structure": cell.as_dict(),
                "n_atoms": len(cell),
                "energy_ev": -10.0 + spread,
                "band_gap_ev": 1.4 - spread,
            }
        )
    return labels


def _phonopy_yaml(folder: Path) -> str:
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from pymatgen.io.ase import AseAtomsAdaptor

    from thermogap.phonons.harmonic import compute_force_constants

    cu = AseAtomsAdaptor.get_structure(bulk("Cu", "fcc", a=3.61))
    phonon = compute_force_constants(cu, EMT(), supercell_matrix=(2, 2, 2))
    path = folder / "cu_phonopy.yaml"
    phonon.save(str(path), settings={"force_constants": True})
    return str(path)


def _study() -> Flow:
    from thermogap.flows import TemperatureFlowMaker

    settings = TINY | {
        "compositions": [0.5],
        "self_check": False,
        "md_engine": "batched",
        "dataset": TINY["dataset"] | {"n_per_batch": 6},
    }
    return TemperatureFlowMaker(settings=settings).make()


def _toolbox(folder: Path) -> Flow:
    """The Makers the study does not use, on small documents made for the purpose."""
    from thermogap.flows import DatasetStudyFlowMaker, GNNSearchFlowMaker
    from thermogap.gnn.search import SearchGrid
    from thermogap.jobs import (
        FiniteTemperaturePhononMaker,
        GNNCombineDatasetsMaker,
        GNNDatasetMaker,
        GNNExplainMaker,
        GNNPredictMaker,
        ImportPhononsMaker,
        LangevinMDMaker,
        LangevinTemperatureSweepMaker,
        MlipRelaxMaker,
        MlipSinglePointMaker,
        PhononMaker,
        PhononValidationMaker,
    )
    from thermogap.schemas.finite_temperature import NMDSettings
    from thermogap.schemas.gnn import GNNTrainingSettings
    from thermogap.schemas.md import LangevinSettings
    from thermogap.structures import load_structure

    structure = load_structure("Ag3SBr")
    mlip = mlip_model_doc(tiny_random_mace())
    gnn = gnn_model_doc(test_mae_ev=0.1)
    short = LangevinSettings(total_time_ps=0.06, save_interval_steps=1, chunk_frames=20)
    fast = GNNTrainingSettings(hidden_channels=8, batch_size=8, max_epochs=2)
    labels = _synthetic_labels(24, "synthetic")

    phonon = PhononMaker(supercell_matrix=[1, 1, 1]).make(structure, mlip)
    md = LangevinMDMaker(settings=short, progress=False).make(structure, mlip, 300.0)
    # a 60 fs MD resolves nothing physical: permissive settings only to run the Maker
    nmd = FiniteTemperaturePhononMaker(
        settings=NMDSettings(
            equilibration_time_ps=0.005, segment_time_ps=0.02, stability_threshold_thz=200.0
        )
    ).make(phonon.output, md.output)
    sweep = LangevinTemperatureSweepMaker(
        temperatures_k=[100.0, 200.0], md_maker=LangevinMDMaker(settings=short, progress=False)
    ).make(structure, mlip)
    dataset_a = GNNDatasetMaker().make(labels[:12], "synthetic", "a")
    dataset_b = GNNDatasetMaker().make(labels[12:], "synthetic", "b")
    combined = GNNCombineDatasetsMaker(n_test=4).make([dataset_a.output, dataset_b.output])
    grid = SearchGrid(
        architectures=("benitez2026",), learning_rates=(1e-2,), hidden_channels=(8,),
        dropouts=(0.0,),
    )  # fmt: skip
    jobs: list[Job | Flow] = [
        phonon,
        md,
        nmd,
        sweep,
        MlipSinglePointMaker().make(structure, mlip),
        MlipRelaxMaker(max_steps=3).make(structure, mlip),
        PhononValidationMaker(supercell_matrix=[1, 1, 1]).make(structure, mlip),
        ImportPhononsMaker().make(_phonopy_yaml(folder)),
        dataset_a,
        dataset_b,
        combined,
        GNNExplainMaker(epochs=2, max_structures=2).make(gnn, dataset_a.output),
        GNNPredictMaker().make(gnn, structures=[structure]),
        GNNSearchFlowMaker(grid=grid, settings=fast).make(labels, "synthetic"),
        DatasetStudyFlowMaker(settings=fast, train_sizes=(4,), seeds=(0,), n_test=4).make(
            labels, "synthetic", {"phonon": {"scheme": "phonon"}, "random": {"scheme": "random"}}
        ),
    ]
    return Flow(jobs, name="toolbox")


def _optics() -> Flow:
    from thermogap.flows.registry import FLOW_BUILDERS

    # the preset builder renders the settings into OpticsFlowMaker
    return FLOW_BUILDERS.get("optics")(**(OPTICS_SETTINGS | {"temperatures_k": [300.0]}))


def _tdph(folder: Path) -> Flow:
    from pymatgen.core import Structure

    from thermogap.engines import get_calculator
    from thermogap.flows import TdphFlowMaker
    from thermogap.flows.tdph import example_structures
    from thermogap.jobs import TdphFineTuneMaker, TdphHarmonicMaker, TdphRenormaliseMaker
    from thermogap.phonons.harmonic import compute_force_constants
    from thermogap.schemas.tdph import TdphSettings

    nacl = Structure.from_file(example_structures(["NaCl"])[0])
    reference = compute_force_constants(nacl, get_calculator("chgnet"), supercell_matrix=(2, 2, 2))
    reference.force_constants = 1.3 * np.asarray(reference.force_constants)
    path = folder / "NaCl_reference_phonopy.yaml"
    reference.save(str(path), settings={"force_constants": True})
    maker = TdphFlowMaker(
        temperatures_k=[300.0],
        harmonic_maker=TdphHarmonicMaker(relax=False, supercell_matrix=[2, 2, 2]),
        renormalise_maker=TdphRenormaliseMaker(
            settings=TdphSettings(n_samples=2, shift_mesh=[2, 2, 2], band_npoints=2)
        ),
        finetune_maker=TdphFineTuneMaker(
            n_configurations=4, epochs=1, learning_rate=1e-3, validation_fraction=0.0
        ),
    )
    return maker.make([nacl], finetune_references=[str(path)])


@pytest.fixture(scope="module")
def completed(tmp_path_factory) -> set[str]:
    """Run the four flows in memory; return the Makers whose jobs or flows completed.

    A job Maker counts when one of its jobs finished (jobs added at run time included); a
    flow Maker when a flow it built (also at run time) was part of a run that succeeded.
    """
    folder = tmp_path_factory.mktemp("every_maker")
    ran: set[str] = set()
    built: set[str] = set()
    original_run = Job.run

    def run(self, *args, **kwargs):
        response = original_run(self, *args, **kwargs)
        maker = getattr(self.function, "__self__", None)
        if isinstance(maker, Maker):
            ran.add(type(maker).__name__)
        return response

    def recording(cls):
        original_make = cls.make

        def make(self, *args, **kwargs):
            built.add(type(self).__name__)
            return original_make(self, *args, **kwargs)

        return make

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Job, "run", run)
        for name in PUBLIC_MAKERS:
            cls = getattr(public_jobs, name, None) or getattr(public_flows, name)
            if _builds_a_flow(cls):
                patch.setattr(cls, "make", recording(cls))
        for build in (lambda: _toolbox(folder), _optics, lambda: _tdph(folder), _study):
            store = _memory_store()
            run_locally(build(), store=store, ensure_success=True, root_dir=folder)
            # the large bytes went to the in-memory data store, nowhere else
            assert store.additional_stores["data"].count() > 0
    return ran | built


def test_every_public_maker_is_listed():
    assert set(NOT_RUN_HERE) <= set(PUBLIC_MAKERS)
    assert len(PUBLIC_MAKERS) >= 40


@pytest.mark.parametrize("maker", [m for m in PUBLIC_MAKERS if m not in NOT_RUN_HERE])
def test_maker_runs_under_a_plain_jobflow_memory_store(maker, completed):
    assert maker in completed, f"no job of {maker} completed under run_locally(MemoryStore)"
