"""Sequential: layers applied in order, built at once when the input shape is known (Keras' habit)."""
from __future__ import annotations

from .module import Module, deserialize, serialize
from .training import Model


class Sequential(Model):
    """``Sequential([Dense(64, activation="relu", input_shape=(10,)), Dense(1)])`` or
    ``Sequential(layer1, layer2, ...)``. With ``input_shape=`` on the first layer (or ``nn.Input(shape)``
    first) every layer gets its weights here, so ``parameters()`` is complete before any data is seen."""

    def __init__(self, layers=None, *more, name=None):
        super().__init__()
        if layers is None:
            layers = []
        elif isinstance(layers, Module) or (callable(layers) and not isinstance(layers, (list, tuple))):
            layers = [layers, *more]
        elif more:
            raise TypeError("Sequential: pass the layers as one list, or as separate arguments, not both")
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f"Sequential: layers must be a list of layers, got {type(layers).__name__}")
        self.layers = []
        self.name = name
        for layer in layers:
            self._append(layer)
        self._build_if_known()

    def _append(self, layer):
        if not isinstance(layer, Module) and not callable(layer):
            raise TypeError(f"Sequential: item {len(self.layers)} is {type(layer).__name__}, not a layer")
        self.layers.append(layer)
        if isinstance(layer, Module) and layer._name is None:
            base = layer.name
            taken = {m.name for m in self.layers[:-1] if isinstance(m, Module)}
            k, name = 0, base
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            layer._name = name

    def add(self, layer):
        """Append a layer (built at once when the model's input shape is known)."""
        self._append(layer)
        self._build_if_known()

    def _build_if_known(self):
        """With a known input shape, run one forward pass on a zero sample: it builds lazy layers and
        finds a layer that does not fit its input now, not at the first batch."""
        first = self.layers[0] if self.layers else None
        shape = getattr(first, "input_shape", None)
        if shape is None and self.build_spec is not None:
            shape = tuple(self.build_spec["shape"])
        if shape is not None:
            self.build(shape, getattr(first, "input_dtype", None) or getattr(first, "dtype", None))

    def forward(self, x):
        if self.build_spec is None:
            dims = getattr(getattr(x, "data", x), "shape", None)
            if dims:
                self.build_spec = {"shape": list(dims[1:]), "dtype": str(getattr(getattr(x, "data", x), "dtype", ""))}
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def get_config(self):
        return {"name": self._name, "layers": [serialize(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls([deserialize(spec, custom_objects) for spec in config["layers"]], name=config.get("name"))
