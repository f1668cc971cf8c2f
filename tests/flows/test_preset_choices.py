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
    jobs = _jobs("quick")
    selections = [j for j in jobs if j.name.startswith("labelled_config_ids")]
    criteria = [j.function_args[1] for j in selections]
    assert any(c.get("scheme") == {"$ne": "equilibrium"} for c in criteria)
    mace = next(j for j in jobs if j.name == "mace training")
    mlip_ids = next(j for j in selections if j.function_args[1].get("scheme"))
    assert mace.function_args[1].uuid == mlip_ids.uuid  # MACE reads the displaced-only ids
