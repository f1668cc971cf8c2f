"""What the quick and paper presets choose for issue 10 (flows are built, not run)."""

from __future__ import annotations

from thermogap.flows.presets import build_preset_flow, load_preset


def _jobs(name):
    return [job for job, _ in build_preset_flow(load_preset(name)).iterflow()]


def test_quick_preset_checks_itself_against_the_reference_level():
    jobs = _jobs("quick")
    names = [j.name for j in jobs]
    assert sum(n.startswith("self-check 0 K x=") for n in names) == 3
    assert sum(n.startswith("self-check x=") for n in names) == 6  # 3 x times 2 T > 0
    snapshot = next(j for j in jobs if j.name.startswith("self-check x="))
    assert snapshot.function_args[4] == 20  # snapshots per (x, T)
    assert "self-check summary" in names


def test_presets_choose_the_sampling_of_soft_modes_and_keep_equilibrium_configurations():
    quick = load_preset("quick").settings["dataset"]
    paper = load_preset("paper").settings["dataset"]
    assert quick["soft_mode_treatment"] == "md" and "gaussian" in quick["schemes"]
    assert paper["soft_mode_treatment"] == "absolute" and "phonon" in paper["schemes"]
    assert "equilibrium" in quick["schemes"] and "equilibrium" in paper["schemes"]


def test_mace_is_trained_without_the_equilibrium_configurations():
    from thermogap.jobs.mlip import training_atoms

    jobs = _jobs("quick")
    mace = next(j for j in jobs if j.name == "mace training")
    assert tuple(mace.function.__self__.exclude_schemes) == ("equilibrium",)
    # MACE reads the level-A labels of the whole dataset (the labelling flow's output) ...
    selector = next(j for j in jobs if j.uuid == mace.function_args[1].uuid)
    level = load_preset("quick").settings["level_a"]
    assert selector.name == f"select configurations to label {level}"
    # ... and drops the equilibrium ones when it selects its training structures
    structure = {"@module": "pymatgen.core.structure", "@class": "Structure"} | _cell_dict()
    labels = [
        _label(f"c{i}", scheme, structure, level)
        for i, scheme in enumerate(["phonon", "equilibrium"])
    ]
    atoms = training_atoms(labels, [level], ("equilibrium",))
    assert [a.info.get("config_id") for a in atoms] == ["c0"]


def _cell_dict() -> dict:
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(4.0), ["Ag", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]]).as_dict()


def _label(config_id: str, scheme: str, structure: dict, level: str) -> dict:
    return {
        "label_id": f"{config_id}:{level}",
        "config_id": config_id,
        "level": level,
        "status": "ok",
        "scheme": scheme,
        "structure": structure,
        "n_atoms": 2,
        "energy_ev": -1.0,
        "forces_ev_per_ang": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        "stress_ev_per_ang3": [[0.0] * 3] * 3,
    }
