import pytest

from mmei.platform.labels import IGNORE_INDEX, LabelSpaces


def test_default_label_spaces_match_the_design():
    labels = LabelSpaces()
    assert labels.sizes() == {"emotion": 7, "sentiment": 3, "intent": 8}
    assert labels.emotion == ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def test_encode_decode_round_trip_and_unlabelled():
    labels = LabelSpaces()
    assert labels.decode("intent", labels.encode("intent", "learn")) == "learn"
    assert labels.encode("emotion", None) == IGNORE_INDEX


def test_unknown_label_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'bliss'"):
        LabelSpaces().encode("emotion", "bliss")


def test_duplicate_labels_are_refused():
    with pytest.raises(ValueError, match="unique"):
        LabelSpaces(emotion=["joy", "joy"])
