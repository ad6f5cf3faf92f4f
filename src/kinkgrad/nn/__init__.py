"""Neural networks: PyTorch-style modules that also train the Keras way.

>>> import kinkgrad as kg
>>> from kinkgrad import nn
>>> model = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dense(1)])
>>> _ = model.compile(optimizer="adam", loss="mse")
"""
from . import init
from .layers import (
                     ACTIVATIONS,
                     CELU,
                     ELU,
                     GELU,
                     SELU,
                     Activation,
                     AvgPool2d,
                     BatchNorm1d,
                     BatchNorm2d,
                     Conv1d,
                     Conv2d,
                     Dense,
                     Dropout,
                     Embedding,
                     Flatten,
                     Hardsigmoid,
                     Hardswish,
                     Hardtanh,
                     LayerNorm,
                     LeakyReLU,
                     Linear,
                     MaxPool2d,
                     Mish,
                     ReLU,
                     ReLU6,
                     Sigmoid,
                     SiLU,
                     Softmax,
                     Softplus,
                     Swish,
                     Tanh,
)
from .module import Module, Parameter
from .training import Callback, EarlyStopping, EpochTimer, History, LambdaCallback, Model, Sequential

Layer = Module   # Keras' name for the base class of custom layers

__all__ = ["ACTIVATIONS", "Activation", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "CELU", "Callback", "Conv1d",
           "Conv2d", "Dense", "Dropout", "ELU", "EarlyStopping", "Embedding", "EpochTimer", "Flatten", "GELU",
           "Hardsigmoid",
           "Hardswish", "Hardtanh", "History", "LambdaCallback", "Layer", "LayerNorm", "LeakyReLU", "Linear",
           "MaxPool2d", "Mish", "Model", "Module", "Parameter", "ReLU", "ReLU6", "SELU", "Sequential", "SiLU",
           "Sigmoid", "Softmax", "Softplus", "Swish", "Tanh", "init"]
