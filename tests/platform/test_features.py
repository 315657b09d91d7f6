import numpy as np
import pytest

from mmei.platform.config import load_config
from mmei.platform.features import (FeatureError, decode_audio, encode_wav, featurize_batch, frame_indices,
                                    load_tokenizer, log_mel, mel_filterbank)

FEATURES = load_config("tiny").features


def test_shapes_dtypes_and_masks(corpus_rows):
    rows = corpus_rows[:8]
    arrays = featurize_batch(rows, FEATURES)
    f = FEATURES
    assert arrays["input_ids"].shape == (8, f.text_max_tokens) and arrays["input_ids"].dtype == np.int64
    assert arrays["audio"].shape == (8, f.audio_max_steps, f.n_mels) and arrays["audio"].dtype == np.float32
    assert arrays["frames"].shape == (8, f.max_frames, 3, f.image_size, f.image_size)
    for i, row in enumerate(rows):
        assert arrays["present"][i].tolist() == [row["text"] is not None, row["audio"] is not None,
                                                 row["frames"] is not None]
        assert arrays["attention_mask"][i].any() == (row["text"] is not None)
        assert arrays["audio_mask"][i].any() == (row["audio"] is not None)
        assert arrays["frame_mask"][i].sum() == min(len(row["frames"] or []), f.max_frames)
    assert np.abs(arrays["frames"]).max() <= 1.0


def test_featurization_is_deterministic(corpus_rows):
    first = featurize_batch(corpus_rows[:6], FEATURES)
    load_tokenizer.cache_clear()
    mel_filterbank.cache_clear()
    second = featurize_batch(corpus_rows[:6], FEATURES)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


def test_missing_modalities_are_masks_not_zero_inputs():
    arrays = featurize_batch([{"text": "   ", "audio": None, "frames": []}], FEATURES)
    assert arrays["present"].tolist() == [[False, False, False]]
    assert not arrays["attention_mask"].any() and not arrays["audio_mask"].any() and not arrays["frame_mask"].any()


def test_audio_is_resampled_and_cut_at_the_limit():
    rate = 8000
    wav = encode_wav(np.zeros(rate * 10, dtype=np.float32), rate)
    assert decode_audio(wav, 16000).size == 16000 * 10
    arrays = featurize_batch([{"audio": wav}], FEATURES)
    assert arrays["audio_mask"].all()  # 10 s fill the 2 s window; no crash, no overflow


def test_log_mel_peaks_at_the_tone():
    t = np.arange(16000) / 16000
    mel = log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32), FEATURES)
    bank = mel_filterbank(16000, 512, FEATURES.n_mels)
    centre_hz = (bank.argmax(axis=0) * 16000 / 512)[mel[10:-10].mean(axis=0).argmax()]
    assert abs(centre_hz - 1000) < 150


@pytest.mark.parametrize("payload", [b"RIFF0000WAVEnot audio", b"", b"\x00" * 100])
def test_bad_audio_is_a_feature_error(payload):
    with pytest.raises(FeatureError, match="audio") as refused:
        featurize_batch([{"audio": payload or b"x"}], FEATURES)
    assert " at 0x" not in str(refused.value) and "<_io" not in str(refused.value)  # it reaches 422 bodies


def test_an_undecodable_image_names_the_problem_without_object_reprs():
    with pytest.raises(FeatureError, match="image is not decodable") as refused:
        featurize_batch([{"frames": [b"not an image at all"]}], FEATURES)
    assert " at 0x" not in str(refused.value) and "<_io" not in str(refused.value)


