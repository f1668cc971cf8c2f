import pytest

from thermogap.errors import MissingModelError
from thermogap.mlip.foundation import resolve_foundation_model


def test_found_by_name_in_model_dir_and_by_path(tmp_path):
    path = tmp_path / "mace-mpa-0-medium.model"
    path.write_bytes(b"not really a model")
    by_name = resolve_foundation_model("mace-mpa-0-medium", model_dir=tmp_path)
    by_path = resolve_foundation_model(str(path))
    assert by_name.path == by_path.path == path.resolve()
    assert by_name.name == "mace-mpa-0-medium"
    import hashlib

    assert by_name.sha256 == hashlib.sha256(b"not really a model").hexdigest()


def test_missing_file_names_what_to_place_where(tmp_path):
    with pytest.raises(MissingModelError) as info:
        resolve_foundation_model("mace-mpa-0-medium", model_dir=tmp_path / "models")
    message = str(info.value)
    assert "mace-mpa-0-medium.model" in message and str(tmp_path / "models") in message
    assert "THERMOGAP_MODEL_DIR" in message
