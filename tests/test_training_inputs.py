"""Malformed calls to optimizers, layers, losses, fit/compile/evaluate, data loaders and weight files: each
raises an error of the right type whose message names the argument, layer, loss or file and what was
expected (never an AttributeError/IndexError from deep inside). One assertion per malformed call."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import kinkgrad as kg
from kinkgrad import losses, nn, optim
from kinkgrad.data import DataLoader

rng = np.random.default_rng(6)
X = rng.standard_normal((10, 4)).astype(np.float32)
Y = rng.standard_normal((10, 1)).astype(np.float32)
LABELS = np.array([0, 1] * 5)


def P():
    return [nn.Parameter(np.ones(3))]


def net(compiled=True, loss="mse"):
    m = nn.Sequential([nn.Dense(3, activation="relu", input_shape=(4,), seed=0), nn.Dense(1, seed=1)])
    return m.compile("sgd", loss) if compiled else m


Z23 = kg.tensor(np.zeros((2, 3)))
scce = losses.sparse_categorical_crossentropy


def bce(y_true, y_pred, **kw):
    return lambda: losses.binary_crossentropy(np.array(y_true, dtype=object if isinstance(y_true[0], str) else None),
                                              kg.tensor(y_pred, requires_grad=True), **kw)


# -- optimizers ---------------------------------------------------------------------------------------------
OPTIMIZER_CASES = [
    ("lr-str", lambda: optim.Adam(P(), lr="abc"),
     TypeError, r"Adam: lr must be a positive number or a schedule.*'abc' \(str\)"),
    ("lr-negative", lambda: optim.SGD(P(), lr=-0.1), ValueError, r"SGD: lr must be a positive finite number, got -0.1"),
    ("lr-bool", lambda: optim.SGD(P(), lr=True), TypeError, r"SGD: lr must be a positive number.*\(bool\)"),
    ("lr-nan", lambda: optim.Adam(P(), learning_rate=float("nan")), ValueError, r"Adam: lr must be a positive finite"),
    ("betas-one", lambda: optim.Adam(P(), betas=(0.9,)), TypeError, r"Adam: betas must be a pair"),
    ("betas-range", lambda: optim.Adam(P(), betas=(0.9, 1.0)), ValueError, r"Adam: beta_2 must be >= 0.0 and < 1.0"),
    ("beta_1-str", lambda: optim.Adam(P(), beta_1="x"), TypeError, r"Adam: beta_1 must be a number, got 'x'"),
    ("momentum", lambda: optim.SGD(P(), momentum=-1), ValueError, r"SGD: momentum must be >= 0"),
    ("nesterov-no-momentum", lambda: optim.SGD(P(), nesterov=True), ValueError, r"SGD: nesterov=True needs a momentum"),
    ("nesterov-str", lambda: optim.SGD(P(), momentum=0.9, nesterov="yes"),
     TypeError, r"nesterov must be True or False"),
    ("weight_decay", lambda: optim.Adam(P(), weight_decay=-0.1), ValueError, r"Adam: weight_decay must be >= 0"),
    ("eps-str", lambda: optim.Adam(P(), eps="small"), TypeError, r"Adam: eps must be a number"),
    ("rho", lambda: optim.RMSprop(P(), rho=1.5), ValueError, r"RMSprop: alpha \(Keras: rho\) must be"),
    ("clipnorm-0", lambda: optim.SGD(P(), clipnorm=0), ValueError, r"SGD: clipnorm must be > 0"),
    ("clipvalue-str", lambda: optim.SGD(P(), clipvalue="1"), TypeError, r"SGD: clipvalue must be a number"),
    ("unknown-arg", lambda: optim.SGD(P(), lr=0.1, foo=1), TypeError, r"SGD: unknown argument 'foo'"),
    ("module-as-params", lambda: optim.Adam(net(False)),
     TypeError, r"Adam: .*Sequential module; pass model.parameters"),
    ("tensor-as-params", lambda: optim.Adam(P()[0]), TypeError, r"Adam: .*one tensor; wrap it in a list"),
    ("floats-as-params", lambda: optim.Adam([1.0, 2.0]), TypeError, r"Adam: parameter 0 of a group is float"),
    ("no-grad-tensor", lambda: optim.Adam([kg.tensor([1.0])]), ValueError, r"Adam: parameter 0 .*requires grad"),
    ("duplicate", lambda: optim.Adam(P() * 2), ValueError, r"Adam: parameter 1 .*given twice"),
    ("group-without-params", lambda: optim.Adam([{"lr": 0.1}]),
     TypeError, r"Adam: a parameter group is a dict with a 'params'"),
    ("group-bad-lr", lambda: optim.Adam([{"params": P(), "lr": "x"}]),
     TypeError, r"Adam: lr must be a positive number"),
    ("unknown-name", lambda: optim.get("adamax"), ValueError, r"unknown optimizer 'adamax'; choose one of sgd, adam"),
    ("step-without-params", lambda: optim.SGD(lr=0.1).step(), RuntimeError, r"SGD.step\(\): no parameters"),
    ("lr-setter", lambda: setattr(optim.SGD(P()), "lr", "abc"), TypeError, r"SGD: lr must be a positive number"),
]

# -- layers: arguments ----------------------------------------------------------------------------------
LAYER_ARGUMENT_CASES = [
    ("Dense-units-str", lambda: nn.Dense("3"), TypeError, r"Dense: units must be a positive int, got '3' \(str\)"),
    ("Dense-units-0", lambda: nn.Dense(0), ValueError, r"Dense: units must be a positive int, got 0"),
    ("Dense-activation-typo", lambda: nn.Dense(3, activation="rleu"),
     ValueError, r"Dense: unknown activation 'rleu'; choose one of relu"),
    ("Dense-activation-int", lambda: nn.Dense(3, activation=5), TypeError, r"Dense: activation must be a name"),
    ("Dense-use_bias", lambda: nn.Dense(3, use_bias="yes"), TypeError, r"Dense: use_bias must be True or False"),
    ("Dense-initializer", lambda: nn.Dense(3, kernel_initializer="glorot"),
     ValueError, r"Dense: kernel_initializer: unknown initializer 'glorot'"),
    ("Dense-input_shape-0", lambda: nn.Dense(3, input_shape=(0,)),
     TypeError, r"Dense: input_shape must be the shape of one sample"),
    ("Dense-input_shape-str", lambda: nn.Dense(3, input_shape="10"),
     TypeError, r"Dense: input_shape must be the shape"),
    ("Dense-input_dim", lambda: nn.Dense(3, input_dim=-2), ValueError, r"Dense: input_dim must be a positive int"),
    ("Dense-dtype", lambda: nn.Dense(3, dtype="int32"), TypeError, r"Dense: dtype must be a float dtype.*int32"),
    ("Dense-seed", lambda: nn.Dense(3, seed=-1), TypeError, r"Dense: seed must be a non-negative int or None"),
    ("Dense-regularizer-name", lambda: nn.Dense(3, kernel_regularizer="l3"),
     ValueError, r"Dense: unknown kernel_regularizer 'l3'"),
    ("Dense-regularizer-type", lambda: nn.Dense(3, activity_regularizer=5),
     TypeError, r"Dense: activity_regularizer must be"),
    ("l2-negative", lambda: nn.regularizers.l2(-1.0), ValueError, r"L1L2: l2 must be >= 0.0"),
    ("Linear-out-str", lambda: nn.Linear(3, "4"), TypeError, r"Linear: out_features must be a positive int"),
    ("Conv2d-kernel-0", lambda: nn.Conv2d(1, 4, kernel_size=0),
     ValueError, r"Conv2d: kernel_size entries must be >= 1"),
    ("Conv2d-padding", lambda: nn.Conv2d(1, 4, 3, padding=-1), ValueError, r"Conv2d: padding entries must be >= 0"),
    ("Conv2d-channels-float", lambda: nn.Conv2d(1.5, 4, 3), TypeError, r"Conv2d: in_channels must be a positive int"),
    ("Conv2d-stride-triple", lambda: nn.Conv2d(1, 4, 3, stride=(1, 1, 1)),
     ValueError, r"Conv2d: stride must have 2 entries"),
    ("Conv1d-kernel-pair", lambda: nn.Conv1d(1, 4, (3, 3)), TypeError, r"Conv1d: kernel_size must be a positive int"),
    ("MaxPool2d-0", lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size entries must be >= 1"),
    ("AvgPool2d-stride", lambda: nn.AvgPool2d(2, stride="2"),
     TypeError, r"AvgPool2d: stride must be an int or a tuple"),
    ("Dropout-rate-1.5", lambda: nn.Dropout(1.5), ValueError, r"Dropout: rate must be in \[0.0, 1.0\)"),
    ("Dropout-rate-str", lambda: nn.Dropout("0.5"), TypeError, r"Dropout: rate must be a number"),
    ("BatchNorm1d-0", lambda: nn.BatchNorm1d(0), ValueError, r"BatchNorm1d: num_features must be a positive int"),
    ("BatchNorm1d-eps", lambda: nn.BatchNorm1d(4, eps=0), ValueError, r"BatchNorm1d: eps must be > 0"),
    ("BatchNorm2d-momentum", lambda: nn.BatchNorm2d(4, momentum=2),
     ValueError, r"BatchNorm2d: momentum must be in \[0.0, 1.0\]"),
    ("LayerNorm-shape", lambda: nn.LayerNorm((3, 0)),
     ValueError, r"LayerNorm: normalized_shape must be a positive int"),
    ("Embedding-0", lambda: nn.Embedding(0, 3), ValueError, r"Embedding: num_embeddings must be a positive int"),
    ("Input-0", lambda: nn.Input((0,)), TypeError, r"Input: shape must be one sample's shape"),
    ("LeakyReLU-kwarg", lambda: nn.LeakyReLU(negative_slop=0.1),
     TypeError, r"LeakyReLU: invalid arguments \{'negative_slop'"),
    ("Activation-typo", lambda: nn.Activation("gelu2"), ValueError, r"Activation: unknown activation 'gelu2'"),
    ("Sequential-item", lambda: nn.Sequential([nn.Dense(2), "relu"]),
     TypeError, r"Sequential: item 1 is str, not a layer"),
    ("Sequential-int", lambda: nn.Sequential(5), TypeError, r"Sequential: layers must be a list of layers, got int"),
    ("build-str", lambda: nn.Sequential([nn.Dense(2)]).build("abc"),
     TypeError, r"Sequential.build: input_shape must be"),
    ("layer-name", lambda: setattr(nn.Dense(2), "name", 3), TypeError, r"Dense: name must be a str"),
]


def _seq_with_input():
    return nn.Sequential([nn.Input((4,)), nn.Dense(2)])


def _bn_train(layer, shape):
    return lambda: layer.train()(np.ones(shape, np.float32))


# -- layers: wrong inputs -----------------------------------------------------------------------------------
LAYER_INPUT_CASES = [
    ("Dense-features", lambda: nn.Dense(3, input_shape=(4,))(np.zeros((2, 5), np.float32)), ValueError,
     r"Dense: input has 5 features \(shape \(2, 5\)\) but the layer was built for 4"),
    ("Sequential-names-layer", lambda: net()(np.zeros((2, 5), np.float32)),
     ValueError, r"Dense 'dense': input has 5 features"),
    ("Sequential-second-layer", lambda: nn.Sequential([nn.Dense(3, input_shape=(4,)), nn.Dense(1, input_dim=2)]),
     ValueError, r"Dense 'dense_1': input has 3 features .* built for 2"),
    ("Linear-features", lambda: nn.Linear(3, 4)(np.zeros((2, 5), np.float32)),
     ValueError, r"Linear: input has 5 features.*expected 3"),
    ("Conv2d-channels", lambda: nn.Conv2d(3, 4, 3)(np.zeros((2, 1, 8, 8), np.float32)), ValueError,
     r"Conv2d: expects input \(N, 3, H, W\), got shape \(2, 1, 8, 8\)"),
    ("Conv1d-rank", lambda: nn.Conv1d(1, 4, 3)(np.zeros((2, 8), np.float32)),
     ValueError, r"Conv1d: expects input \(N, 1, L\)"),
    ("MaxPool2d-rank", lambda: nn.MaxPool2d(2)(np.zeros((2, 4), np.float32)),
     ValueError, r"MaxPool2d: expects input \(N, C, H, W\)"),
    ("BatchNorm1d-features", lambda: nn.BatchNorm1d(4)(np.zeros((2, 5), np.float32)), ValueError,
     r"BatchNorm1d: expects 4 features on axis 1, got shape \(2, 5\)"),
    ("LayerNorm-shape", lambda: nn.LayerNorm(4)(np.zeros((2, 5), np.float32)),
     ValueError, r"LayerNorm: input shape \(2, 5\) does not end with \(4,\)"),
    ("Embedding-floats", lambda: nn.Embedding(5, 2)(np.array([[0.5]])),
     TypeError, r"Embedding: indices must be integers"),
    ("Embedding-range", lambda: nn.Embedding(5, 2)(np.array([7])),
     IndexError, r"Embedding: indices must lie in \[0, 5\)"),
    ("Dense-strings", lambda: nn.Dense(2)(np.array([["a"]])),
     TypeError, r"Dense: expects floating-point input, got dtype <U1"),
    ("Dense-ints", lambda: nn.Dense(2)(np.array([[1, 2]])),
     TypeError, r"Dense: expects floating-point input.*astype\('float32'\)"),
    ("Dense-0d", lambda: nn.Dense(2)(np.float32(1.0)), ValueError, r"Dense: expects a batch"),
    ("Input-shape", lambda: _seq_with_input()(np.zeros((2, 5), np.float32)), ValueError,
     r"Input: the model expects samples of shape \(4,\), got a batch of shape \(2, 5\)"),
    ("BatchNorm1d-batch-of-1", _bn_train(nn.BatchNorm1d(4), (1, 4)), ValueError,
     r"BatchNorm1d: Expected more than 1 value per channel when training, got input size \(1, 4\)"),
    ("BatchNorm2d-1x1", _bn_train(nn.BatchNorm2d(3), (1, 3, 1, 1)), ValueError,
     r"BatchNorm2d: Expected more than 1 value per channel when training"),
    ("fit-batch-of-1-batchnorm", lambda: nn.Sequential([nn.Dense(3, input_shape=(4,)), nn.BatchNorm1d(3)])
     .compile("sgd", "mse").fit(X[:1], Y[:1].repeat(3, 1), verbose=0),
      ValueError, r"BatchNorm1d 'batchnorm1d': Expected more than 1"),
]

# -- losses: probabilities and label dtypes ------------------------------------------------------------------
LOSS_CASES = [
    ("bce-above-1", bce([0.0, 1.0], [0.5, 1.2]), ValueError,
     r"binary_crossentropy: y_pred must be probabilities in \[0, 1\], got values in \[0.5, 1.2\].*from_logits=True"),
    ("bce-negative", bce([0.0, 1.0], [-0.1, 0.5]),
     ValueError, r"binary_crossentropy: y_pred must be probabilities.*\[-0.1, 0.5\]"),
    ("bce-labels-2", bce([0.0, 2.0], [0.5, 0.5]),
     ValueError, r"binary_crossentropy: y_true must lie in \[0, 1\].*\[0, 2\]"),
    ("bce-labels-str", bce(["a", "b"], [0.5, 0.5]),
     TypeError, r"binary_crossentropy: y_true must hold numbers, got dtype object"),
    ("mse-labels-str", lambda: losses.mse(np.array(["1", "2"]), kg.tensor([1.0, 2.0])),
     TypeError, r"mse: y_true must hold numbers, got dtype <U1"),
    ("mse-shapes", lambda: losses.mse(np.zeros((4,)), kg.tensor(np.zeros((4, 1)))),
     ValueError, r"mse: y_true has shape \(4,\) but y_pred has shape \(4, 1\)"),
    ("scce-float-labels", lambda: scce(np.array([0.5, 1.0]), Z23, from_logits=True),
     TypeError, r"sparse_categorical_crossentropy: labels must be integers"),
    ("scce-object-labels", lambda: scce(np.array([None, 1]), Z23, from_logits=True),
     TypeError, r"sparse_categorical_crossentropy: y_true must hold numbers, got dtype object"),
    ("scce-range", lambda: scce(np.array([0, 3]), Z23, from_logits=True),
     ValueError, r"sparse_categorical_crossentropy: labels must lie in \[0, 3\)"),
    ("scce-probabilities", lambda: scce(np.array([0, 1]), kg.tensor([[2.0, -1.0], [0.5, 0.5]])),
     ValueError, r"sparse_categorical_crossentropy: y_pred must be probabilities.*from_logits=True"),
    ("cce-probabilities", lambda: losses.categorical_crossentropy(np.eye(2), kg.tensor([[1.5, -0.5], [0.5, 0.5]])),
     ValueError, r"categorical_crossentropy: y_pred must be probabilities in \[0, 1\]"),
    ("kl-negative", lambda: losses.kl_div(np.full((1, 2), 0.5), kg.tensor([[-0.5, 1.5]])),
     ValueError, r"kl_div: y_pred must be probabilities"),
    ("hinge-labels-str", lambda: losses.hinge(np.array(["x"]), kg.tensor([1.0])),
     TypeError, r"hinge: y_true must hold numbers"),
    ("get-int", lambda: losses.get(5), TypeError, r"a loss is a name such as 'mse' or a function"),
    ("get-typo", lambda: losses.get("msee"), ValueError, r"unknown loss 'msee'; choose one of"),
]


def test_bce_clips_exact_zero_and_one_for_the_logarithm():
    loss = losses.binary_crossentropy(np.array([0.0, 1.0, 1.0]), kg.tensor([1.0, 0.0, 1.0], requires_grad=True))
    assert np.isfinite(loss.item())


# -- compile / fit / evaluate / predict --------------------------------------------------------------------------
def _missing_param_optimizer():
    m = net(compiled=False)
    return m.compile(optim.SGD(m.layers[0].parameters(), lr=0.1), "mse").fit(X, Y, verbose=0)


def _no_reduction_loss(t, p):
    return kg.mean((p - t) ** 2)


FIT_CASES = [
    ("epochs-str", lambda: net().fit(X, Y, epochs="3", verbose=0),
     TypeError, r"fit: epochs must be a positive int, got '3'"),
    ("epochs-0", lambda: net().fit(X, Y, epochs=0, verbose=0),
     ValueError, r"fit: epochs must be a positive int, got 0"),
    ("batch_size-float", lambda: net().fit(X, Y, batch_size=2.5, verbose=0),
     TypeError, r"fit: batch_size must be a positive int, got 2.5"),
    ("batch_size-0", lambda: net().fit(X, Y, batch_size=0, verbose=0),
     ValueError, r"fit: batch_size must be a positive int"),
    ("verbose-5", lambda: net().fit(X, Y, verbose=5), ValueError, r"fit: verbose must be 0 \(silent\), 1"),
    ("verbose-bool", lambda: net().fit(X, Y, verbose=True), ValueError, r"fit: verbose must be 0"),
    ("validation_split-1.5", lambda: net().fit(X, Y, validation_split=1.5, verbose=0),
     ValueError, r"fit: validation_split must be in \[0.0, 1.0\)"),
    ("validation_split-str", lambda: net().fit(X, Y, validation_split="0.1", verbose=0),
     TypeError, r"fit: validation_split must be a number"),
    ("validation_split-all", lambda: net().fit(X[:2], Y[:2], validation_split=0.9, verbose=0),
     ValueError, r"validation_split leaves no training"),
    ("validation_data-1", lambda: net().fit(X, Y, validation_data=(X,), verbose=0),
     TypeError, r"validation_data must be \(x, y\)"),
    ("shuffle-str", lambda: net().fit(X, Y, shuffle="yes", verbose=0),
     TypeError, r"fit: shuffle must be True or False"),
    ("audit-str", lambda: net().fit(X, Y, audit="yes", verbose=0), TypeError, r"fit: audit must be True or False"),
    ("class_weight-list", lambda: net().fit(X, LABELS, class_weight=[1, 2], verbose=0),
     TypeError, r"fit: class_weight must be a dict"),
    ("class_weight-missing", lambda: net().fit(X, LABELS, class_weight={0: 1.0}, verbose=0), ValueError,
     r"fit: class_weight has no weight for class\(es\) \[1\]"),
    ("sample_weight-length", lambda: net().fit(X, Y, sample_weight=np.ones(9), verbose=0), ValueError,
     r"fit: sample_weight must be 10 numbers \(one per sample\), got shape \(9,\)"),
    ("sample_weight-negative", lambda: net().fit(X, Y, sample_weight=-np.ones(10), verbose=0),
     ValueError, r"sample_weight must be finite and >= 0"),
    ("sample_weight-loss-without-reduction",
     lambda: net(loss=_no_reduction_loss).fit(X, Y, sample_weight=np.ones(10), verbose=0),
     TypeError, r"fit: sample_weight/class_weight need a loss that accepts reduction='none'"),
    ("initial_epoch", lambda: net().fit(X, Y, epochs=3, initial_epoch=5, verbose=0),
     ValueError, r"fit: initial_epoch must be an int in \[0, epochs=3\)"),
    ("lengths", lambda: net().fit(X, Y[:9], verbose=0), ValueError, r"fit: x has 10 samples but y has 9"),
    ("empty-dataset", lambda: net().fit(X[:0], Y[:0], verbose=0), ValueError, r"fit: x is empty \(shape \(0, 4\)\)"),
    ("x-None", lambda: net().fit(None, Y, verbose=0), TypeError, r"fit: x is None"),
    ("x-strings", lambda: net().fit(np.array([["a"] * 4] * 10), Y, verbose=0),
     TypeError, r"fit: x must hold numbers, got dtype <U1"),
    ("y-strings", lambda: net().fit(X, np.array(["a"] * 10), verbose=0), TypeError, r"fit: y must hold numbers"),
    ("callbacks-function", lambda: net().fit(X, Y, callbacks=[print], verbose=0),
     TypeError, r"fit: callbacks\[0\] is builtin_function_or_method"),
    ("loader-and-y", lambda: net().fit(DataLoader((X, Y)), Y, verbose=0),
     ValueError, r"fit: with a DataLoader as x, the labels"),
    ("loader-batch", lambda: net().fit(DataLoader(X), verbose=0),
     ValueError, r"fit: a DataLoader for training must give \(x, y\)"),
    ("not-compiled", lambda: net(compiled=False).fit(X, Y, verbose=0),
     RuntimeError, r"fit: call model.compile\(optimizer=..., loss=...\) first"),
    ("optimizer-missing-params", _missing_param_optimizer, ValueError,
     r"fit: the optimizer holds 2 of this model's 4 parameters and would never train layers.1.kernel, layers.1.bias"),
    ("compile-metrics-str", lambda: net().compile("adam", "mse", metrics="accuracy"),
     TypeError, r"compile: metrics must be a list"),
    ("compile-optimizer", lambda: net().compile("adamx", "mse"), ValueError, r"unknown optimizer 'adamx'"),
    ("compile-loss", lambda: net().compile("adam", "msee"), ValueError, r"unknown loss 'msee'"),
    ("compile-kinks", lambda: net().compile("adam", "mse", kinks=5),
     TypeError, r"compile: kinks must be a preset name"),
    ("compile-metric-typo", lambda: net().compile("adam", "mse", metrics=["acuracy"]),
     ValueError, r"unknown metric 'acuracy'"),
    ("evaluate-batch_size", lambda: net().evaluate(X, Y, batch_size=-1),
     ValueError, r"evaluate: batch_size must be a positive int"),
    ("evaluate-empty", lambda: net().evaluate(X[:0], Y[:0]), ValueError, r"evaluate: x is empty"),
    ("predict-batch_size", lambda: net().predict(X, batch_size="a"),
     TypeError, r"predict: batch_size must be a positive int"),
    ("predict-strings", lambda: net().predict(np.array([["a"] * 4])), TypeError, r"predict: x must hold numbers"),
    ("scce-labels-in-fit", lambda: net().compile("sgd", losses.get("sparse_categorical_crossentropy", from_logits=True))
     .fit(X, LABELS + 0.5, verbose=0), TypeError, r"sparse_categorical_crossentropy: labels must be integers"),
]

# -- data loaders ----------------------------------------------------------------------------------------------
DATA_CASES = [
    ("empty", lambda: DataLoader(np.zeros((0, 3))), ValueError, r"DataLoader: the dataset is empty"),
    ("lengths", lambda: DataLoader((X, Y[:5])),
     ValueError, r"ArrayDataset: the arrays have different numbers of samples \[10, 5\]"),
    ("batch_size-0", lambda: DataLoader(X, batch_size=0),
     ValueError, r"DataLoader: batch_size must be a positive int, got 0"),
    ("batch_size-str", lambda: DataLoader(X, batch_size="8"),
     TypeError, r"DataLoader: batch_size must be a positive int, got '8'"),
    ("shuffle-str", lambda: DataLoader(X, shuffle="yes"), TypeError, r"DataLoader: shuffle must be True or False"),
    ("not-a-dataset", lambda: DataLoader(5),
     TypeError, r"DataLoader: dataset must be an array, a tuple of arrays or a Dataset"),
    ("drop_last-nothing", lambda: DataLoader(X, batch_size=32, drop_last=True),
     ValueError, r"drop_last=True with 10 samples and batch_size=32"),
    ("seed", lambda: DataLoader(X, seed=-1), TypeError, r"DataLoader: seed must be a non-negative int"),
    ("scalar", lambda: DataLoader((X, 3.0)), ValueError, r"DataLoader: array 1 is a scalar"),
]


# -- weight files -----------------------------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.safetensors"
    net().save_weights(good)
    raw = good.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "corrupt.safetensors").write_bytes(np.random.default_rng(0).bytes(300))
    (tmp_path / "empty.safetensors").write_bytes(b"")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps({"w": np.ones(3)}))
    wide = nn.Sequential([nn.Dense(5, activation="relu", input_shape=(4,)), nn.Dense(1)])
    wide.save_weights(tmp_path / "wide.safetensors")
    full = net()
    full.fit(X, Y, epochs=1, verbose=0)
    full.save(tmp_path / "run.kg")
    ckpt = (tmp_path / "run.kg").read_bytes()
    (tmp_path / "truncated.kg").write_bytes(ckpt[:-10])
    (tmp_path / "dir").mkdir()
    return tmp_path


FILE_CASES = [
    ("load_weights-directory", lambda d: net().load_weights(d / "dir"), IsADirectoryError,
     r"load_weights: '.*dir' is a directory, not a weights file; pass the file that save_weights\(\)/save\(\) wrote"),
    ("load_weights-missing", lambda d: net().load_weights(d / "nope.safetensors"),
     FileNotFoundError, r"load_weights: no such file '.*nope.safetensors'"),
    ("load_weights-truncated", lambda d: net().load_weights(d / "truncated.safetensors"), ValueError,
     r"load_weights: '.*truncated.safetensors' is not a readable safetensors file \(truncated, corrupt"),
    ("load_weights-corrupt", lambda d: net().load_weights(d / "corrupt.safetensors"),
     ValueError, r"corrupt.safetensors' is not a readable safetensors"),
    ("load_weights-empty", lambda d: net().load_weights(d / "empty.safetensors"),
     ValueError, r"empty.safetensors' is not a readable safetensors file.*0 bytes"),
    ("load_weights-pickle", lambda d: net().load_weights(d / "model.pkl"),
     ValueError, r"model.pkl' is not a readable safetensors file"),
    ("load_weights-wrong-shape", lambda d: net().load_weights(d / "wide.safetensors"), ValueError,
     r"(?s)load_weights\('.*wide.safetensors'\): .*layers.0.kernel: saved shape \(4, 5\), model shape \(4, 3\)"),
    ("load_weights-unbuilt", lambda d: nn.Sequential([nn.Dense(3), nn.Dense(1)]).load_weights(d / "good.safetensors"),
     RuntimeError,
     r"load_weights: Sequential is not built yet"),
    ("load_weights-path-int", lambda d: net().load_weights(5),
     TypeError, r"load_weights: path must be a str or os.PathLike, got 5"),
    ("load_model-weights-only", lambda d: nn.load_model(d / "good.safetensors"),
     ValueError, r"load_model: '.*good.safetensors' holds weights only"),
    ("load_model-directory", lambda d: nn.load_model(d / "dir"),
     IsADirectoryError, r"load_model: '.*dir' is a directory"),
    ("load_model-truncated", lambda d: nn.load_model(d / "truncated.kg"),
     ValueError, r"load_model: '.*truncated.kg' is not a readable safetensors"),
    ("load_model-missing", lambda d: nn.load_model(d / "none.kg"), FileNotFoundError, r"load_model: no such file"),
    ("save-to-directory", lambda d: net().save(d / "dir"),
     IsADirectoryError, r"save: '.*dir' is a directory; give a file name such as 'run.kg'"),
    ("save_weights-unbuilt", lambda d: nn.Sequential([nn.Dense(2)]).save_weights(d / "x.safetensors"),
     RuntimeError, r"save_weights: Sequential is not built yet"),
    ("load_state_dict-missing", lambda d: net().load_state_dict({"layers.0.kernel": np.zeros((4, 3))}), ValueError,
     r"layers.0.bias: missing from the saved weights"),
    ("set_weights-count", lambda d: net().set_weights([np.zeros((4, 3))]),
     ValueError, r"set_weights: Sequential has 4 weight arrays"),
]

CASES = OPTIMIZER_CASES + LAYER_ARGUMENT_CASES + LAYER_INPUT_CASES + LOSS_CASES + FIT_CASES + DATA_CASES


@pytest.mark.parametrize("call, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_call_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call, error, message", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_malformed_weight_file_raises_a_clear_error(files, call, error, message):
    with pytest.raises(error, match=message):
        call(files)


def test_corpus_size():
    assert len(CASES) + len(FILE_CASES) >= 130
