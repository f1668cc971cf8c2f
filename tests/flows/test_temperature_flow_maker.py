"""TemperatureFlowMaker: a flow Maker with sub-Maker fields whose built flows can be edited."""

import pytest
from test_temperature_flow import TINY

from thermogap.errors import InputError
from thermogap.flows import TemperatureFlowMaker, temperature_flow
from thermogap.jobs import BatchedLangevinMDMaker, LangevinMDMaker, PhononMaker
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
    flow = maker.make()  # the NMD segments now follow the 20 ps MD Maker that is used
    mds = _md_makers(flow, LangevinMDMaker)
    assert len(mds) == 2 and all(m.settings.total_time_ps == 20.0 for m in mds)
    nmd = [j for j, _ in flow.iterflow() if j.name.startswith("finite-T phonons")]
    assert nmd and nmd[0].function.__self__.settings.segment_time_ps > 1.0


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
