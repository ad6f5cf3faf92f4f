"""Models complete when declared, and everything a Keras or PyTorch user inspects or copies:
building, summary, count_params, get/set_weights, state_dict, get_config/from_config for every built-in
layer (through JSON), pickling and deepcopy."""
from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad import nn, optim

rng = np.random.default_rng(0)
X10 = rng.standard_normal((64, 10)).astype(np.float32)
Y1 = (X10[:, :1] * 2 - X10[:, 1:2]).astype(np.float32)


def two_layer(**kw):
    """The model of the report: only the first layer is given an input shape."""
    return nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,), seed=0, **kw), nn.Dense(1, seed=1)])


# -- complete when declared ---------------------------------------------------------------------------------
def test_input_shape_on_first_layer_builds_every_layer():
    model = two_layer()
    assert model.built
    assert [p.shape for p in model.parameters()] == [(10, 32), (32,), (32, 1), (1,)]
    assert [n for n, _ in model.named_parameters()] == ["layers.0.kernel", "layers.0.bias", "layers.1.kernel",
                                                        "layers.1.bias"]


def test_hand_written_loop_trains_every_parameter():
    model = two_layer()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    before = [p.data.copy() for p in model.parameters()]
    for _ in range(20):
        opt.zero_grad()
        kg.losses.mse(Y1, model(X10)).backward()
        opt.step()
    changed = [not np.array_equal(b, p.data) for b, p in zip(before, model.parameters())]
    assert changed == [True, True, True, True]


@pytest.mark.parametrize("first", [nn.Input((10,)), nn.Input(10)], ids=["Input(tuple)", "Input(int)"])
def test_nn_input_first_builds_a_lazy_stack(first):
    model = nn.Sequential([first, nn.Dense(8, activation="relu"), nn.Dense(3)])
    assert model.built and model.count_params() == 10 * 8 + 8 + 8 * 3 + 3


def test_build_and_add_complete_a_lazy_model():
    model = nn.Sequential([nn.Dense(8, seed=0), nn.Dense(2, seed=1)])
    assert not model.built
    assert model.build((10,)) is model and model.built
    assert model.build_spec == {"shape": [10], "dtype": "float32"}
    model.add(nn.Dense(4))                       # a known input shape builds the new layer at once
    assert model.built and model(X10).shape == (64, 4)
    assert nn.Sequential([nn.Dense(3)]).build((None, 5)).layers[0].kernel.shape == (5, 3)   # Keras' batch axis


@pytest.mark.parametrize("call", ["parameters", "named_parameters", "state_dict", "get_weights", "count_params",
                                  "summary"])
def test_unbuilt_model_refuses_with_the_ways_to_build_it(call):
    model = nn.Sequential([nn.Dense(8), nn.Dense(1)])
    with pytest.raises(RuntimeError, match=r"not built.*input_shape=.*model\.build\(input_shape\)"):
        getattr(model, call)()


def test_first_call_builds_and_is_recorded():
    model = nn.Sequential([nn.Dense(4, seed=0), nn.Dense(1, seed=1)])
    model(X10[:2])
    assert model.built and model.build_spec["shape"] == [10]


def test_sequential_names_layers_like_keras():
    model = nn.Sequential([nn.Input((4,)), nn.Dense(3), nn.ReLU(), nn.Dense(2), nn.Dense(1, seed=0)])
    assert [m.name for m in model.layers] == ["input", "dense", "relu", "dense_1", "dense_2"]
    named = nn.Dense(2, input_shape=(4,))
    named.name = "head"
    assert nn.Sequential([named]).layers[0].name == "head"


# -- summary / count_params / weights -------------------------------------------------------------------------
def test_summary_lists_layers_shapes_and_counts():
    lines = []
    model = nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,)), nn.BatchNorm1d(32), nn.Dense(1)])
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert 'Model: "sequential"' in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith(("dense", "batchnorm"))}
    assert rows["dense"][2:] == ["(None,", "32)", "352"]          # 10 * 32 + 32
    assert rows["batchnorm1d"][2:] == ["(None,", "32)", "128"]    # gamma, beta, running mean, running var
    assert rows["dense_1"][2:] == ["(None,", "1)", "33"]
    assert "Total params: 513" in text and "Trainable params: 449" in text and "Non-trainable params: 64" in text
    assert model.count_params() == 513


