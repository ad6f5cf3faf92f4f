"""Data-parallel training over MPI (mpi4py): each process (rank) computes gradients on its share of a
batch, the ranks average them, and every rank applies the same update, so the replicas never drift.

    import kinkgrad.distributed as dist
    dist.init()                                      # world size 1 when not launched by mpiexec
    dist.broadcast_parameters(model)                 # every rank starts from rank 0's weights
    for xb, yb in loader:                            # each rank: its own shard (see shard)
        loss = loss_fn(yb, model(xb)); opt.zero_grad(); loss.backward()
        dist.all_reduce_gradients(model.parameters())    # between backward() and step()
        opt.step()

Run it with ``mpiexec -n 4 python train.py``; the same script runs unchanged as one process. MPI is
only imported when the launcher says there are several ranks (``pip install kinkgrad[mpi]`` then).

Why it is safe to rely on: gradients travel in contiguous per-dtype buckets (one Allreduce each, in
place, as PyTorch DDP does); every collective waits at most ``timeout`` seconds, so a dead or stuck
peer ends the job with a message instead of a hang; an uncaught exception on any rank prints the rank
and the error and aborts every rank; ranks whose parameters or kink policy differ are refused at the
first collective that sees them, naming both sides.
"""
from __future__ import annotations

import os
import sys
import time
import traceback

import numpy as np

from .autodiff.safety import record_write
from .kinks.policy import current as current_policy
from .tensor import Tensor

_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS")
_MISSING = ("kinkgrad.distributed: this process was started by an MPI launcher with {n} ranks but mpi4py is not "
            "installed; install the extra: pip install 'kinkgrad[mpi]' (mpi4py and mpich)")


class _World:
    """The communicator and its settings; a single process needs no MPI at all."""

    comm = None
    mpi = None              # the mpi4py.MPI module, once several ranks run
    rank = 0
    size = 1
    timeout = 300.0
    initialized = False
    checked = set()         # signatures of parameter lists already compared across ranks


_W = _World()


def _launcher_size():
    for name in _LAUNCHER_SIZE:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


def init(timeout=300.0):
    """Join the job started by ``mpiexec`` (or run alone when there is none). ``timeout``: seconds any
    collective may wait for the other ranks before the whole job is ended with a message naming the
    call (None: wait forever). Safe to call more than once (the timeout is updated)."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"distributed.init: timeout must be a positive number of seconds or None, got {timeout!r}")
    _W.timeout = None if timeout is None else float(timeout)
    if _W.initialized:
        return
    size = _launcher_size()
    if size > 1:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(_MISSING.format(n=size)) from None
        _W.mpi, _W.comm = MPI, MPI.COMM_WORLD
        _W.rank, _W.size = _W.comm.Get_rank(), _W.comm.Get_size()
        _install_abort_on_error()
    _W.initialized = True
    _agree("init", ("kink policy", repr(current_policy())))


def _ensure():
    if not _W.initialized:
        init(_W.timeout)


def rank():
    """This process's number, 0 .. world_size() - 1."""
    _ensure()
    return _W.rank


def world_size():
    """How many processes train together (1 without mpiexec)."""
    _ensure()
    return _W.size


def is_main():
    """True on rank 0, the rank that prints and writes files."""
    return rank() == 0


def _install_abort_on_error():
    """An uncaught exception on one rank would leave the others waiting in a collective forever: print
    it with the rank, then abort the whole job."""
    previous = sys.excepthook

    def abort_job(kind, error, tb):
        sys.stderr.write(f"kinkgrad.distributed: rank {_W.rank} of {_W.size} failed; aborting every rank:\n")
        sys.stderr.write("".join(traceback.format_exception(kind, error, tb)))
        if kind is KeyboardInterrupt:
            previous(kind, error, tb)
        _abort()

    sys.excepthook = abort_job


