"""TemperatureFlowMaker: a flow Maker with sub-Maker fields whose built flows can be edited."""

import pytest

from fixtures.temperature import TINY
from thermogap.errors import InputError
from thermogap.flows import TemperatureFlowMaker, temperature_flow
from thermogap.jobs import BatchedLangevinMDMaker, LangevinMDMaker, PhononMaker
from thermogap.jobs.finite_temperature import derived_nmd_settings
from thermogap.schemas.finite_temperature import NMDSettings
from thermogap.schemas.md import LangevinSettings


def _names(flow):
    return sorted(job.name for job, _ in flow.iterflow())


def _md_makers(flow, cls):
    return [
        job.function.__self__
        for job, _ in flow.iterflow()
        if isinstance(getattr(job.function, "__self__", None), cls)
    ]


def test_maker_builds_the_preset_flow():
    assert _names(TemperatureFlowMaker(settings=TINY).make()) == _names(temperature_flow(**TINY))


def test_sub_makers_are_used_and_derived_settings_follow_them():
    long_md = LangevinSettings(total_time_ps=20.0, save_interval_steps=5)
    settings = TINY | {"md_engine": "ase", "finite_temperature_phonons": True}
    # the preset's own MD (TINY: 0.1 ps) cannot resolve the NMD stability threshold
    with pytest.raises(InputError, match="spectral resolution"):
        TemperatureFlowMaker(settings=settings).make()
    maker = TemperatureFlowMaker(
        settings=settings,
        md_maker=LangevinMDMaker(settings=long_md, progress=False),
        phonon_maker=PhononMaker(name="0 K phonons", supercell_matrix=[1, 1, 1]),
    )
    flow = maker.make()  # accepted: the 20 ps MD Maker that is used resolves the threshold
    mds = _md_makers(flow, LangevinMDMaker)
    assert len(mds) == 2 and all(m.settings.total_time_ps == 20.0 for m in mds)
    nmd = [j for j, _ in flow.iterflow() if j.name.startswith("finite-T phonons")]
    # the segments are worked out when the NMD job runs, from the trajectory it is given
    assert nmd and set(nmd[0].function.__self__.derive_from_md) == {
        "equilibration_time_ps",
        "segment_time_ps",
    }
    nmd_maker = nmd[0].function.__self__
    resolved = derived_nmd_settings(nmd_maker.settings, 20.0, nmd_maker.derive_from_md)
    assert resolved.segment_time_ps == pytest.approx(8.0)  # (20 - 0.2·20) / 2 ps, below 10


def test_nmd_settings_derived_from_the_md_length_at_run_time():
    base = NMDSettings()
    derive = ["equilibration_time_ps", "segment_time_ps"]
    long = derived_nmd_settings(base, 40.0, derive, equilibration_fraction=0.25)
    assert long.equilibration_time_ps == pytest.approx(10.0)
    assert long.segment_time_ps == pytest.approx(min(base.segment_time_ps, 15.0))
    # a given value is kept: only the named fields are derived
    assert derived_nmd_settings(base, 40.0, ["segment_time_ps"]).equilibration_time_ps == (
        base.equilibration_time_ps
    )
    with pytest.raises(InputError, match="spectral resolution"):  # 1 ps cannot resolve it
        derived_nmd_settings(base, 1.0, derive)
    with pytest.raises(InputError, match="cannot derive"):
        derived_nmd_settings(base, 40.0, ["window"])


def test_built_flow_md_settings_can_be_edited_with_update_maker_kwargs():
    flow = TemperatureFlowMaker(settings=TINY).make()
    assert _md_makers(flow, BatchedLangevinMDMaker)  # two trajectories share the MLIP
    flow.update_maker_kwargs(
        {"_set": {"settings->total_time_ps": 0.5}},
        class_filter=BatchedLangevinMDMaker,
        dict_mod=True,
    )
    makers = _md_makers(flow, BatchedLangevinMDMaker)
    assert [m.settings.total_time_ps for m in makers] == [0.5]