def test_summary_of_a_conv_net_shows_output_shapes():
    lines = []
    model = nn.Sequential([nn.Input((1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Flatten(), nn.Dense(10)])
    model.summary(print_fn=lines.append)
    assert "(None, 4, 8, 8)" in lines[0] and "(None, 4, 4, 4)" in lines[0] and "(None, 64)" in lines[0]
    assert "(None, 10)" in lines[0] and "input" not in lines[0].split("=")[-1]


def test_get_set_weights_round_trip_and_checks():
    a, b = two_layer(), nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,), seed=5), nn.Dense(1)])
    weights = a.get_weights()
    assert [w.shape for w in weights] == [(10, 32), (32,), (32, 1), (1,)]
    weights[0][0, 0] = 123.0                                    # copies: the model is untouched
    assert a.layers[0].kernel.data[0, 0] != 123.0
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict(X10).data, b.predict(X10).data)
    with pytest.raises(ValueError, match="has 4 weight arrays"):
        b.set_weights(a.get_weights()[:3])
    with pytest.raises(ValueError, match=r"layers.0.kernel: saved shape \(32, 10\), model shape \(10, 32\)"):
        b.set_weights([w.T for w in a.get_weights()])


def test_state_dict_order_and_names_follow_pytorch():
    model = nn.Sequential([nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4), nn.Linear(4, 2, seed=1)])
    assert list(model.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                                        "layers.1.running_mean", "layers.1.running_var", "layers.2.weight",
                                        "layers.2.bias"]
    other = nn.Sequential([nn.Linear(3, 4, seed=7), nn.BatchNorm1d(4), nn.Linear(4, 2, seed=8)])
    other.load_state_dict(model.state_dict())
    x = X10[:5, :3]
    np.testing.assert_array_equal(model.eval()(x).data, other.eval()(x).data)


# -- config round trips for every built-in layer ---------------------------------------------------------------
def _every_layer():
    """One instance of every built-in layer class, with non-default arguments where it has them."""
    reg = nn.regularizers
    return [
        nn.Input((3, None), dtype="float64"),
        nn.Dense(4, activation="relu", input_shape=(3,), seed=3, kernel_regularizer=reg.l2(0.1),
                 bias_regularizer="l1", activity_regularizer=reg.l1_l2(0.01, 0.02), dtype="float64"),
        nn.Linear(3, 4, bias=False, seed=2, kernel_regularizer="l2"),
        nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), seed=4, bias_regularizer="l1"),
        nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=2, seed=5),
        nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.3, seed=4),
        nn.BatchNorm1d(5, eps=1e-3, momentum=0.2), nn.BatchNorm2d(3, affine=False),
        nn.LayerNorm((2, 3), eps=1e-6, dtype="float64"), nn.Embedding(7, 2, seed=6),
        nn.Activation("gelu"), nn.LeakyReLU(negative_slope=0.3), nn.ELU(alpha=0.5), nn.SELU(), nn.CELU(alpha=2.0),
        nn.GELU(approximate="tanh"), nn.SiLU(), nn.Mish(), nn.Softplus(), nn.Sigmoid(), nn.Tanh(), nn.ReLU(),
        nn.ReLU6(), nn.Hardtanh(min_val=-2.0, max_val=2.0), nn.Hardswish(), nn.Hardsigmoid(), nn.Softmax(axis=1),
    ]


def test_every_builtin_layer_class_is_covered():
    covered = {type(m) for m in _every_layer()}
    builtin = {getattr(nn, n) for n in nn.__all__ if isinstance(getattr(nn, n), type)
               and issubclass(getattr(nn, n), nn.Module) and getattr(nn, n).__module__.startswith("kinkgrad.nn.")
               and n not in ("Module", "Layer", "Model", "Sequential")}
    assert builtin - covered == set()


@pytest.mark.parametrize("layer", _every_layer(), ids=lambda m: type(m).__name__)
def test_config_round_trips_through_json(layer):
    cfg = layer.get_config()
    clone = type(layer).from_config(json.loads(json.dumps(cfg)))
    assert type(clone) is type(layer)
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(cfg))
    own, other = layer.state_dict(), clone.state_dict()
    assert list(own) == list(other)
    for k in own:
        assert (other[k].shape, other[k].dtype) == (own[k].shape, own[k].dtype), k
        if getattr(layer, "seed", None) is not None:          # a seeded layer rebuilds the same weights
            np.testing.assert_array_equal(other[k], own[k], err_msg=k)


