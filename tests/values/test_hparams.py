"""HParams: validation names the field and the allowed range; values round-trip."""

import json

import pytest

import tunewidgets as tw


def test_defaults_are_valid_and_round_trip_through_json():
    hp = tw.HParams(lr=3e-3, layers=3, units=64, dropout=0.2, optimizer="rmsprop", schedule="cosine")
    again = tw.HParams.from_json(hp.to_json())
    assert again == hp
    assert json.loads(hp.to_json())["optimizer"] == "rmsprop"
    assert tw.HParams.from_dict(hp.to_dict()) == hp


def test_replace_validates_and_leaves_the_original_unchanged():
    hp = tw.HParams()
    hp2 = hp.replace(lr=0.1, batch_size=32)
    assert (hp.lr, hp2.lr, hp2.batch_size) == (1e-3, 0.1, 32)
    with pytest.raises(ValueError, match="dropout"):
        hp.replace(dropout=1.0)
    with pytest.raises(AttributeError):
        hp.lr = 1.0  # immutable


@pytest.mark.parametrize("field, value, words", [
    ("lr", 0, "lr=0 is not allowed: must be a number > 0"),
    ("lr", -1e-3, "lr=-0.001"),
    ("batch_size", 0, "batch_size=0 is not allowed: must be an integer >= 1"),
    ("dropout", 1.0, "dropout=1.0 is not allowed: must be a number >= 0 and < 1"),
    ("dropout", -0.1, "dropout"),
    ("layers", 0, "layers=0 is not allowed: must be an integer >= 1"),
    ("optimizer", "adagrad", "optimizer='adagrad' is not allowed: must be one of 'sgd', 'momentum', 'adam'"),
    ("schedule", "linear", "schedule='linear' is not allowed: must be one of 'constant'"),
    ("model", "transformer", "model='transformer'"),
    ("epochs", 2.5, "epochs=2.5"),
    ("lr", float("nan"), "lr=nan"),
    ("device", "tpu", "device='tpu'"),
    ("amp", "yes", "amp='yes'"),
])
def test_invalid_values_name_the_field_and_what_is_allowed(field, value, words):
    with pytest.raises(ValueError) as info:
        tw.HParams(**{field: value})
    assert words in str(info.value)


def test_unknown_fields_are_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="unknown hyperparameter.*learning_rate"):
        tw.HParams.from_dict({"learning_rate": 0.1})


def test_callable_model_is_kept_but_not_written_as_json():
    def my_net(hp, data):
        import torch
        return torch.nn.Linear(64, 10)

    hp = tw.HParams(model=my_net)
    assert hp.model_name == "my_net"
    with pytest.raises(ValueError, match="callable"):
        hp.to_json()


def test_field_rules_describe_ranges_for_widgets():
    assert tw.FIELDS["lr"].log and tw.FIELDS["lr"].low == 0
    assert "adamw" in tw.FIELDS["optimizer"].choices
