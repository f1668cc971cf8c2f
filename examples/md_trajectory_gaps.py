# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One MD trajectory and its band-gap series
#
# Every finite-temperature band gap in the database is an average over decorrelated MD
# snapshots. This notebook takes one `band_gaps` document, loads the trajectory behind it,
# predicts the gap of every saved frame with the study's GNN and redoes the averaging:
# equilibration cut, integrated autocorrelation time τ, snapshots spaced by 2τ, mean ± stderr.
# Run `thermogap demo` first, or set `THERMOGAP_STORE`.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt

from thermogap.md.langevin import load_trajectory
from thermogap.results import band_gaps_frame, trajectory_frame
from thermogap.results.band_gaps import snapshot_gaps
from thermogap.store import ResultsDB

STORE = os.environ.get("THERMOGAP_STORE", "thermogap-data")
OUT = Path(os.environ.get("THERMOGAP_EXAMPLES_OUT", "thermogap-plots"))
db = ResultsDB.from_spec(STORE)

# %% [markdown]
# Pick the hottest result of the middle composition that has a trajectory.

# %%
gaps = band_gaps_frame(db)
hot = gaps[gaps.temperature_K > 0].copy()
hot["distance_to_middle"] = (hot.x_fraction - hot.x_fraction.median()).abs()
candidates = hot.sort_values(["distance_to_middle", "temperature_K"], ascending=[True, False])
for row in candidates.itertuples():
    result = db.query_one("band_gaps", {"result_id": row.result_id})
    if result and result.get("trajectory_ids"):
        break
trajectory_id = result["trajectory_ids"][0]
gap, err = result["band_gap_ev"], result["stderr_ev"]
print(f"x = {result['x']:g}, T = {result['temperature_k']:g} K: Eg = {gap:.3f} ± {err:.3f} eV")
print(f"trajectory: {trajectory_id}")

# %% [markdown]
# Frames as a DataFrame: time, energies, the kinetic temperature and the GNN gap.

# %%
frames = trajectory_frame(db, trajectory_id, gnn_model_id=result["gnn_model_id"])
frames.describe().T[["mean", "std", "min", "max"]]

# %% [markdown]
# Decorrelated snapshots, as the flow does it (same equilibration fraction as the quick
# preset).

# %%
stats = snapshot_gaps(frames.band_gap_eV.to_numpy(), equilibration_fraction=0.2)
frame_fs = float(frames.time_fs.iloc[1] - frames.time_fs.iloc[0]) if len(frames) > 1 else 0.0
print(f"τ = {stats.tau_frames:.2f} frames ({stats.tau_frames * frame_fs:.0f} fs); "
      f"{len(stats.gaps_ev)} snapshots every {stats.spacing_frames} frames; "
      f"Eg = {stats.mean_ev:.3f} ± {stats.stderr_ev:.3f} eV")  # fmt: skip

# %%
fig, (ax_temp, ax_gap) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 5.0), layout="constrained")
ax_temp.plot(frames.time_fs, frames.kinetic_temperature_K, lw=0.8)
ax_temp.axhline(result["temperature_k"], color="k", lw=0.6, ls="--", label="thermostat")
ax_temp.set_ylabel("kinetic temperature (K)")
ax_temp.legend(fontsize=8)
ax_gap.plot(frames.time_fs, frames.band_gap_eV, lw=0.8, color="0.5", label="every frame")
kept = frames.iloc[stats.skip_frames :: stats.spacing_frames]
ax_gap.plot(kept.time_fs, kept.band_gap_eV, "o", ms=4, color="tab:red", label="snapshots")
ax_gap.axvline(frames.time_fs.iloc[stats.skip_frames], color="k", lw=0.6, ls=":")
ax_gap.axhline(stats.mean_ev, color="tab:red", lw=0.8)
ax_gap.set(xlabel="time (fs)", ylabel="band gap (eV)")
ax_gap.legend(fontsize=8)
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "md_trajectory_gaps.png", dpi=120)

# %% [markdown]
# Any frame as ASE atoms (positions in Å, velocities in ASE units), e.g. to view it or to
# recompute it with another calculator; `thermogap export trajectory ID` writes them all.

# %%
loaded = load_trajectory(db, trajectory_id)
last = loaded.atoms(len(frames) - 1)
print(last.get_chemical_formula(), f"{last.get_temperature():.0f} K kinetic")

# %%
db.close()
