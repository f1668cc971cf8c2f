"""EnumerateConfigurationsMaker run through jobflow against the embedded results database."""

from __future__ import annotations

import math

from monty.json import MontyDecoder

from thermogap.execution import run_flow
from thermogap.jobs.disorder import EnumerateConfigurationsMaker
from thermogap.schemas.disorder import DisorderEnumerationDoc
from thermogap.structures.prototypes import antiperovskite


def test_enumeration_job_runs_and_is_reused(db) -> None:
    maker = EnumerateConfigurationsMaker(
        site="Br", species=("Br", "I"), max_listed=4, n_samples=2, seed=2
    )
    first = run_flow(maker.make(antiperovskite(4.9)), db)
    assert (first.n_jobs, first.n_ran, first.n_reused, first.n_failed) == (1, 1, 0, 0)
    (stored,) = db.query(db.config.outputs_collection, properties=["output"])
    doc = MontyDecoder().process_decoded(stored["output"])
    assert isinstance(doc, DisorderEnumerationDoc)
    # cube-vertex colourings under the full octahedral group (8 halide sites, 2x2x2)
    assert [c.n_inequivalent for c in doc.compositions] == [1, 1, 3, 3, 6, 3, 3, 1, 1]
    assert [c.sampled for c in doc.compositions] == [c.n_inequivalent > 4 for c in doc.compositions]
    for composition in doc.compositions:
        if not composition.sampled:
            total = sum(c.multiplicity for c in composition.configurations)
            assert total == math.comb(8, composition.n_substituted)
    assert doc.input.max_listed == 4 and doc.symmetry.group_order == 48

    again = run_flow(maker.make(antiperovskite(4.9)), db)
    assert (again.n_ran, again.n_reused) == (0, 1)
