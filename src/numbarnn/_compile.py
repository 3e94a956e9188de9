"""How numbarnn compiles its kernels: the Numba flags and the scalar math's targets live here.

Every compiled CPU loop in the package is decorated with :func:`kernel`. The scalar math
(the cells' gate formulas, the optimizers' element updates) is written once, as plain
Python functions marked :func:`pointwise`, and compiled for each target from that source:

- on the CPU, as overloads inlined into their callers at Numba's IR level, with the
  caller's flags: that is what lets LLVM vectorize the gate loops (compiled as separate
  functions, the cells' steps were not inlined by LLVM and the LSTM's gate loop ran 4.7
  times slower). Small leaf functions, the activations, are marked
  ``pointwise(inline=False)``: compiled once as functions of their own, which LLVM inlines
  and vectorizes as well, since IR-level inlining is slow to compile. Inlined at the IR
  level, the five activations of an LSTM step cost a new process 14 s of compiling (each
  inlined call types its callee and retypes the caller, nested four deep through
  :func:`by_dtype`); compiled once each, well under a second, and the gate loop runs as
  fast;
- for ``numba.cuda``, as device functions made by :func:`retarget`, which numba-cuda
  inlines at the NVVM level. numba-cuda does not accept IR-level inlined overloads (its
  own IR classes meet numba core's in the inlined blocks and the compile fails), and a
  function overloaded for the CPU breaks its CUDA compile once the CPU has compiled it,
  so the GPU gets copies of the functions, never the overloaded originals;
- in Python, the functions themselves: the CUDA simulator runs them.

``fastmath`` leaves out ``nnan`` and ``ninf`` so that a NaN or infinite loss stays
visible to the training loop, and ``reassoc``, so that results do not depend on where a
function was compiled: with it, LLVM reassociated the gate math of a function compiled
on its own and of its copy inside a caller differently, and the LSTM's gradients from
freshly compiled code and from the same code loaded from the cache differed in the last
bits (so did fits in two processes). ``contract`` (fused multiply-adds) and ``arcp`` keep
the gate math as fast as with all four. ``error_model="numpy"`` lets a float division
give inf instead of raising: the check that Python's semantics need is a branch out of
every loop with a division, and LLVM does not vectorize a loop with such an exit.
"""

import logging
import threading
import types as pytypes
from contextlib import contextmanager

import numba
import numpy as np
from numba import prange
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils, event, types
from numba.core.extending import intrinsic, overload

FASTMATH = {"nsz", "arcp", "contract"}

logger = logging.getLogger("numbarnn")

_POINTWISE = set()  # every function marked pointwise
_BY_DTYPE = {}  # a dispatching function -> (its float32 implementation, the other one)


def kernel(function=None, *, parallel=False):
    """Compile an array kernel for the CPU with the package's flags (cached on disk).

    Parameters
    ----------
    function : callable, optional
        The function to compile; omit it to use ``@kernel(parallel=True)``.
    parallel : bool, default=False
        Let Numba run ``prange`` loops on several threads.
    """

    def wrap(f):
        return numba.njit(cache=True, fastmath=FASTMATH, parallel=parallel, error_model="numpy")(f)

    return wrap if function is None else wrap(function)


def on_threads(block):
    """Run a block kernel on Numba's threads: ``run(*args)`` calls ``block(k, *args)`` for
    each k in ``range(args[-1])`` (the last argument is the number of blocks), in parallel.

    The block is compiled as an ordinary :func:`kernel` (cached on disk), and one shared
    ``prange`` loop calls it through its address. Numba links every compiled callee into
    its caller and optimizes the whole again; a ``prange`` loop over the body itself (or
    calling the block by name) cost 2.3-2.8 s more compiling per kernel than the same
    function without ``parallel``, and the loop through the address costs 0.8 s. A call
    costs the same, plus a few microseconds to find the address.

    A block must not raise: an exception inside it reaches the caller as a ``SystemError``
    (Numba's threads do not carry it through a call by address), and any other block may
    have run.

    Parameters
    ----------
    block : numba dispatcher
        A :func:`kernel` taking the block's index (int64) and then ``args``; it returns
        nothing.

    Returns
    -------
    callable
        ``run(*args)``, documented as ``block`` is.
    """
    addresses = {}  # the fingerprints of the arguments' types -> (address, compiled block)

    def run(*args):
        key = tuple(compute_fingerprint(a) for a in args)
        found = addresses.get(key)
        if found is None:
            signature = (types.int64,) + tuple(numba.typeof(a) for a in args)
            block.compile(signature)
            compiled = block.overloads[signature]  # kept with its address: its code stays
            address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
            found = addresses[key] = address, compiled
        _each_block(found[0], args[-1], args)

    run.__name__, run.__qualname__ = block.__name__, block.__qualname__
    run.__module__, run.__doc__ = block.__module__, block.__doc__
    run.block = block
    return run


@intrinsic
def _function_at(typingctx, address, args):
    """The compiled function at ``address`` taking (int64, *args), as a first-class function
    called with Numba's own calling convention."""
    function = types.FunctionType(types.none(types.int64, *args.types))

    def codegen(context, builder, signature, values):
        value = cgutils.create_struct_proxy(function)(context, builder)
        value.jit_addr = builder.inttoptr(values[0], cgutils.voidptr_t)
        return value._getvalue()

    return function(address, args), codegen


@kernel(parallel=True)
def _each_block(address, n_blocks, args):
    """``block(k, *args)`` for k in range(n_blocks), on Numba's threads (see
    :func:`on_threads`)."""
    block = _function_at(address, args)
    for k in prange(n_blocks):
        block(np.int64(k), *args)


