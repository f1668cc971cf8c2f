"""Listing and sampling of inequivalent configurations against brute-force orbits."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from disorder_reference import (
    bracelets,
    brute_force_orbits,
    orbit_label_and_size,
    smallest_sorted_image,
)
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from thermogap.disorder.counting import sublattice_symmetry
from thermogap.disorder.enumeration import (
    canonicalize,
    enumerate_composition,
    enumerate_disorder,
    list_inequivalent,
    sample_inequivalent,
)
from thermogap.errors import InputError
from thermogap.schemas.disorder import DisorderEnumerationDoc
from thermogap.structures.prototypes import antiperovskite, perovskite
from thermogap.structures.solid_solution import make_supercell


@pytest.fixture(scope="module")
def cap2():
    return sublattice_symmetry(make_supercell(antiperovskite(4.9), (2, 2, 2)), "Br")


@pytest.fixture(scope="module")
def cap3():
    return sublattice_symmetry(make_supercell(antiperovskite(4.9), (3, 3, 3)), "Br")


@pytest.fixture(scope="module")
def perovskite_o():
    return sublattice_symmetry(make_supercell(perovskite(4.0), (2, 2, 1)), "O")


def _assert_complete_and_distinct(perms: np.ndarray, listed, n: int) -> None:
    orbits = brute_force_orbits(perms, n)
    labels = {}
    for config in listed:
        assert len(config.substituted_sites) == n
        label, size = orbit_label_and_size(perms, config.substituted_sites)
        assert label not in labels, "two listed configurations are equivalent"
        labels[label] = size
        assert config.multiplicity == size
        assert config.substituted_sites == smallest_sorted_image(perms, config.substituted_sites)
    assert labels == orbits  # every orbit once, with its size
    assert sum(c.multiplicity for c in listed) == math.comb(perms.shape[1], n)


@pytest.mark.parametrize("n", range(9))
def test_listing_2x2x2_is_complete(cap2, n: int) -> None:
    _assert_complete_and_distinct(cap2.permutations, list_inequivalent(cap2.permutations, n), n)


@pytest.mark.parametrize("n", [2, 5, 7, 10])
def test_listing_perovskite_oxygen_sublattice_is_complete(perovskite_o, n: int) -> None:
    perms = perovskite_o.permutations
    _assert_complete_and_distinct(perms, list_inequivalent(perms, n), n)


@pytest.mark.parametrize("n", [3, 24])
def test_listing_3x3x3_is_complete(cap3, n: int) -> None:
    # n = 24 goes through the complements of the n = 3 classes
    _assert_complete_and_distinct(cap3.permutations, list_inequivalent(cap3.permutations, n), n)


def test_canonical_form_is_smallest_image(cap3) -> None:
    rng = np.random.default_rng(7)
    configs = [tuple(sorted(rng.choice(27, size=6, replace=False).tolist())) for _ in range(5)]
    for config, result in zip(configs, canonicalize(cap3.permutations, configs), strict=True):
        assert result.substituted_sites == smallest_sorted_image(cap3.permutations, config)
        assert result.multiplicity == orbit_label_and_size(cap3.permutations, config)[1]


def test_sampling_gives_distinct_classes_with_their_multiplicities(cap3) -> None:
    perms = cap3.permutations
    sample = sample_inequivalent(perms, 6, 40, seed=3)
    assert len(sample) == 40
    labels = set()
    for config in sample:
        label, size = orbit_label_and_size(perms, config.substituted_sites)
        labels.add(label)
        assert config.multiplicity == size
        assert config.substituted_sites == smallest_sorted_image(perms, config.substituted_sites)
    assert len(labels) == 40
    again = sample_inequivalent(perms, 6, 40, seed=3)
    other = sample_inequivalent(perms, 6, 40, seed=4)
    assert again == sample
    assert {c.substituted_sites for c in other} != {c.substituted_sites for c in sample}


def test_list_or_sample_follows_max_listed(cap3) -> None:
    perms = cap3.permutations
    n_classes = len(brute_force_orbits(perms, 3))  # 10 classes of 3 substituted sites
    listed = enumerate_composition(perms, 3, max_listed=n_classes, n_samples=5, seed=1)
    sampled = enumerate_composition(perms, 4, max_listed=n_classes, n_samples=5, seed=1)
    assert (listed.n_inequivalent, listed.sampled, len(listed.configurations)) == (
        n_classes,
        False,
        n_classes,
    )
    assert listed.seed is None
    assert sampled.sampled and sampled.seed == 1 and len(sampled.configurations) == 5
    assert sampled.n_inequivalent > n_classes
    assert sampled.total == math.comb(27, 4)


def test_bad_requests_name_the_allowed_range(cap2) -> None:
    with pytest.raises(InputError, match=r"0\.\.8"):
        list_inequivalent(cap2.permutations, 9)
    with pytest.raises(InputError, match="exceeds the 6 inequivalent"):
        sample_inequivalent(cap2.permutations, 4, 7, seed=0)


def test_structures_of_classes_are_inequivalent_and_members_match() -> None:
    result = enumerate_disorder(
        antiperovskite(4.9), site="Br", species=("Br", "I"), n_substituted=[4]
    )
    (composition,) = result.compositions
    structures = [result.structure(c) for c in composition.configurations]
    for structure in structures:
        assert (structure.composition["Br"], structure.composition["I"]) == (4, 4)
    matcher = StructureMatcher(primitive_cell=False, scale=False, attempt_supercell=False)
    groups = matcher.group_structures(structures)
    assert len(groups) == len(structures) == 6
    # a random member of a class is the same crystal as the class representative
    perms = result.symmetry.permutations
    rng = np.random.default_rng(0)
    representative = composition.configurations[2]
    g = perms[rng.integers(len(perms))]
    member = tuple(sorted(int(g[s]) for s in representative.substituted_sites))
    assert matcher.fit(result.structure(member), structures[2])


def test_enumeration_of_other_lattice_and_document_round_trip(tmp_path) -> None:
    hexagonal = Structure(Lattice.hexagonal(3.0, 5.0), ["Mg"], [[0, 0, 0]])
    result = enumerate_disorder(
        hexagonal, site="Mg", species=("Mg", "Zn"), supercell=(3, 3, 1), max_listed=5, n_samples=3
    )
    perms = result.symmetry.permutations
    for comp in result.compositions:
        n = comp.n_substituted
        assert comp.n_inequivalent == len(brute_force_orbits(perms, n))
        assert comp.sampled == (comp.n_inequivalent > 5)
    doc = DisorderEnumerationDoc.from_enumeration(result)
    again = DisorderEnumerationDoc.model_validate(json.loads(doc.model_dump_json()))
    assert again.compositions == doc.compositions
    assert [c.x for c in doc.compositions] == [(9 - n) / 9 for n in range(10)]
    assert [c.total for c in doc.compositions] == [math.comb(9, n) for n in range(10)]
    assert doc.symmetry.n_sites == 9 and doc.input.species == ("Mg", "Zn")


def test_long_chain_uses_several_key_words_and_stays_exact() -> None:
    # 70 sites need two 62-bit words per key; the chain's group is the dihedral group D_70
    chain = Structure(Lattice.tetragonal(6.0, 2.5), ["Sn"], [[0, 0, 0]])
    result = enumerate_disorder(
        chain,
        site="Sn",
        species=("Sn", "Pb"),
        supercell=(1, 1, 70),
        n_substituted=[3, 67, 35],
        max_listed=500,
        n_samples=20,
        seed=11,
    )
    perms = result.symmetry.permutations
    three, thirty_five, sixty_seven = result.compositions
    assert three.n_inequivalent == bracelets(70, 3) and not three.sampled
    assert sum(c.multiplicity for c in three.configurations) == math.comb(70, 3)
    canonical = [c.substituted_sites for c in three.configurations]
    assert len(set(canonical)) == len(canonical)
    for config in three.configurations[::7]:
        assert config.substituted_sites == smallest_sorted_image(perms, config.substituted_sites)
    assert sixty_seven.n_inequivalent == three.n_inequivalent
    assert sum(c.multiplicity for c in sixty_seven.configurations) == math.comb(70, 67)
    assert thirty_five.sampled and len(thirty_five.configurations) == 20
    assert thirty_five.n_inequivalent == bracelets(70, 35)
    for config in thirty_five.configurations[:5]:
        assert config.substituted_sites == smallest_sorted_image(perms, config.substituted_sites)
        images = {tuple(sorted(int(p[s]) for s in config.substituted_sites)) for p in perms}
        assert config.multiplicity == len(images)
