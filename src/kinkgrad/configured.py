"""Small value objects rebuilt from their constructor arguments (regularizers, learning-rate schedules):
``get_config()`` is what a saved model or checkpoint stores, so they pickle, compare and print alike."""
from __future__ import annotations


class Configured:
    """Keeps its constructor arguments as attributes; ``get_config()`` returns them and
    ``from_config(config)`` calls the constructor again."""

    def get_config(self):
        return dict(vars(self))

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__
