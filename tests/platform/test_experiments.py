"""A/B assignment by a stable hash of the user id."""
import pytest

from mmei.platform.experiments import Variant, assign_variant, bucket, check_variants

ARMS = [Variant("control", 0.5), Variant("treatment", 0.5, strategy="regulating")]


def test_assignment_is_stable_and_follows_the_fractions():
    users = [f"user-{i}" for i in range(4000)]
    first = [assign_variant(u, ARMS).name for u in users]
    assert first == [assign_variant(u, ARMS).name for u in users]
    share = first.count("treatment") / len(users)
    assert share == pytest.approx(0.5, abs=0.03)  # binomial sd is 0.008
    skewed = [assign_variant(u, [Variant("a", 0.9), Variant("b", 0.1)]).name for u in users]
    assert skewed.count("b") / len(users) == pytest.approx(0.1, abs=0.02)


def test_a_new_salt_reshuffles_users():
    users = [f"user-{i}" for i in range(1000)]
    same = sum(assign_variant(u, ARMS).name == assign_variant(u, ARMS, salt="exp-2").name for u in users)
    assert 400 < same < 600
    assert all(0.0 <= bucket(u) < 1.0 for u in users)


def test_bad_variant_sets_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        check_variants([Variant("a", 0.5), Variant("b", 0.3)])
    with pytest.raises(ValueError, match="unique"):
        check_variants([Variant("a", 0.5), Variant("a", 0.5)])
    with pytest.raises(ValueError, match="strategy"):
        Variant("a", 1.0, strategy="cheerful")