def test_truncated_image_is_a_feature_error(corpus_rows):
    png = next(r["frames"][0] for r in corpus_rows if r["frames"])
    with pytest.raises(FeatureError, match="image"):
        featurize_batch([{"frames": [png[: len(png) // 2]]}], FEATURES)


def test_long_clips_keep_evenly_spaced_frames():
    assert frame_indices(3, 4) == [0, 1, 2]
    assert frame_indices(7, 4) == [0, 2, 4, 6]


def test_fast_tokenizer_matches_transformers():
    from transformers import AutoTokenizer

    from mmei.platform.features import text_arrays
    from mmei.platform.text_weights import default_text_model_dir

    texts = ["Whoa, I did NOT expect this AI-made comic! Let me remix it, with émojis 🎉 and far too many words",
             "ok", "Ich möchte lernen, wie das gemacht wurde"]
    ids, mask = text_arrays(texts, FEATURES)
    reference = AutoTokenizer.from_pretrained(str(default_text_model_dir()), local_files_only=True)(
        texts, padding="max_length", truncation=True, max_length=FEATURES.text_max_tokens)
    assert ids.tolist() == reference["input_ids"] and mask.tolist() == reference["attention_mask"]


def test_an_empty_batch_has_the_right_shapes():
    arrays = featurize_batch([], FEATURES)
    full = featurize_batch([{"text": "hi"}], FEATURES)
    for key, values in arrays.items():
        assert values.shape == (0, *full[key].shape[1:]) and values.dtype == full[key].dtype, key


def test_a_48khz_chirp_resamples_like_the_library_and_does_not_alias():
    """Real recordings come at 48 kHz: downsampling must filter, not fold, the top band."""
    import io

    import soundfile
    from scipy.signal import resample_poly

    rate, seconds = 48000, 1.0
    t = np.arange(int(rate * seconds)) / rate
    chirp = (0.5 * np.sin(2 * np.pi * (200 * t + (20000 - 200) / (2 * seconds) * t ** 2))).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, chirp, rate, format="WAV", subtype="FLOAT")
    ours = decode_audio(buffer.getvalue(), 16000)
    np.testing.assert_allclose(ours, resample_poly(chirp, 1, 3), atol=1e-6)
    # a 12 kHz tone is above the new 8 kHz Nyquist: filtered out, where interpolation folds it to 4 kHz
    tone = (0.5 * np.sin(2 * np.pi * 12000 * t)).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, tone, rate, format="WAV", subtype="FLOAT")
    folded = np.interp(np.arange(16000) / 16000, t, tone)
    assert np.sqrt(np.mean(decode_audio(buffer.getvalue(), 16000) ** 2)) < 0.01 < np.sqrt(np.mean(folded ** 2))


def test_our_log_mel_is_transformers_audio_utils_with_the_same_settings():
    """Ours is kept (no transformers import in every Ray actor) because it equals the library."""
    from transformers import audio_utils

    f = FEATURES
    win, hop = f.win_samples, f.hop_samples
    n_fft = 1 << (win - 1).bit_length()
    reference_bank = audio_utils.mel_filter_bank(n_fft // 2 + 1, f.n_mels, 0.0, f.sample_rate / 2, f.sample_rate,
                                                 norm=None, mel_scale="htk")
    np.testing.assert_allclose(mel_filterbank(f.sample_rate, n_fft, f.n_mels), reference_bank, atol=1e-6)
    t = np.arange(f.sample_rate) / f.sample_rate
    wave = (0.3 * np.sin(2 * np.pi * (200 + 2000 * t) * t)).astype(np.float32)
    power = audio_utils.spectrogram(wave, np.hanning(win).astype(np.float32), frame_length=win, hop_length=hop,
                                    fft_length=n_fft, power=2.0, center=True, pad_mode="constant",
                                    mel_filters=reference_bank, mel_floor=1e-30)
    from mmei.platform.features import LOG_MEL_OFFSET, LOG_MEL_SCALE

    reference = (np.log(power.T + 1e-6) - LOG_MEL_OFFSET) / LOG_MEL_SCALE
    ours = log_mel(wave, f)
    np.testing.assert_allclose(ours, reference[: len(ours)], atol=1e-4)


def test_compact_rows_store_only_what_exists_and_pad_back_exactly(corpus_rows):
    from mmei.platform.features import compact_rows, pad_batch

    rows = corpus_rows[:10]
    compact = compact_rows(rows, FEATURES)
    for row, item in zip(rows, compact):
        assert (item["audio"] is None) == (row["audio"] is None)
        assert (item["frames"] is None) == (row["frames"] is None)
        if item["frames"] is not None:
            assert item["frames"].dtype == np.uint8 and len(item["frames"]) == min(len(row["frames"]), FEATURES.max_frames)
    padded, direct = pad_batch(compact, FEATURES), featurize_batch(rows, FEATURES)
    for key in direct:
        np.testing.assert_array_equal(padded[key], direct[key], err_msg=key)
