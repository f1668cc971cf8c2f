"""jobflow Makers wrapping thermogap science functions.

Every public Maker is importable from here (imported lazily, on first use), e.g.
``from thermogap.jobs import BandGapResultMaker``.
"""

from __future__ import annotations

from thermogap.registry import lazy_module_getattr

_EXPORTS = {
    "BandGapResultMaker": "thermogap.jobs.band_gaps",
    "BatchedLangevinMDMaker": "thermogap.jobs.md",
    "DatasetStudySummaryMaker": "thermogap.jobs.gnn",
    "DatasetStudyTrainMaker": "thermogap.jobs.gnn",
    "DisplacedConfigurationsMaker": "thermogap.jobs.sampling",
    "ElectronPhononCouplingMaker": "thermogap.jobs.electron_phonon",
    "EnumerateConfigurationsMaker": "thermogap.jobs.disorder",
    "FiniteTemperaturePhononMaker": "thermogap.jobs.finite_temperature",
    "GNNCombineDatasetsMaker": "thermogap.jobs.gnn",
    "GNNDatasetMaker": "thermogap.jobs.gnn",
    "GNNExplainMaker": "thermogap.jobs.gnn",
    "GNNPredictMaker": "thermogap.jobs.gnn",
    "GNNSearchSummaryMaker": "thermogap.jobs.gnn",
    "GNNTrainMaker": "thermogap.jobs.gnn",
    "GNNTransferSummaryMaker": "thermogap.jobs.gnn",
    "ImportPhononsMaker": "thermogap.jobs.phonon_import",
    "LabelBatchMaker": "thermogap.jobs.labels",
    "LabelingSelectionMaker": "thermogap.jobs.labels",
    "LabelingSummaryMaker": "thermogap.jobs.labels",
    "LangevinMDMaker": "thermogap.jobs.md",
    "LangevinTemperatureSweepMaker": "thermogap.jobs.md",
    "MaceTrainingMaker": "thermogap.jobs.mlip",
    "MlipRelaxMaker": "thermogap.jobs.mlip",
    "MlipSinglePointMaker": "thermogap.jobs.mlip",
    "OpticsSnapshotsMaker": "thermogap.jobs.optics",
    "OpticsSpectrumMaker": "thermogap.jobs.optics",
    "OpticsSummaryMaker": "thermogap.jobs.optics",
    "ParentRelaxMaker": "thermogap.jobs.phonons",
    "PhononMaker": "thermogap.jobs.phonons",
    "PhononValidationMaker": "thermogap.jobs.mlip",
    "RelaxAndRankMaker": "thermogap.jobs.disorder_ranking",
    "TdphFineTuneMaker": "thermogap.jobs.tdph",
    "TdphHarmonicMaker": "thermogap.jobs.tdph",
    "TdphRenormaliseMaker": "thermogap.jobs.tdph",
    "VaspLabelMaker": "thermogap.jobs.labels",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_module_getattr(__name__, _EXPORTS)
