import numpy as np
import pytest
import torch

from thermogap.errors import InputError
from thermogap.mlip.calculator import file_sha256
from thermogap.mlip.metrics import regression_metrics
from thermogap.mlip.training import build_run_train_args, split_dataset
from thermogap.schemas.mlip import MaceTrainingSettings


def test_split_is_a_partition_with_paper_fractions():
    split = split_dataset(200, valid_fraction=0.05, test_fraction=0.05, seed=3)
    together = np.concatenate([split.train, split.valid, split.test])
    assert sorted(together.tolist()) == list(range(200))
    assert len(split.test) == 10 and len(split.valid) == round(0.05 * 190)
    with pytest.raises(InputError, match="too few"):
        split_dataset(2, 0.05, 0.05, seed=0)


def test_default_arguments_carry_the_paper_loss_weights(tmp_path):
    args = build_run_train_args(
        MaceTrainingSettings(),
        {"train": tmp_path / "t.xyz", "valid": tmp_path / "v.xyz"},
        tmp_path,
        None,
        with_stress=True,
        n_train=100,
    )
    for expected in (
        "--energy_weight=1.0",
        "--forces_weight=150.0",
        "--stress_weight=10.0",
        "--loss=stress",
        "--E0s=average",
    ):
        assert expected in args


def test_r2_equals_squared_correlation_for_least_squares_fit():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=50)
    noisy = 2.0 * ref + rng.normal(scale=0.5, size=50)
    slope, intercept = np.polyfit(noisy, ref, 1)
    pred = slope * noisy + intercept
    metrics = regression_metrics(pred, ref)
    assert metrics.r2 == pytest.approx(np.corrcoef(pred, ref)[0, 1] ** 2, rel=1e-10)
    assert metrics.mae == pytest.approx(np.abs(pred - ref).mean())


def _mace_log_rmse(log_text, table_title, row):
    """RMSE E (meV/atom) and F (meV/Å) of ``row`` in mace-torch's own error table."""
    block = log_text.split(table_title, 1)[1]
    line = next(ln for ln in block.splitlines() if f" {row} " in ln)
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return float(cells[1]), float(cells[2])


def test_trained_model_metrics_match_mace_torch_error_table(tiny_mace, labelled_configurations):
    """Our evaluation of the trained model reproduces mace-torch's own test-set errors."""
    assert tiny_mace.sha256 == file_sha256(tiny_mace.model_path)
    rmse_e_mev, rmse_f_mev = _mace_log_rmse(
        tiny_mace.log_text, "Error-table on TEST", "Default_Default"
    )
    test = tiny_mace.metrics.test
    assert test.n_configurations == len(tiny_mace.split.test)
    assert test.forces.rmse * 1000 == pytest.approx(rmse_f_mev, abs=0.1)
    assert test.energy_per_atom.rmse * 1000 == pytest.approx(rmse_e_mev, abs=0.1)


def test_metrics_agree_with_mace_calculator_loaded_by_mace(tiny_mace, labelled_configurations):
    """Independent route: mace's MACECalculator(model_paths=...) and numpy errors."""
    from thermogap.mlip.calculator import contained_mace_import

    with contained_mace_import():
        from mace.calculators import MACECalculator

        calc = MACECalculator(  # mace's own pickled module, not thermogap's safe archive
            models=torch.load(tiny_mace.pickled_model_path, weights_only=False),
            default_dtype="float64",
        )
    errors = []
    for i in tiny_mace.split.valid:
        atoms = labelled_configurations[i].copy()
        atoms.calc = calc
        errors.append(atoms.get_forces() - labelled_configurations[i].arrays["REF_forces"])
    assert tiny_mace.metrics.valid.forces.mae == pytest.approx(np.abs(errors).mean(), rel=1e-9)
