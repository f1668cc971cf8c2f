"""Results as pandas DataFrames, with the unit of every column in its name.

:func:`band_gaps_frame` turns the ``band_gaps`` collection into one row per
(family, x, T, level, selection); :func:`trajectory_frame` turns one stored MD trajectory
into one row per saved frame, optionally with the GNN band gap of each frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from thermogap.errors import InputError
from thermogap.store import collections as names

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BAND_GAP_COLUMNS", "band_gaps_frame", "trajectory_frame"]

BOLTZMANN_EV_PER_K = 8.617333262e-5

#: ``band_gaps`` document field -> DataFrame column (unit after the last underscore).
BAND_GAP_COLUMNS: dict[str, str] = {
    "family": "family",
    "formula": "formula",
    "x": "x_fraction",
    "temperature_k": "temperature_K",
    "level": "level",
    "selection": "selection",
    "band_gap_ev": "band_gap_eV",
    "stderr_ev": "band_gap_stderr_eV",
    "std_ev": "band_gap_std_eV",
    "band_gap_0k_ev": "band_gap_0K_eV",
    "delta_gap_ev": "delta_gap_eV",
    "relative_change": "relative_change_percent",
    "n_snapshots": "n_snapshots",
    "correlation_time_fs": "correlation_time_fs",
    "snapshot_spacing_fs": "snapshot_spacing_fs",
    "equilibration_fs": "equilibration_fs",
    "gnn_model_id": "gnn_model_id",
    "mlip_model_id": "mlip_model_id",
    "result_id": "result_id",
}


def band_gaps_frame(db: Any, criteria: dict[str, Any] | None = None) -> pd.DataFrame:
    """Return the stored band gaps Eg(x, T) as a DataFrame, sorted by family, level, x and T.

    Parameters
    ----------
    db : thermogap.store.ResultsDB
        The results database.
    criteria : dict, optional
        A MongoDB filter on the ``band_gaps`` documents (e.g. ``{"level": "hsesol"}``).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`BAND_GAP_COLUMNS`: units in the names (``temperature_K``,
        ``band_gap_eV``, ``relative_change_percent`` is 100 ΔEg/Eg(0 K)); fields a document
        lacks are NaN/None.

    Examples
    --------
    >>> import tempfile
    >>> from thermogap.store import ResultsDB
    >>> db = ResultsDB.from_spec(tempfile.mkdtemp())
    >>> db.upsert("band_gaps", [{"result_id": "a", "family": "Ag3SBr_xI_(1-x)", "x": 0.5,
    ...     "temperature_k": 300.0, "band_gap_ev": 1.1, "relative_change": -0.02}], "result_id")
    1
    >>> frame = band_gaps_frame(db)
    >>> frame[["x_fraction", "temperature_K", "band_gap_eV", "relative_change_percent"]]
       x_fraction  temperature_K  band_gap_eV  relative_change_percent
    0         0.5          300.0          1.1                     -2.0
    >>> db.close()
    """
    import pandas as pd

    docs = db.query(names.BAND_GAPS, criteria or {}, properties=list(BAND_GAP_COLUMNS))
    frame = pd.DataFrame(
        [{column: doc.get(field) for field, column in BAND_GAP_COLUMNS.items()} for doc in docs],
        columns=list(BAND_GAP_COLUMNS.values()),
    )
    numeric = [c for c in frame.columns if c.endswith(("_K", "_eV", "_fs", "_fraction"))]
    numeric += ["relative_change_percent", "n_snapshots"]
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["relative_change_percent"] *= 100.0
    order = ["family", "level", "selection", "x_fraction", "temperature_K"]
    return frame.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)


def trajectory_frame(db: Any, trajectory_id: str, gnn_model_id: str | None = None) -> pd.DataFrame:
    """Return one stored MD trajectory as a DataFrame, one row per saved frame.

    Parameters
    ----------
    db : thermogap.store.ResultsDB
        The results database.
    trajectory_id : str
        Id of the ``trajectories`` document (``band_gaps`` documents list theirs).
    gnn_model_id : str, optional
        A band-gap GNN in the ``models`` collection: adds the gap of every frame.

    Returns
    -------
    pandas.DataFrame
        ``step``, ``time_fs``, ``potential_energy_eV``, ``kinetic_energy_eV``,
        ``kinetic_temperature_K`` (2 E_kin / (3 N k_B), N atoms) and, with a GNN,
        ``band_gap_eV``; the document is in ``frame.attrs["trajectory"]``.

    Raises
    ------
    StoreError
        If the trajectory is not stored.
    """
    import pandas as pd

    from thermogap.md.langevin import load_trajectory

    loaded = load_trajectory(db, trajectory_id)
    doc, arrays = loaded.doc, loaded.arrays
    if doc.n_frames_done == 0:
        raise InputError(f"trajectory {trajectory_id!r} has no stored frames yet")
    steps = np.asarray(arrays["steps"])
    kinetic = np.asarray(arrays["kinetic_energy_ev"], dtype=float)
    frame = pd.DataFrame(
        {
            "step": steps,
            "time_fs": steps * doc.timestep_fs,
            "potential_energy_eV": np.asarray(arrays["potential_energy_ev"], dtype=float),
            "kinetic_energy_eV": kinetic,
            "kinetic_temperature_K": 2.0 * kinetic / (3.0 * doc.n_atoms * BOLTZMANN_EV_PER_K),
        }
    )
    if gnn_model_id is not None:
        from pymatgen.core import Structure

        from thermogap.gnn.bundle import load_gnn
        from thermogap.gnn.inference import predict_frames

        start = Structure.from_dict(doc.structure)
        frame["band_gap_eV"] = predict_frames(
            load_gnn(db, gnn_model_id),
            start.lattice.matrix,
            np.asarray(arrays["positions_ang"]),
            np.array(start.atomic_numbers),
        )
    frame.attrs["trajectory"] = doc.model_dump(exclude={"chunks"})
    return frame