def pointwise(function=None, *, inline=True):
    """Mark scalar math to be compiled for every target from this one source.

    The CPU gets it inlined into its callers at Numba's IR level, or with
    ``inline=False`` compiled as a function of its own (for small leaves, which LLVM
    inlines); :func:`retarget` makes the copies for other targets; Python (and the CUDA
    simulator) calls the function itself.

    Parameters
    ----------
    function : callable, optional
        The function; omit it to use ``@pointwise(inline=False)``.
    inline : bool, default=True
        Inline at Numba's IR level on the CPU.
    """

    def mark(f):
        overload(f, target="cpu", inline="always" if inline else "never", strict=False)(
            lambda *args: f)
        _POINTWISE.add(f)
        return f

    return mark if function is None else mark(function)


def by_dtype(float32, other):
    """A scalar function that computes ``float32(x)`` for a float32 x and ``other(x)`` else.

    Parameters
    ----------
    float32, other : callable
        Pointwise functions, or ``math`` functions for ``other``.

    Returns
    -------
    callable
        The dispatching function, for compiled code on every target and for Python (where
        it returns NumPy scalars: a Python float would take the type of a float32 operand
        it meets). On the CPU it is compiled as a function of its own, which LLVM inlines.
    """

    def dispatch(x):
        return float32(x) if isinstance(x, np.float32) else np.float64(other(x))

    overload(dispatch, target="cpu", inline="never")(_dispatcher(float32, other))
    _BY_DTYPE[dispatch] = (float32, other)
    return dispatch


def _dispatcher(float32, other):
    """The typing function of a :func:`by_dtype` overload."""

    def typer(x):
        if x == types.float32:
            return lambda x: float32(x)
        return lambda x: other(x)

    return typer


def retarget(jit, overload):
    """Copies of every pointwise function for another Numba target.

    Each copy is a new function object over the same code whose calls to other pointwise
    functions go to their copies, compiled with ``jit``; a :func:`by_dtype` function
    becomes a new function overloaded with ``overload``.

    Parameters
    ----------
    jit : callable
        Compiles a Python function as a device function, e.g.
        ``numba.cuda.jit(device=True, forceinline=True)``.
    overload : callable
        The target's ``overload`` decorator (``numba.cuda.extending.overload``).

    Returns
    -------
    callable
        ``copy(function)``: the target's copy of a pointwise or :func:`by_dtype` function
        (made once).
    """
    copies = {}

    def copy(function):
        if function not in copies:
            copies[function] = _copy(function, copy, jit, overload)
        return copies[function]

    return copy


def _copy(function, copy, jit, overload):
    if function in _BY_DTYPE:
        float32, other = (copy(f) if f in _POINTWISE else f for f in _BY_DTYPE[function])

        def dispatch(x):
            raise NotImplementedError("compiled code only")

        overload(dispatch)(_dispatcher(float32, other))
        return dispatch
    if function not in _POINTWISE:
        raise ValueError(f"{function.__name__} is not marked pointwise")
    names = dict(function.__globals__)
    for name in function.__code__.co_names:
        value = names.get(name)
        if isinstance(value, pytypes.FunctionType) and (value in _POINTWISE
                                                        or value in _BY_DTYPE):
            names[name] = copy(value)
    clone = pytypes.FunctionType(function.__code__, names, function.__name__,
                                 function.__defaults__, function.__closure__)
    clone.__doc__, clone.__qualname__ = function.__doc__, function.__qualname__
    return jit(clone)


class _FirstCompile(event.Listener):
    """Numba's compile events: at the first compile of a numbarnn function inside a
    :func:`compile_notice` block of the same thread, one notice to the log (and to the
    block's stream). Registered once, when numbarnn is imported: registering a listener
    per block cost 9 us a call."""

    def __init__(self):
        self.blocks = threading.local()  # per thread: [stream, told] of each open block

    def open_blocks(self):
        if not hasattr(self.blocks, "stack"):
            self.blocks.stack = []
        return self.blocks.stack

    def on_start(self, ev):
        stack = self.open_blocks()
        if not stack or stack[-1][1]:
            return
        function = getattr(ev.data["dispatcher"], "py_func", None)
        if not getattr(function, "__module__", "").startswith("numbarnn"):
            return
        for block in stack:  # the blocks around it have been told too
            block[1] = True
        message = (f"numbarnn: compiling {function.__name__} and the kernels it needs; this "
                   f"happens once per machine (Numba caches compiled kernels in "
                   f"{numba.config.CACHE_DIR or 'numbarnn/__pycache__'}; `numbarnn compile` "
                   f"fills that cache ahead of time)")
        logger.info(message)
        if stack[-1][0] is not None:
            print(message, file=stack[-1][0], flush=True)

    def on_end(self, ev):
        pass


_FIRST_COMPILE = _FirstCompile()
event.register("numba:compile", _FIRST_COMPILE)


@contextmanager
def compile_notice(stream=None):
    """Context manager: if numbarnn's kernels compile inside it (rather than load from Numba's
    on-disk cache), say so once, at the start, through the ``numbarnn`` logger at INFO level
    and on ``stream`` if one is given (the estimators pass ``sys.stderr`` when ``verbose``).
    """
    stack = _FIRST_COMPILE.open_blocks()
    stack.append([stream, bool(stack) and stack[-1][1]])  # told already, if the outer one was
    try:
        yield
    finally:
        stack.pop()