def _abort():
    """End every rank; first give the launcher a moment to forward what this rank just printed (an abort
    kills the output streams with the processes)."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.5)
    _W.comm.Abort(1)


def _wait(request, what):
    """Complete a nonblocking MPI request, ending the job if the other ranks do not join in time."""
    deadline = None if _W.timeout is None else time.monotonic() + _W.timeout
    while not request.Test():
        if deadline is not None and time.monotonic() > deadline:
            sys.stderr.write(f"kinkgrad.distributed: rank {_W.rank} of {_W.size} waited {_W.timeout:g} s in {what} "
                             "for the other ranks; one of them died, hangs or skipped this call; aborting the job "
                             "(raise the limit with distributed.init(timeout=...))\n")
            _abort()


def barrier():
    """Wait until every rank gets here (bounded by the timeout)."""
    _ensure()
    if _W.size > 1:
        _wait(_W.comm.Ibarrier(), "barrier")


def _allgather(value, what):
    """Every rank's Python value, in rank order (a timed barrier first, so the gather itself never hangs)."""
    if _W.size == 1:
        return [value]
    _wait(_W.comm.Ibarrier(), what)
    return _W.comm.allgather(value)


def _agree(what, item):
    """Refuse ranks that differ on ``item`` = (name, value), naming the first rank that differs from rank 0."""
    name, value = item
    values = _allgather(value, what)
    for r, v in enumerate(values):
        if v != values[0]:
            raise RuntimeError(f"{what}: ranks disagree on the {name}: rank 0 has {values[0]}, rank {r} has {v}; "
                               "every rank must run the same model under the same kink policy")


def _arrays(model_or_params, with_buffers):
    """(name, array) pairs of a Module's parameters (and buffers), or of a list of tensors."""
    if hasattr(model_or_params, "named_parameters"):
        pairs = model_or_params.named_parameters()
        if with_buffers:
            pairs = pairs + model_or_params.named_buffers()
        return [(n, v.data if isinstance(v, Tensor) else v) for n, v in pairs]
    items = list(model_or_params)
    for i, p in enumerate(items):
        if not isinstance(p, (Tensor, np.ndarray)):
            raise TypeError(f"distributed: item {i} is {type(p).__name__}, not a Tensor; pass a Module or a list of "
                            "its parameters")
    return [(f"[{i}]", p.data if isinstance(p, Tensor) else p) for i, p in enumerate(items)]


def _check_layout(what, named):
    """Compare the names, shapes and dtypes of a parameter list across ranks once per distinct list."""
    layout = tuple((n, a.shape, str(a.dtype)) for n, a in named)
    key = hash(layout)
    if key in _W.checked:
        return
    layouts = _allgather(layout, what)
    for r, other in enumerate(layouts):
        if other != layouts[0]:
            diff = next(((a, b) for a, b in zip(layouts[0], other) if a != b), (len(layouts[0]), len(other)))
            raise RuntimeError(f"{what}: rank {r}'s parameters differ from rank 0's: rank 0 has {diff[0]}, rank {r} "
                               f"has {diff[1]}; every rank must build the same model")
    _W.checked.add(key)
    _agree(what, ("kink policy", repr(current_policy())))


def broadcast_parameters(model_or_params, root=0, buffers=True):
    """Copy rank ``root``'s parameters (and a Module's buffers, e.g. BatchNorm statistics) into every rank,
    in place, so all replicas start equal."""
    _ensure()
    if _W.size == 1:
        return
    named = _arrays(model_or_params, buffers)
    _check_layout("broadcast_parameters", named)
    for bucket, members in _buckets([a for _, a in named], 64):
        if _W.rank == root:
            _pack(bucket, members)
        _wait(_W.comm.Ibcast(bucket, root=root), "broadcast_parameters")
        _unpack(bucket, members)
        for a in members:
            record_write(a)


