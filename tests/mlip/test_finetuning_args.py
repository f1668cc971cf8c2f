"""Fine-tuning arguments, checked by parsing them with mace-torch's own argument parser."""

from __future__ import annotations

import numpy as np
import pytest

from thermogap.errors import InputError
from thermogap.mlip.calculator import contained_mace_import
from thermogap.mlip.foundation import FoundationModel
from thermogap.mlip.training import build_run_train_args, split_dataset
from thermogap.schemas.mlip import MaceTrainingSettings

# importing mace sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD for the whole process: contain it
with contained_mace_import():
    from mace.tools import build_default_arg_parser


def _args(tmp_path, **settings):
    model = tmp_path / "foundation.model"
    model.write_bytes(b"x")
    files = {"train": tmp_path / "t.xyz", "valid": tmp_path / "v.xyz"}
    foundation = FoundationModel("foundation", model, "0" * 64)
    args = build_run_train_args(
        MaceTrainingSettings(**settings), files, tmp_path, foundation, True, 100
    )
    return build_default_arg_parser().parse_args(args)


def test_multihead_replay_finetuning_is_the_default(tmp_path):
    replay = tmp_path / "replay.xyz"
    replay.write_text("")
    parsed = _args(tmp_path, replay_file=str(replay), num_samples_pt=500)
    assert parsed.multiheads_finetuning is True
    assert parsed.pt_train_file == str(replay.resolve()) and parsed.num_samples_pt == 500
    assert parsed.foundation_model.endswith("foundation.model")


def test_naive_finetuning_has_no_replay(tmp_path):
    parsed = _args(tmp_path, finetuning="naive", ema=True, ema_decay=0.995, lr=3e-4)
    assert parsed.multiheads_finetuning is False and parsed.pt_train_file is None
    assert parsed.ema is True and parsed.ema_decay == 0.995 and parsed.lr == 3e-4


def test_multihead_without_replay_data_names_the_options(tmp_path):
    with pytest.raises(InputError, match=r"replay_file.*naive"):
        _args(tmp_path)


def test_split_is_95_5_with_a_disjoint_held_out_test_set():
    n = 400
    split = split_dataset(n, valid_fraction=0.05, test_fraction=0.1, seed=1)
    train, valid, test = (set(a.tolist()) for a in (split.train, split.valid, split.test))
    assert not (train & valid or train & test or valid & test)
    assert train | valid | test == set(range(n))
    assert len(test) == 40
    assert len(valid) / (len(train) + len(valid)) == pytest.approx(0.05, abs=0.003)
    assert np.all(np.diff(split.train) > 0)


def test_paper_preset_states_learning_rate_and_ema():
    from thermogap.flows.presets import load_preset

    mace = load_preset("paper").settings["mace"]
    assert {"lr", "ema", "ema_decay", "finetuning"} <= set(mace)
    assert mace["finetuning"] == "multihead"
