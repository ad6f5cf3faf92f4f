"""Neural networks: PyTorch-style modules that also train the Keras way.

>>> import kinkgrad as kg
>>> from kinkgrad import nn
>>> model = nn.Sequential([nn.Dense(8, activation="relu", input_shape=(3,)), nn.Dense(1)])
>>> model.count_params()
41
>>> _ = model.compile(optimizer="adam", loss="mse")
"""
from . import init, regularizers
from .activations import (
                          ACTIVATIONS,
                          CELU,
                          ELU,
                          GELU,
                          SELU,
                          Activation,
                          Hardsigmoid,
                          Hardswish,
                          Hardtanh,
                          LeakyReLU,
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
from .callbacks import (
                          Callback,
                          CSVLogger,
                          EarlyStopping,
                          EpochTimer,
                          History,
                          LambdaCallback,
                          LearningRateScheduler,
                          ModelCheckpoint,
                          ReduceLROnPlateau,
                          TerminateOnNaN,
)
from .layers import AvgPool2d, Conv1d, Conv2d, Dense, Embedding, Flatten, Input, Linear, MaxPool2d
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, Dropout, LayerNorm
from .progress import ProgressLogger
from .saving import load_model
from .sequential import Sequential
from .training import Model

Layer = Module   # Keras' name for the base class of custom layers

__all__ = [
                          "ACTIVATIONS",
                          "CELU",
                          "ELU",
                          "GELU",
                          "SELU",
                          "Activation",
                          "AvgPool2d",
                          "BatchNorm1d",
                          "BatchNorm2d",
                          "CSVLogger",
                          "Callback",
                          "Conv1d",
                          "Conv2d",
                          "Dense",
                          "Dropout",
                          "EarlyStopping",
                          "Embedding",
                          "EpochTimer",
                          "Flatten",
                          "Hardsigmoid",
                          "Hardswish",
                          "Hardtanh",
                          "History",
                          "Input",
                          "LambdaCallback",
                          "Layer",
                          "LayerNorm",
                          "LeakyReLU",
                          "LearningRateScheduler",
                          "Linear",
                          "MaxPool2d",
                          "Mish",
                          "Model",
                          "ModelCheckpoint",
                          "Module",
                          "Parameter",
                          "ProgressLogger",
                          "ReLU",
                          "ReLU6",
                          "ReduceLROnPlateau",
                          "Sequential",
                          "SiLU",
                          "Sigmoid",
                          "Softmax",
                          "Softplus",
                          "Swish",
                          "Tanh",
                          "TerminateOnNaN",
                          "init",
                          "load_model",
                          "regularizers",
]
