"""The replicas' device code on the CPU: the same path a GPU replica runs, minus the GPU.

Encoders and fusion move tensors to their device and back before numpy, and encode or
fuse a batch of any size in one forward pass; the @serve.batch path (what GPU replicas
use) is driven here directly with concurrent calls.
"""
import numpy as np
import pytest

from mmei.platform.features import FeatureError
from mmei.serving.encoders import AudioEncoder, TextEncoder
from mmei.serving.fusion import Fusion


@pytest.fixture(scope="module")
def replicas(serve_bundle):
    bundle = str(serve_bundle)
    return (TextEncoder.func_or_class(bundle, max_batch_size=4, batch_wait_timeout_s=0.05),
            AudioEncoder.func_or_class(bundle), Fusion.func_or_class(bundle))


def test_a_cpu_replica_computes_on_the_cpu_and_runs_requests_unbatched(replicas):
    text, audio, fusion = replicas
    assert text.device.type == "cpu" and not text.batched and not fusion.batched
    assert next(text.encoder.parameters()).device.type == "cpu"


def test_a_batch_encodes_like_its_requests_one_by_one(replicas):
    text, _, _ = replicas
    texts = ["I love this AI song", "this is so boring", "teach me to paint"]
    together = text.encode_many(texts)
    for value, encoded in zip(texts, together):
        alone = text.encode(value)
        np.testing.assert_allclose(encoded["tokens"], alone["tokens"], atol=1e-5)
        np.testing.assert_array_equal(encoded["valid"], alone["valid"])
        np.testing.assert_allclose(encoded["vector"], alone["vector"], atol=1e-5)
        assert isinstance(encoded["tokens"], np.ndarray)


def test_a_bad_request_in_a_batch_fails_only_itself(replicas, full_row):
    _, audio, _ = replicas
    results = audio.encode_many([full_row["audio"], b"RIFF junk", full_row["audio"]])
    assert isinstance(results[1], FeatureError)
    np.testing.assert_allclose(results[0]["tokens"], results[2]["tokens"], atol=1e-6)
    with pytest.raises(FeatureError):
        audio.encode(b"RIFF junk")


def test_fusion_of_a_batch_with_missing_modalities_equals_each_alone(replicas, full_row):
    text, audio, fusion = replicas
    both = {"text": text.encode(full_row["text"]), "audio": audio.encode(full_row["audio"])}
    text_only = {"text": text.encode("just some words")}
    nothing_known = {"visual": None}
    together = fusion.recognise_many([both, text_only])
    for request, result in zip([both, text_only], together):
        alone = fusion.recognise(request)
        for head in ("emotion", "sentiment", "intent"):
            for label, p in alone[head]["probabilities"].items():
                assert result[head]["probabilities"][label] == pytest.approx(p, abs=1e-5)
    assert together[1]["fusion_weights"]["audio"] == 0.0 and together[0]["fusion_weights"]["audio"] > 0
    assert fusion.recognise(nothing_known)["fusion_weights"] == {"text": 0.0, "audio": 0.0, "visual": 0.0}


def test_the_serve_batch_path_gathers_concurrent_requests(served, serve_bundle):
    """A real Serve replica with batching forced on (GPU replicas have it by default)."""
    from ray import serve

    app = TextEncoder.options(name="BatchedTextEncoder").bind(str(serve_bundle), 4, 0.2, "always")
    handle = serve.run(app, name="batch-probe", route_prefix=None)
    try:
        responses = [handle.remote(f"request number {i}") for i in range(8)]
        results = [response.result(timeout_s=60) for response in responses]
        stats = handle.stats.remote().result(timeout_s=60)
    finally:
        serve.delete("batch-probe")
    assert stats["batched"] and max(int(size) for size in stats["batch_sizes"]) > 1, stats
    assert sum(int(size) * count for size, count in stats["batch_sizes"].items()) == 8
    np.testing.assert_allclose(results[2]["tokens"], TextEncoder.func_or_class(str(serve_bundle)).encode(
        "request number 2")["tokens"], atol=1e-5)
