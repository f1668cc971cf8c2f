"""Flow builders: jobflow Flows assembled from thermogap Makers.

Every public Maker is importable from here (imported lazily, on first use), e.g.
``from thermogap.flows import DatasetMaker``.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    """Import a public Maker (or builder) from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
