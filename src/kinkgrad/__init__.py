"""kinkgrad: automatic differentiation where the derivative at a kink is an explicit choice.

>>> import kinkgrad as kg
>>> x = kg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
>>> kg.relu(x).sum().backward(); x.grad
tensor([0., 0., 1.])
"""
from . import data, linalg, losses, metrics, nn, onnx, optim, random, smooth, ste, surrogate
from . import ops as _ops
from .allocator import reuse_freed_memory
from .autodiff.backward import backward
from .autodiff.primitive import OpRecord, Primitive, record_ops
from .autodiff.safety import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .autodiff.transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .context import enable_grad, is_grad_enabled, name_scope, no_grad
from .creation import arange, empty, eye, full, full_like, ones, ones_like, zeros, zeros_like
from .custom import (
                     Function,
                     OnceDifferentiableError,
                     custom_gradient,
                     custom_jvp,
                     custom_vjp,
                     once_differentiable,
                     straight_through,
)
from .kinks import (
                     PRESETS,
                     AuditReport,
                     Kink,
                     KinkError,
                     NonDifferentiableWarning,
                     Policy,
                     audit,
                     get_kinks,
                     kinks,
                     set_kinks,
)
from .ops import *  # noqa: F401,F403  (every public op: kg.exp, kg.relu, kg.matmul, ...)
from .ops import abs, max, min, pow, round, sum  # names that shadow builtins, made explicit
from .ops.factories import as_tensor, linspace, tensor
from .tensor import Tensor, bool_, float16, float32, float64, int32, int64
from .testing import GradcheckError, clarke_interval, gradcheck, one_sided

__version__ = "0.1.0"
float = float32   # noqa: A001  (torch-style alias: kg.float is float32)
double = float64
