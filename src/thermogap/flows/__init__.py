"""Flow builders: jobflow Flows assembled from thermogap Makers.

Every public Maker is importable from here (imported lazily, on first use), e.g.
``from thermogap.flows import DatasetMaker``.
"""

from __future__ import annotations

from thermogap.registry import lazy_module_getattr

_EXPORTS = {
    "DatasetMaker": "thermogap.flows.dataset",
    "DatasetStudyFlowMaker": "thermogap.flows.gnn",
    "GNNSearchFlowMaker": "thermogap.flows.gnn",
    "GNNTransferFlowMaker": "thermogap.flows.gnn",
    "LabelingFlowMaker": "thermogap.flows.labeling",
    "OpticsFlowMaker": "thermogap.flows.optics",
    "TdphFlowMaker": "thermogap.flows.tdph",
    "TemperatureFlowMaker": "thermogap.flows.temperature",
    "dataset_flow": "thermogap.flows.dataset",
    "labeling_flow": "thermogap.flows.labeling",
    "tdph_flow": "thermogap.flows.tdph",
    "temperature_flow": "thermogap.flows.temperature",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
