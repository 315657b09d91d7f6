"""The classical floors' features: MFCCs are an orthonormal DCT of the log-mel, HOG
sees a real face's edges. (End to end on real data: tests/cluster/test_bench_media.py.)"""
from pathlib import Path

import numpy as np

from mmei.pipelines.media_baseline import dct_matrix, hog_vector, mfcc_statistics
from mmei.platform.features import decode_image, image_pixels

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_the_dct_is_orthonormal_and_a_flat_spectrum_is_all_c0():
    basis = dct_matrix(64, 64)
    assert np.allclose(basis.T @ basis, np.eye(64), atol=1e-10)
    flat = np.full((5, 64), 2.0) @ dct_matrix(64, 40)
    assert np.allclose(flat[:, 1:], 0, atol=1e-10) and np.allclose(flat[:, 0], 2.0 * np.sqrt(64))


def test_mfcc_statistics_are_mean_and_std_of_coefficients_and_deltas():
    rng = np.random.default_rng(0)
    features = mfcc_statistics(rng.normal(size=(300, 64)))
    assert features.shape == (160,) and np.isfinite(features).all()
    still = mfcc_statistics(np.tile(rng.normal(size=(1, 64)), (50, 1)))
    assert np.allclose(still[40:], 0, atol=1e-9)  # a steady sound: no spread, no change


def test_hog_of_a_real_face_differs_from_its_mirror_and_ignores_brightness():
    face = next((SHARED / "fer2013-subset" / "test" / "happy").glob("*.jpg")).read_bytes()
    pixels = image_pixels(decode_image(face), 48)
    vector = hog_vector(pixels)
    assert vector.shape == (900,) and vector.max() > 0  # 5x5 blocks of 2x2 cells x 9 orientations
    assert not np.allclose(vector, hog_vector(pixels[:, :, ::-1].copy()))
    brighter = np.clip(pixels.astype(np.int32) // 2 + 60, 0, 255).astype(np.uint8)
    assert np.corrcoef(vector, hog_vector(brighter))[0, 1] > 0.95
