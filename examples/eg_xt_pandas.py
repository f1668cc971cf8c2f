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
# # Eg(x, T) from the results database into pandas
#
# Run `thermogap demo` first (or point `THERMOGAP_STORE` at any results database). This
# notebook reads every stored band gap into a pandas DataFrame, tabulates Eg(x, T), plots it
# against temperature and composition and fits the slope dEg/dT of each composition.
# Open it as a notebook with `jupytext --to notebook eg_xt_pandas.py`, or run it as a script.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from thermogap.results import band_gaps_frame
from thermogap.results.plots import composition_label
from thermogap.store import ResultsDB

STORE = os.environ.get("THERMOGAP_STORE", "thermogap-data")
OUT = Path(os.environ.get("THERMOGAP_EXAMPLES_OUT", "thermogap-plots"))
db = ResultsDB.from_spec(STORE)

# %% [markdown]
# One row per (family, x, T, level, selection); the unit of each column is in its name.

# %%
frame = band_gaps_frame(db)
columns = ["family", "x_fraction", "temperature_K", "band_gap_eV", "band_gap_stderr_eV"]
frame[columns]

# %% [markdown]
# Eg as a table, temperatures down, compositions across (eV):

# %%
table = frame.pivot_table(index="temperature_K", columns="x_fraction", values="band_gap_eV")
print(table.round(3))

# %% [markdown]
# Eg against T for each x, and against x for each T. Error bars are the standard errors of
# the snapshot means (the 0 K gap of the relaxed structure has none).

# %%
fig, (ax_t, ax_x) = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained")
for x, group in frame.groupby("x_fraction"):
    ax_t.errorbar(group.temperature_K, group.band_gap_eV, yerr=group.band_gap_stderr_eV,
                  marker="o", capsize=2, label=f"x = {x:g}")  # fmt: skip
for t, group in frame.groupby("temperature_K"):
    ax_x.errorbar(group.x_fraction, group.band_gap_eV, yerr=group.band_gap_stderr_eV,
                  marker="s", capsize=2, label=f"T = {t:g} K")  # fmt: skip
families = frame.family.unique()
ax_t.set(xlabel="temperature (K)", ylabel="band gap (eV)")
ax_x.set(xlabel=composition_label(families[0] if len(families) == 1 else None),
         ylabel="band gap (eV)")  # fmt: skip
ax_t.legend(fontsize=8)
ax_x.legend(fontsize=8)
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "eg_xt_pandas.png", dpi=120)

# %% [markdown]
# The slope dEg/dT of each composition from a straight-line fit over all temperatures
# (meV/K). With only a few temperatures, and the quick preset's short MD, read it as an
# order of magnitude.

# %%
slopes_mev_per_k = {
    x: 1e3 * np.polyfit(group.temperature_K, group.band_gap_eV, 1)[0]
    for x, group in frame.groupby("x_fraction")
}
for x, slope in slopes_mev_per_k.items():
    print(f"x = {x:5.3f}: dEg/dT = {slope:+.3f} meV/K")

# %%
db.close()
