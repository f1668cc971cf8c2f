"""Phonons of the parent antiperovskites Ag3SBr and Ag3SI with the embedded engine.

Run it with `thermogap run workflows/parent_phonons.py [--store DIR]`, or copy and edit:
swap `calculator` for a trained MLIP (`PhononMaker(model_id=...)`) or add compounds.
"""

from thermogap.flows.demo import parent_phonons_flow

LEVELS = ["chgnet"]


def make_flow(compounds=("Ag3SBr", "Ag3SI"), calculator="chgnet", supercell=(2, 2, 2)):
    return parent_phonons_flow(compounds, calculator=calculator, supercell=supercell)


if __name__ == "__main__":
    from thermogap.execution import run_flow
    from thermogap.store import ResultsDB

    print(run_flow(make_flow(), ResultsDB.from_spec(None)))
