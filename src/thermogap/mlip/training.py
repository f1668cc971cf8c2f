"""Train or fine-tune a MACE model with mace-torch's ``run_train`` in a child process.

Why a child process and not ``mace.cli.run_train.run(args)`` in-process: run_train changes
process-wide state (``torch.set_default_dtype``, the root logger's handlers, global seeds,
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``), which would leak into the job that called it; a child
process also gets its own thread count and can be killed on a timeout without leaving a
half-trained model in the caller. The cost is one interpreter start (~3 s), small next to any
real training.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from thermogap.errors import CalculationError, InputError
from thermogap.mlip.calculator import (
    convert_mace_model_file,
    file_sha256,
    is_safe_mace_archive,
    load_mace_calculator,
    load_mace_model_bytes,
)
from thermogap.mlip.foundation import FoundationModel
from thermogap.mlip.metrics import ENERGY_KEY, FORCES_KEY, STRESS_KEY, ParityData, parity_data
from thermogap.mlip.metrics import split_metrics as summarise
from thermogap.schemas.mlip import DatasetMetrics, MaceTrainingSettings
from thermogap.splits import DataSplit, split_indices

if TYPE_CHECKING:
    from ase import Atoms

__all__ = [
    "DataSplit",
    "MaceTrainingResult",
    "build_run_train_args",
    "label_id",
    "split_dataset",
    "train_mace",
]

SPLITS = ("train", "valid", "test")
RUN_NAME = "thermogap_mace"


@dataclass
class MaceTrainingResult:
    """What :func:`train_mace` produced.

    Attributes
    ----------
    model_path
        The trained model as a safe archive (state dict + hyperparameters; what is stored).
    sha256
        SHA-256 of ``model_path``.
    pickled_model_path
        The pickled MACE module ``mace_run_train`` wrote (for mace's own tools only).
    log_text
        mace-torch's training log plus the child process's output.
    split
        Which input configurations went to which split.
    metrics
        Metrics of the trained model on each split.
    foundation_metrics
        Metrics of the foundation model on the same splits (``None`` without a foundation).
    parity
        Parity data by ``"<model>_<split>"`` with model ``"trained"`` or ``"foundation"``.
    training_time_s
        Wall time of the training process, s.
    """

    model_path: Path
    sha256: str
    log_text: str
    split: DataSplit
    metrics: DatasetMetrics
    foundation_metrics: DatasetMetrics | None
    parity: dict[str, ParityData] = field(default_factory=dict)
    training_time_s: float = 0.0
    pickled_model_path: Path | None = None


def label_id(atoms: Atoms) -> str:
    """Return ``"<config_id>:<level>"`` of a labelled configuration (``"?"`` if unknown)."""
    return f"{atoms.info.get('config_id', '?')}:{atoms.info.get('level', '?')}"


def split_dataset(
    n_configurations: int, valid_fraction: float, test_fraction: float, seed: int
) -> DataSplit:
    """Split ``n_configurations`` at random into train, validation and test indices.

    The test set is ``test_fraction`` of all configurations and the validation set
    ``valid_fraction`` of the others, both counted by the one rounding rule of
    :mod:`thermogap.splits` (half up, at least one for a positive fraction); the indices of
    each part are sorted, so the files keep the input order.

    Raises
    ------
    InputError
        If fewer configurations than needed for one per non-empty split are given.
    """
    non_test = 1.0 - test_fraction
    fractions = (non_test * (1.0 - valid_fraction), non_test * valid_fraction, test_fraction)
    return split_indices(n_configurations, fractions, seed).sorted()


def build_run_train_args(
    settings: MaceTrainingSettings,
    files: dict[str, Path],
    work_dir: Path,
    foundation: FoundationModel | None,
    with_stress: bool,
    n_train: int,
) -> list[str]:
    """Return the ``mace_run_train`` command-line arguments for ``settings``.

    Parameters
    ----------
    settings
        Training settings.
    files
        Extended-XYZ files by split name (``"train"``, ``"valid"``, optionally ``"test"``).
    work_dir
        Directory for mace-torch's logs, checkpoints and model.
    foundation
        Foundation model to fine-tune, or ``None`` to train from scratch.
    with_stress
        Whether every configuration has a stress label (selects the ``stress`` loss).
    n_train
        Number of training configurations (the batch size is capped at it).
    """
    s = settings
    args = [
        f"--name={RUN_NAME}",
        f"--seed={s.seed}",
        f"--work_dir={work_dir}",
        f"--device={s.device}",
        f"--default_dtype={s.default_dtype}",
        f"--train_file={files['train']}",
        f"--valid_file={files['valid']}",
        f"--energy_key={ENERGY_KEY}",
        f"--forces_key={FORCES_KEY}",
        f"--stress_key={STRESS_KEY}",
        f"--loss={'stress' if with_stress else 'weighted'}",
        f"--energy_weight={s.energy_weight}",
        f"--forces_weight={s.forces_weight}",
        f"--stress_weight={s.stress_weight}",
        f"--batch_size={min(s.batch_size, n_train)}",
        f"--valid_batch_size={s.valid_batch_size}",
        f"--max_num_epochs={s.max_num_epochs}",
        f"--lr={s.lr}",
        "--eval_interval=1",
        "--error_table=PerAtomRMSEstressvirials" if with_stress else "--error_table=PerAtomRMSE",
        "--save_cpu",
    ]
    if "test" in files:
        args.append(f"--test_file={files['test']}")
    e0s = s.e0s if s.e0s != "auto" else ("foundation" if foundation else "average")
    args.append(f"--E0s={e0s}")
    if s.ema:
        args += ["--ema", f"--ema_decay={s.ema_decay}"]
    if foundation is not None:
        args += [
            f"--foundation_model={foundation.path}",
            *_finetuning_args(s, Path(foundation.path).parent),
        ]
    else:
        args += [
            "--model=MACE",
            f"--num_channels={s.num_channels}",
            f"--max_L={s.max_l}",
            f"--max_ell={s.max_ell}",
            f"--correlation={s.correlation}",
            f"--r_max={s.r_max_ang}",
            f"--num_interactions={s.num_interactions}",
            f"--num_radial_basis={s.num_radial_basis}",
            f"--radial_MLP={s.radial_mlp}",
            f"--MLP_irreps={s.mlp_irreps}",
        ]
    return args + list(s.extra_args)


def _finetuning_args(settings: MaceTrainingSettings, model_dir: Path) -> list[str]:
    """mace-torch arguments of multihead (replay) or naive fine-tuning.

    Multihead fine-tuning replays the foundation's own training data on a second head; for a
    local foundation file mace-torch needs that data as ``--pt_train_file`` (it would
    otherwise fall back to naive fine-tuning with only a log line), so it must be given.
    """
    if settings.finetuning == "naive":
        return ["--multiheads_finetuning=False"]
    replay = _replay_path(settings.replay_file, model_dir)
    return [
        "--multiheads_finetuning=True",
        f"--pt_train_file={replay}",
        f"--num_samples_pt={settings.num_samples_pt}",
        f"--weight_pt_head={settings.weight_pt_head}",
        f"--force_mh_ft_lr={settings.force_mh_ft_lr}",
    ]


def _replay_path(replay_file: str | None, model_dir: Path) -> Path:
    """Find the replay file: a path, else beside the foundation, else in the model directory."""
    from thermogap.mlip.foundation import default_model_dir

    if replay_file is None:
        raise InputError(
            "multihead (replay) fine-tuning needs the foundation's training data: set "
            "mace.replay_file to an extended-XYZ file (path, or name in $THERMOGAP_MODEL_DIR), "
            "or mace.finetuning='naive'"
        )
    candidates = [Path(replay_file).expanduser(), model_dir / replay_file]
    candidates.append(default_model_dir() / replay_file)
    path = next((c for c in candidates if c.is_file()), candidates[-1])
    if not path.is_file():
        raise InputError(
            f"replay_file={replay_file!r} is neither a file nor in {default_model_dir()}; "
            "give the foundation's training data (extxyz) or set mace.finetuning='naive'"
        )
    return path.resolve()


def _write_splits(
    atoms_list: Sequence[Atoms], split: DataSplit, directory: Path
) -> dict[str, Path]:
    from ase.io import write

    files = {}
    for name in SPLITS:
        indices = getattr(split, name)
        if len(indices) == 0:
            continue
        files[name] = directory / f"{name}.xyz"
        write(files[name], [atoms_list[i] for i in indices], format="extxyz")
    return files


def _run_child(args: list[str], work_dir: Path, num_threads: int, timeout_s: float | None) -> str:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(num_threads)
    command = [sys.executable, "-m", "mace.cli.run_train", *args]
    try:
        proc = subprocess.run(
            command, cwd=work_dir, env=env, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        raise CalculationError(f"MACE training exceeded {timeout_s=} s and was killed") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise CalculationError(f"mace run_train failed (exit {proc.returncode}):\n{tail}")
    return output


def _evaluate(
    atoms_list: Sequence[Atoms], split: DataSplit, calculator: object, prefix: str
) -> tuple[DatasetMetrics, dict[str, ParityData]]:
    parities: dict[str, ParityData] = {}
    per_split = {}
    for name in SPLITS:
        indices = getattr(split, name)
        if len(indices) == 0:
            continue
        parity = parity_data([atoms_list[i] for i in indices], calculator)  # type: ignore[arg-type]
        parities[f"{prefix}_{name}"] = parity
        per_split[name] = summarise(parity)
    return DatasetMetrics(**per_split), parities


def train_mace(
    atoms_list: Sequence[Atoms],
    settings: MaceTrainingSettings,
    work_dir: str | os.PathLike[str],
    foundation: FoundationModel | None = None,
    timeout_s: float | None = None,
) -> MaceTrainingResult:
    """Train (or fine-tune) a MACE model on labelled configurations and evaluate it.

    Parameters
    ----------
    atoms_list
        Labelled configurations (``REF_energy`` eV, ``REF_forces`` eV/Å, optional
        ``REF_stress`` eV/Å^3), e.g. from :func:`thermogap.labels.export.label_docs_to_atoms`.
    settings
        Architecture, loss weights, split, epochs, device, dtype, seed.
    work_dir
        Empty or new directory for the data files, logs and model.
    foundation
        Foundation model to fine-tune (see
        :func:`thermogap.mlip.foundation.resolve_foundation_model`);
        ``None`` trains from scratch.
    timeout_s
        Kill the training process after this many seconds (``None``: no limit).

    Returns
    -------
    MaceTrainingResult
        Model file and SHA-256, log, split, metrics (and the foundation's) and parity data.

    Raises
    ------
    InputError
        If there are too few or unlabelled configurations.
    CalculationError
        If mace-torch fails or times out.
    """
    if not atoms_list:
        raise InputError("no labelled configurations to train on")
    missing = [label_id(a) for a in atoms_list if ENERGY_KEY not in a.info]
    if missing:
        raise InputError(f"configurations without {ENERGY_KEY}: {', '.join(missing[:5])}")
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    split = split_dataset(
        len(atoms_list), settings.valid_fraction, settings.test_fraction, settings.seed
    )
    files = _write_splits(atoms_list, split, work)
    with_stress = all(STRESS_KEY in a.info for a in atoms_list)
    train_foundation = _foundation_for_training(foundation, work)
    args = build_run_train_args(
        settings, files, work, train_foundation, with_stress, len(split.train)
    )

    start = time.perf_counter()
    output = _run_child(args, work, settings.num_threads, timeout_s)
    elapsed = time.perf_counter() - start
    pickled_path = work / f"{RUN_NAME}.model"
    if not pickled_path.is_file():
        raise CalculationError(f"mace run_train finished but wrote no {pickled_path}")
    # our own child process wrote it: trusted once, then only the safe archive is used
    model_path = work / f"{RUN_NAME}.safe.pt"
    convert_mace_model_file(pickled_path, model_path, trust_model=True)
    logs = sorted((work / "logs").glob("*.log"))
    log_text = "\n".join(p.read_text() for p in logs if "debug" not in p.name) + output

    sha256 = file_sha256(model_path)
    calc = load_mace_calculator(model_path, sha256, settings.device, settings.default_dtype)
    metrics, parity = _evaluate(atoms_list, split, calc, "trained")
    foundation_metrics = None
    if foundation is not None:
        base = load_mace_calculator(
            foundation.path,
            foundation.sha256,
            settings.device,
            settings.default_dtype,
            trust_model=True,  # a file the user provides (or a safe archive)
        )
        foundation_metrics, foundation_parity = _evaluate(atoms_list, split, base, "foundation")
        parity |= foundation_parity
    return MaceTrainingResult(
        model_path=model_path,
        sha256=sha256,
        log_text=log_text,
        split=split,
        metrics=metrics,
        foundation_metrics=foundation_metrics,
        parity=parity,
        training_time_s=elapsed,
        pickled_model_path=pickled_path,
    )


def _foundation_for_training(
    foundation: FoundationModel | None, work: Path
) -> FoundationModel | None:
    """Give ``mace_run_train`` a pickled module: it cannot read thermogap's safe archives.

    A safe archive (e.g. a model taken from the results database) is rebuilt without running
    code and saved as a module in the private work directory; any other file is the user's own
    foundation model and is passed on as it is.
    """
    if foundation is None:
        return None
    data = foundation.path.read_bytes()
    if not is_safe_mace_archive(data):
        return foundation
    import dataclasses

    import torch

    module_path = work / f"foundation-{foundation.sha256[:16]}.model"
    torch.save(load_mace_model_bytes(data), module_path)
    return dataclasses.replace(foundation, path=module_path)