def _buckets(arrays, bucket_mb):
    """Arrays grouped by dtype into contiguous buffers of at most ``bucket_mb`` MiB (one array may exceed it)."""
    limit = max(1, int(bucket_mb * 2 ** 20))
    by_dtype = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype, []).append(a)
    for dtype, group in by_dtype.items():
        members, nbytes = [], 0
        for a in group:
            if members and nbytes + a.nbytes > limit:
                yield np.empty(nbytes // dtype.itemsize, dtype), members
                members, nbytes = [], 0
            members.append(a)
            nbytes += a.nbytes
        if members:
            yield np.empty(nbytes // dtype.itemsize, dtype), members


def _pack(bucket, members):
    start = 0
    for a in members:
        bucket[start:start + a.size] = a.reshape(-1)
        start += a.size


def _unpack(bucket, members):
    start = 0
    for a in members:
        a[...] = bucket[start:start + a.size].reshape(a.shape)
        start += a.size


def all_reduce_gradients(params, op="mean", bucket_mb=25.0, weight=None):
    """Sum or average every parameter's ``.grad`` over the ranks, in place (call between ``backward()`` and
    ``optimizer.step()``). A parameter whose grad is None everywhere stays None; one that got a gradient on
    some ranks only is reduced with zeros for the others. ``weight``: this rank's factor in a weighted sum
    (``op="sum"`` with ``weight = local samples / global samples`` averages over unequal shards exactly)."""
    _ensure()
    if op not in ("mean", "sum"):
        raise ValueError(f"all_reduce_gradients: op must be 'mean' or 'sum', got {op!r}")
    if isinstance(bucket_mb, bool) or not isinstance(bucket_mb, (int, float)) or bucket_mb <= 0:
        raise ValueError(f"all_reduce_gradients: bucket_mb must be a positive number, got {bucket_mb!r}")
    params = list(params)
    named = _arrays(params, False)
    if not all(isinstance(p, Tensor) for p in params):
        raise TypeError("all_reduce_gradients: pass the parameters (Tensors with .grad), e.g. model.parameters()")
    if _W.size == 1 and weight is None:
        return
    _check_layout("all_reduce_gradients", named)
    has = np.array([p.grad is not None for p in params], np.int8)
    if _W.size > 1:
        _wait(_W.comm.Iallreduce(_W.mpi.IN_PLACE, has, op=_W.mpi.MAX), "all_reduce_gradients")
    grads = []
    for p, h in zip(params, has):
        if not h:
            continue
        if p.grad is None:
            p.grad = Tensor._wrap(np.zeros_like(p.data))
        elif not p.grad.data.flags.writeable:          # e.g. a broadcast view: reduce into a copy
            p.grad = Tensor._wrap(np.array(p.grad.data))
        grads.append(p.grad.data)
    scale = (1.0 / _W.size if op == "mean" else 1.0) * (1.0 if weight is None else float(weight))
    for bucket, members in _buckets(grads, bucket_mb):
        _pack(bucket, members)
        if scale != 1.0:
            bucket *= bucket.dtype.type(scale)
        if _W.size > 1:
            _wait(_W.comm.Iallreduce(_W.mpi.IN_PLACE, bucket, op=_W.mpi.SUM), "all_reduce_gradients")
        _unpack(bucket, members)


def all_reduce(values, op="sum"):
    """Sum (or max) a float64 array of numbers over the ranks; returns a new array."""
    _ensure()
    out = np.array(values, dtype=np.float64).reshape(-1)
    if _W.size > 1:
        mpi_op = {"sum": _W.mpi.SUM, "max": _W.mpi.MAX}[op]
        _wait(_W.comm.Iallreduce(_W.mpi.IN_PLACE, out, op=mpi_op), "all_reduce")
    return out


def gather(value):
    """Every rank's Python value (any picklable object), in rank order, on every rank."""
    _ensure()
    return _allgather(value, "gather")


def shard(n, epoch=0, seed=0, shuffle=True, drop_last=False):
    """This rank's sample indices for one epoch (PyTorch's DistributedSampler): one permutation of ``n``
    shared by every rank through ``(seed, epoch)``, padded by wrapping around (or cut, ``drop_last``) to a
    multiple of the world size, then every world_size-th index starting at this rank's number."""
    _ensure()
    order = np.random.default_rng([int(seed), int(epoch)]).permutation(n) if shuffle else np.arange(n)
    size = _W.size
    if drop_last:
        order = order[:n - n % size]
    elif n % size:
        order = np.concatenate([order, np.resize(order, size - n % size)])
    return order[_W.rank::size]


# -- fit(distributed=True) ------------------------------------------------------------------------------
class FitPlan:
    """What ``Model.fit`` does differently on several ranks: every global batch (the loader's, so
    ``batch_size`` keeps its single-process meaning and the same learning rate applies) is split across
    the ranks; gradients are summed weighted by each rank's share, so the update equals the one-process
    update up to summation order; logged numbers are global; only rank 0 prints and writes files."""

    def __init__(self, model, loader):
        self.model, self.loader = model, loader
        dataset = loader.dataset
        if not hasattr(dataset, "take"):
            raise TypeError(f"fit(distributed=True): the training data must be arrays or a kg.data.ArrayDataset (got "
                            f"a {type(dataset).__name__}); shard other datasets yourself with distributed.shard and "
                            "call all_reduce_gradients in your own loop")
        _agree("fit(distributed=True)", ("number of training samples", len(dataset)))
        loader.seed = _allgather(loader.seed, "fit(distributed=True)")[0]      # one shuffling order for all
        broadcast_parameters(model)
        self.has_buffers = bool(model.named_buffers())

    def batches(self, epoch):
        """(this rank's batch or None, global batch size) for every global batch of the epoch, taken as
        the loader's own iteration would (with its class weights, if it adds them)."""
        loader = self.loader
        weigh = getattr(loader, "weigh", None)
        order = loader.order(epoch)
        for b in range(len(loader)):
            idx = order[b * loader.batch_size:(b + 1) * loader.batch_size]
            mine = np.array_split(idx, _W.size)[_W.rank]
            batch = loader.dataset.take(mine) if len(mine) else None
            yield (weigh(batch) if weigh is not None and batch is not None else batch), len(idx)

    def train_step(self, xb, yb, wb, n_global):
        """Forward and backward on this rank's share, then one global loss and one weighted gradient sum."""
        model = self.model
        if self.has_buffers:        # layers replace their buffer arrays, so look them up each step
            broadcast_parameters([b for _, b in model.named_buffers()], buffers=False)
        model.optimizer.zero_grad()
        n_local = 0 if xb is None else len(xb)
        loss = pred = None
        if n_local:
            pred = model(xb)
            loss = model.compute_loss(yb, pred, wb)
        local = float(loss.item()) if n_local else 0.0
        value = float(all_reduce([local * n_local])[0]) / n_global
        if np.isfinite(value):
            if n_local:
                loss.backward()
            all_reduce_gradients(model.optimizer.params, op="sum", weight=n_local / n_global)
            model.optimizer.step()
        return value, (None if pred is None else pred.data)

    def callbacks(self, callbacks, progress):
        """Rank 0 keeps every callback; the others drop the progress bar and the ones that write files."""
        if _W.rank == 0:
            return callbacks, progress
        return [cb for cb in callbacks or () if not getattr(cb, "main_process_only", False)], None

    def end_epoch(self, logs, seen):
        """Rank 0's buffers everywhere (validation and checkpoints see one model), and the epoch's metric
        results averaged over the ranks, weighted by the samples each one saw."""
        if self.has_buffers:
            broadcast_parameters([b for _, b in self.model.named_buffers()], buffers=False)
        names = [k for k in logs if k != "loss"]
        totals = all_reduce([logs[k] * seen for k in names] + [seen])
        return {**logs, **{k: float(t / totals[-1]) for k, t in zip(names, totals[:-1])}}

    def should_stop(self, stop):
        """Every rank stops when one callback (on any rank) asked to."""
        return bool(all_reduce([float(bool(stop))], "max")[0])

    def merge_audit(self, summary):
        """The epoch's kink telemetry summed over the ranks; each rank's own counts kept under "ranks"."""
        parts = _allgather(summary, "fit audit")
        layers = {}
        for part in parts:
            for name, row in part["layers"].items():
                into = layers.setdefault(name, {"hits": 0, "dependent": 0, "evaluated": 0})
                for k in into:
                    into[k] += row[k]
        merged = {k: sum(p[k] for p in parts) for k in ("hits", "dependent", "evaluated")}
        merged["rate"] = merged["hits"] / merged["evaluated"] if merged["evaluated"] else 0.0
        return {**summary, **merged, "layers": layers, "ranks": [{k: p[k] for k in ("hits", "dependent", "evaluated")}
                                                                  for p in parts]}


def fit_plan(model, loader, distributed):
    """The FitPlan for ``fit(distributed=...)``: None for one process; ``None`` means automatic (on when
    launched with several ranks, with a one-line notice)."""
    if distributed is not None and not isinstance(distributed, (bool, np.bool_)):
        raise TypeError(f"fit: distributed must be True, False or None (automatic), got {distributed!r}")
    if distributed is False or world_size() == 1:
        return None
    if distributed is None and is_main():
        print(f"fit: data-parallel on {_W.size} MPI ranks (each global batch split across them); "
              "pass distributed=False to train each rank alone", flush=True)
    return FitPlan(model, loader)
