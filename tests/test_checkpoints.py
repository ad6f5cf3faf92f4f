"""Checkpoints: ``model.save("run.kg")`` / ``nn.load_model`` (config JSON + weights + optimizer state in one
safetensors file, no pickle), ``ModelCheckpoint``, and a run stopped after epoch k and resumed with
``fit(initial_epoch=k)`` ending bit-identical to the uninterrupted run."""
from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad import nn, optim

rng = np.random.default_rng(1)
X = rng.standard_normal((120, 6)).astype(np.float32)
Y = (X[:, :1] - 2 * X[:, 1:2] + 0.3 * np.sin(3 * X[:, 2:3])).astype(np.float32)


def make_model(dropout_seed=4):
    """Adam with a schedule, BatchNorm buffers, a seeded Dropout and an unseeded one (it draws from
    kg.random's generator): every kind of state a resumed run must get back."""
    model = nn.Sequential([nn.Dense(16, activation="relu", input_shape=(6,)), nn.BatchNorm1d(16),
                           nn.Dropout(0.2, seed=dropout_seed), nn.Dense(8, activation="relu"), nn.Dropout(0.1),
                           nn.Dense(1)])
    model.compile(optim.Adam(lr=optim.cosine_lr(5e-3, 80), betas=(0.8, 0.99)), "mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("seed", [7, None], ids=["fit(seed=7)", "fit(seed=None)+manual_seed"])
def test_resumed_run_is_bit_identical_to_uninterrupted(tmp_path, seed):
    kg.random.manual_seed(0)
    full = make_model()
    h_full = full.fit(X, Y, epochs=5, batch_size=16, validation_split=0.2, seed=seed, verbose=0)

    kg.random.manual_seed(0)
    first = make_model()
    path = tmp_path / "ckpt-{epoch}.kg"
    first.fit(X, Y, epochs=2, batch_size=16, validation_split=0.2, seed=seed, verbose=0,
              callbacks=[nn.ModelCheckpoint(str(path), save_best_only=False)])
    kg.random.manual_seed(12345)                   # a new process: the generator is somewhere else
    resumed = nn.load_model(tmp_path / "ckpt-2.kg")
    h_rest = resumed.fit(X, Y, epochs=5, initial_epoch=2, batch_size=16, validation_split=0.2, seed=seed, verbose=0)

    assert h_rest.epoch == [2, 3, 4]
    for k in h_full.history:
        assert h_rest.history[k] == h_full.history[k][2:], k
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert resumed.optimizer.steps == full.optimizer.steps


def _safetensors_layout(path):
    """Parse the file as safetensors: 8-byte header length, JSON header, then the tensor bytes, which
    must account for the rest of the file exactly."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = len(raw) - 8 - n
    spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    covered = sum(b - a for a, b in spans)
    return header, body, covered


def test_checkpoint_is_plain_safetensors_and_loads_without_pickle(tmp_path, monkeypatch):
    model = make_model()
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0, seed=0)
    path = tmp_path / "run.kg"
    model.save(path)
    header, body, covered = _safetensors_layout(path)
    assert body == covered                                   # nothing but tensors after the JSON header
    meta = json.loads(header["__metadata__"]["kinkgrad"])
    assert meta["model"]["class_name"] == "Sequential" and meta["compile"]["optimizer"]["class_name"] == "Adam"
    assert {k.split("/")[0] for k in header if k != "__metadata__"} == {"weights", "optimizer"}
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(path.read_bytes())

    def refuse(*a, **k):
        raise AssertionError("pickle used while loading")
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    loaded = nn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X).data, model.predict(X).data)
    saved, restored = model.optimizer.state_dict(), loaded.optimizer.state_dict()
    assert saved["steps"] == restored["steps"] and saved["param_groups"] == restored["param_groups"]
    for i, st in saved["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(restored["state"][i][k], v, err_msg=f"{i}/{k}")


def test_two_layer_model_save_load_into_fresh_model_predicts_identically(tmp_path):
    model = nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,)), nn.Dense(1)])
    Xb = rng.standard_normal((50, 10)).astype(np.float32)
    model.compile("adam", "mse").fit(Xb, Xb[:, :1] * 3, epochs=3, verbose=0, seed=0)
    model.save_weights(tmp_path / "w.safetensors")
    fresh = nn.Sequential([nn.Dense(32, activation="relu", input_shape=(10,)), nn.Dense(1)])
    fresh.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(fresh.predict(Xb).data, model.predict(Xb).data)
    model.save(tmp_path / "m.kg")
    np.testing.assert_array_equal(nn.load_model(tmp_path / "m.kg").predict(Xb).data, model.predict(Xb).data)
    fresh.load_weights(tmp_path / "m.kg")                   # the weights of a full checkpoint load too


def test_model_checkpoint_save_best_only_writes_only_improving_epochs(tmp_path):
    model = make_model()
    h = model.fit(X, Y, epochs=6, batch_size=16, validation_split=0.25, seed=0, verbose=0,
                  callbacks=[nn.ModelCheckpoint(str(tmp_path / "best-{epoch:02d}-{val_loss:.4f}.kg"),
                                                monitor="val_loss", save_best_only=True)])
    val = h.history["val_loss"]
    improving = [e for e in range(6) if val[e] < min(val[:e], default=np.inf)]
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [f"best-{e + 1:02d}-{val[e]:.4f}.kg" for e in improving]
    best = nn.load_model(tmp_path / written[-1])
    assert best.evaluate(X[-30:], Y[-30:])["loss"] == pytest.approx(min(val), rel=1e-6)


def test_weights_only_checkpoints_and_load_model_refusal(tmp_path):
    model = make_model()
    model.fit(X, Y, epochs=2, batch_size=32, verbose=0, seed=0,
              callbacks=[nn.ModelCheckpoint(str(tmp_path / "w{epoch}.safetensors"), monitor="loss",
                                            save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w1.safetensors", "w2.safetensors"]
    with pytest.raises(ValueError, match="holds weights only.*load_weights"):
        nn.load_model(tmp_path / "w2.safetensors")


class Scale(nn.Layer):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor


def test_custom_layers_load_by_class_name_or_custom_objects(tmp_path):
    model = nn.Sequential([nn.Dense(4, input_shape=(6,), seed=0), Scale(2.5), nn.Dense(1, seed=1)])
    model.save(tmp_path / "c.kg")                           # not compiled: architecture and weights only
    loaded = nn.load_model(tmp_path / "c.kg")
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 2.5
    assert not hasattr(loaded, "optimizer")
    np.testing.assert_array_equal(loaded.predict(X).data, model.predict(X).data)



def test_ambiguous_custom_layer_name_needs_custom_objects(tmp_path, monkeypatch):
    first = type("Widget", (Scale,), {"__module__": "pkg_a"})
    second = type("Widget", (Scale,), {"__module__": "pkg_b"})
    nn.Sequential([nn.Dense(2, input_shape=(6,)), first(3.0)]).save(tmp_path / "w.kg")
    monkeypatch.setattr(first, "__module__", "pkg_moved")   # the saved module no longer names either class
    with pytest.raises(ValueError, match=r"2 classes of that name.*custom_objects=\{'Widget'"):
        nn.load_model(tmp_path / "w.kg")
    assert type(nn.load_model(tmp_path / "w.kg", custom_objects={"Widget": second}).layers[1]) is second


def test_load_model_compile_false_and_include_optimizer_false(tmp_path):
    model = make_model()
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0, seed=0)
    model.save(tmp_path / "a.kg", include_optimizer=False)
    fresh = nn.load_model(tmp_path / "a.kg")
    assert fresh.optimizer.steps == 0 and fresh.optimizer.state == {}
    assert not hasattr(nn.load_model(tmp_path / "a.kg", compile=False), "optimizer")


def test_function_activation_is_refused_by_save_not_saved_as_linear(tmp_path):
    model = nn.Sequential([nn.Dense(2, activation=lambda x: x * 2, input_shape=(3,))])
    model.save_weights(tmp_path / "w.safetensors")           # weights alone are fine
    with pytest.raises(TypeError, match="cannot be written as JSON.*by name"):
        model.save(tmp_path / "m.kg")
    assert not (tmp_path / "m.kg").exists()