def test_sequential_config_round_trip_keeps_names_and_weights_shapes():
    model = nn.Sequential([nn.Dense(6, activation="tanh", input_shape=(4,), seed=0), nn.Dropout(0.1),
                           nn.Dense(2, seed=1)], name="net")
    cfg = json.loads(json.dumps(model.get_config()))
    clone = nn.Sequential.from_config(cfg)
    assert clone.name == "net" and [m.name for m in clone.layers] == ["dense", "dropout", "dense_1"]
    assert clone.built and [p.shape for p in clone.parameters()] == [p.shape for p in model.parameters()]
    np.testing.assert_array_equal(clone.predict(X10[:, :4]).data, model.predict(X10[:, :4]).data)   # seeded


class Scale(nn.Layer):
    """A custom layer with a constructor argument and no get_config: the default reads it back."""

    def __init__(self, factor, offset=0.0):
        super().__init__()
        self.factor, self.offset = factor, offset

    def call(self, x):
        return x * self.factor + self.offset


def test_custom_layer_default_config_reads_constructor_arguments():
    assert Scale(2.5, offset=1.0).get_config() == {"factor": 2.5, "offset": 1.0}

    class Hidden(nn.Layer):
        def __init__(self, n):
            super().__init__()
            self._n = n

    with pytest.raises(NotImplementedError, match="'n' is not stored as self.n"):
        Hidden(3).get_config()


# -- pickling and copies ---------------------------------------------------------------------------------------
def _compiled(dropout_seed=None):
    model = nn.Sequential([nn.Dense(16, activation="relu", input_shape=(10,), seed=0),
                           nn.Dropout(0.2, seed=dropout_seed), nn.Dense(1, seed=1)])
    model.compile(optim.Adam(lr=optim.cosine_lr(1e-2, 100)), kg.losses.get("huber", delta=0.5), metrics=["mae", "r2"])
    model.fit(X10, Y1, epochs=2, batch_size=16, verbose=0, seed=0)
    return model


@pytest.mark.parametrize("clone", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy], ids=["pickle", "deepcopy"])
def test_trained_model_pickles_and_deep_copies_then_trains_identically(clone):
    model = _compiled(dropout_seed=3)
    twin = clone(model)
    assert twin is not model and twin.layers[0].kernel is not model.layers[0].kernel
    np.testing.assert_array_equal(twin.predict(X10).data, model.predict(X10).data)
    ha = model.fit(X10, Y1, epochs=2, batch_size=16, verbose=0, seed=1)
    hb = twin.fit(X10, Y1, epochs=2, batch_size=16, verbose=0, seed=1)   # optimizer state and dropout rng came along
    assert ha.history == hb.history
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_every_builtin_layer_pickles():
    for layer in _every_layer():
        back = pickle.loads(pickle.dumps(layer))
        assert type(back) is type(layer) and back.get_config() == layer.get_config()


class Net(nn.Model):
    """A PyTorch-style model: layers as attributes, the computation in forward."""

    def __init__(self, hidden=8):
        super().__init__()
        self.hidden = hidden
        self.fc1 = nn.Linear(10, hidden, seed=0)
        self.blocks = [nn.Linear(hidden, hidden, seed=1), nn.BatchNorm1d(hidden)]
        self.out = nn.Dense(1, seed=2)                        # built by the first batch

    def forward(self, x):
        h = kg.relu(self.fc1(x))
        for block in self.blocks:
            h = block(h)
        return self.out(kg.relu(h))


def test_pytorch_style_model_fits_summarizes_and_round_trips(tmp_path):
    model = Net().compile("adam", "mse")
    assert not model.built
    h = model.fit(X10, Y1, epochs=2, verbose=0, seed=0, audit=True)
    assert model.built and len(model.parameters()) == 2 + 2 + 2 + 2
    lines = []
    model.summary(print_fn=lines.append)
    names = [line.split()[0] for line in lines[0].splitlines() if "(None," in line]
    assert names == ["fc1", "blocks.0", "blocks.1", "out"]          # each child once, named by its attribute
    assert set(h.kinks[0]["layers"]) <= {"net", "blocks.1", "loss"} and "net" in h.kinks[0]["layers"]
    model.save(tmp_path / "net.kg")
    loaded = nn.load_model(tmp_path / "net.kg")
    assert type(loaded) is Net and loaded.hidden == 8
    np.testing.assert_array_equal(loaded.predict(X10).data, model.predict(X10).data)
    assert sum(1 for _ in model.named_modules()) == 5                # the model, fc1, two blocks, out
