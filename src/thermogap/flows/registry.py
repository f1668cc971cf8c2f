"""Named flow builders that presets refer to (``flow: NAME`` in ``presets/*.yaml``).

A builder is a function ``builder(**settings) -> jobflow.Flow`` that validates every setting
before creating any job, so bad input fails before anything runs or is stored.
"""

from __future__ import annotations

from thermogap.registry import Registry

FLOW_BUILDERS = Registry("flow")
FLOW_BUILDERS.register("parent_phonons", "thermogap.flows.demo:parent_phonons_flow")
FLOW_BUILDERS.register("dataset", "thermogap.flows.dataset:dataset_flow")
FLOW_BUILDERS.register("labeling", "thermogap.flows.labeling:labeling_flow")
FLOW_BUILDERS.register("temperature", "thermogap.flows.temperature:temperature_flow")
FLOW_BUILDERS.register("optics", "thermogap.flows.optics:optics_flow")
FLOW_BUILDERS.register("tdph", "thermogap.flows.tdph:tdph_flow")
