"""A fused CPU kernel for training every LSTM cell with a lowering (standard, peephole, CIFG,
projection, layer norm): a sequence in one op.

On CPU, TensorFlow runs an LSTM as a loop of about twenty small ops per step, and XLA runs a
loop's work on one core; at 64-128 units either way spends its time running ops, not doing
arithmetic (``benchmarks/train_speed.py``). ``lstm.cc`` runs all steps in one op, forward and
backward, with the batch split across the CPU's threads.

The kernel is compiled from source on first use with the machine's C++ compiler against the
installed TensorFlow (30-50 seconds on 2 cores), then cached by source, TensorFlow version and CPU. With
no compiler, with ``ZOO_FUSED_KERNEL=0`` or with a GPU visible, training falls back to the
Keras loop under XLA: same results, slower.

``import zoo`` also asks TensorFlow for its pooling CPU allocator (``pool_cpu_memory``): a training
step through the kernel allocates tensors of megabytes that the default allocator takes from and
gives back to the system on every step.
"""

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

SOURCE = Path(__file__).with_name("lstm.cc")

#: TensorFlow's switch for its best-fit pooling allocator on the CPU, read once, when TensorFlow
#: runs its first op.
POOLED_CPU_ALLOCATOR = "TF_CPU_ALLOCATOR_USE_BFC"


def pool_cpu_memory():
    """Ask for TensorFlow's pooling CPU allocator unless the user chose (``TF_CPU_ALLOCATOR_USE_BFC``).

    Why: the default allocator hands each large tensor back to the system when it is freed, so
    the next step pays for fresh pages; the fused kernel's steps allocate several tensors of
    (batch, steps, 4·units) floats. Pooled, a 128 units x 60 steps ``train_on_batch`` took 22 ms
    instead of 27 (``keras.layers.LSTM``, which runs TensorFlow's loop, was unchanged) with a
    lower peak memory (705 against 775 MB). Called by ``import zoo``; it has no effect once
    TensorFlow has run an op.
    """
    os.environ.setdefault(POOLED_CPU_ALLOCATOR, "true")


def cpu_memory_pooled():
    """Whether TensorFlow's CPU allocator is the pooling one, as TensorFlow reads the switch at its
    first op. Why not ask TensorFlow: ``get_memory_info('CPU:0')`` raises for the default allocator
    on some machines and answers on others (Zen 4, measured), so its answer cannot tell the two apart."""
    return os.environ.get(POOLED_CPU_ALLOCATOR, "false").lower() in ("1", "true")


def switched_off(variable):
    """True when environment ``variable`` (ZOO_FUSED_KERNEL, ZOO_JIT_COMPILE) says 0 or false."""
    return os.environ.get(variable, "1").lower() in ("0", "false")


@functools.lru_cache(maxsize=None)
def enabled():
    """The kernel runs where it helps: CPU-only TensorFlow, and not switched off."""
    if switched_off("ZOO_FUSED_KERNEL"):
        from zoo.progress import warn

        warn("ZOO_FUSED_KERNEL=0: LSTM training runs without the fused kernel (slower)")
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU") and ops() is not None


def _cache_dir():
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "zoo-lstm" / "kernels"


def _cpu_flags():
    """-march=native code must not meet another CPU: the cache key includes the CPU's features."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return platform.processor()


def _library_path(tf):
    key = hashlib.sha256(
        SOURCE.read_bytes() + tf.__version__.encode() + _cpu_flags().encode() + sys.version.encode()
    ).hexdigest()[:16]
    return _cache_dir() / f"zoo_lstm_{key}.so"


def _compile(tf, target):
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None or shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler found ({compiler or 'set CXX'})")
    from zoo.progress import stage

    target.parent.mkdir(parents=True, exist_ok=True)
    with stage("zoo: compiling the fused LSTM training kernel (once per machine)"), \
            tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        command = [compiler, "-std=c++17", "-shared", "-fPIC", "-O3", "-march=native", *_without_fp16(compiler), "-w",
                   str(SOURCE), "-o", str(built), *tf.sysconfig.get_compile_flags(),
                   *tf.sysconfig.get_link_flags()]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "compiler failed")
        os.replace(built, target)  # atomic: a concurrent worker sees the old state or the whole file


def _without_fp16(compiler):
    """``-mno-avx512fp16`` where the compiler knows it: on CPUs with AVX512-FP16 (Sapphire Rapids,
    Zen 5), ``-march=native`` turns on Eigen's FP16 packet code, which TensorFlow 2.21's bundled
    Eigen headers fail to compile with GCC ("expected initializer before '<'"); the kernel is float32."""
    probe = subprocess.run([compiler, "-mno-avx512fp16", "-x", "c++", "-E", os.devnull], capture_output=True)
    return ["-mno-avx512fp16"] if probe.returncode == 0 else []


@functools.lru_cache(maxsize=None)
def ops():
    """The loaded op library, compiling it if needed; None (with one warning) if that fails."""
    import tensorflow as tf

    target = _library_path(tf)
    try:
        if not target.exists():
            _compile(tf, target)
        return tf.load_op_library(str(target))
    except Exception as error:  # any failure means the slower, equivalent Keras loop
        warnings.warn(f"zoo: fused LSTM kernel unavailable ({error}); training uses the Keras loop")
        return None


def lstm_sequence(x, kernel, recurrent, h0, c0, mask=None, zero_output_for_mask=False, go_backwards=False,
                  layer_norm=None, peephole=None, projection=None, coupled=False, bias=None):
    """``x`` (B, T, I) through an LSTM with input kernel W (I, G·H) and recurrent kernel R
    (P, G·H) -> (outputs (B, T, P), last h, last c), as Keras' loop.

    Outputs come in processing order (reversed with ``go_backwards``). ``mask`` (B, T) keeps
    Keras' rules: a masked step keeps the states, and its output is the previous output (zero
    with ``zero_output_for_mask``). The variants of ``zoo.cells.lowering``'s formula:
    ``layer_norm`` = ``(norm, normalize_cell, epsilon)`` with ``norm`` packing
    [γ (GH) | b (GH) | γ_c (H) | β_c (H)]; otherwise ``bias`` (G·H); ``peephole`` =
    [p_i | p_f | p_o] (3H); ``projection`` = W_p (H, P); ``coupled``: the blocks are (f, c, o)
    and i = 1 - f.

    The op computes x·W itself, per batch slice into the buffer the gates take, and adds the bias
    as it reads it: a separate matmul and add would each be one more pass over (B, T, G·H), and
    their gradients more. Differentiable: the backward op returns each step's pre-activation
    gradient dz, the bias's Σ dz, W's Σ x(t)ᵀ·dz(t) and R's Σ h(t-1)ᵀ·dz(t) (over the h each step
    started from, which the forward op keeps); x's gradient dz·Wᵀ and W_p's,
    Σ (o ⊙ tanh c)(t)ᵀ·dh(t), are one matmul each, which TensorFlow drops where unused.
    """
    import tensorflow as tf

    library = ops()
    empty = tf.zeros((0,))
    norm, normalize_cell, epsilon = layer_norm if layer_norm is not None else (empty, False, 1e-5)
    # Read variables here: inside the custom gradient only tensors may appear.
    x, kernel, recurrent, h0, c0, norm, peephole, projection, bias = (
        tf.convert_to_tensor(v) for v in (x, kernel, recurrent, h0, c0, norm,
                                          empty if peephole is None else peephole,
                                          empty if projection is None else projection,
                                          empty if bias is None else bias))
    mask = tf.ones(tf.shape(x)[:2], x.dtype) if mask is None else tf.cast(mask, x.dtype)
    attrs = {"zero_output_for_mask": bool(zero_output_for_mask), "reverse": bool(go_backwards),
             "layer_norm": layer_norm is not None, "normalize_cell": bool(normalize_cell), "coupled": bool(coupled)}
    projected = projection.shape.rank == 2

    @tf.custom_gradient
    def run(x, kernel, recurrent, h0, c0, norm, peephole, projection, bias):
        outputs, h_before, h_last, cs, gates, z_hat, c_hat, inv_std, shown = library.zoo_lstm_forward(
            x, recurrent, h0, c0, mask, norm, peephole, projection, bias, kernel, epsilon=float(epsilon), **attrs)
        last = 0 if go_backwards else -1  # cells are indexed by input step

        def backward(d_outputs, d_h_last, d_c_last):
            dz, dh0, dc0, d_norm, d_peephole, dh_steps, d_bias, d_recurrent, d_kernel = library.zoo_lstm_backward(
                d_outputs, d_h_last, d_c_last, gates, cs, c0, mask, recurrent, norm, z_hat, c_hat, inv_std,
                peephole, projection, bias, h_before, x, **attrs)
            dx = tf.reshape(tf.matmul(tf.reshape(dz, (-1, tf.shape(dz)[-1])), kernel, transpose_b=True), tf.shape(x))
            d_projection = _summed_over_steps(shown, dh_steps) if projected else tf.zeros_like(projection)
            return dx, d_kernel, d_recurrent, dh0, dc0, d_norm, d_peephole, d_projection, d_bias

        return (outputs, h_last, cs[:, last]), backward

    return run(x, kernel, recurrent, h0, c0, norm, peephole, projection, bias)


def _summed_over_steps(a, b):
    """Σ over batch rows and steps of a(t)ᵀ·b(t): (B, T, M) and (B, T, N) -> (M, N), one matmul."""
    import tensorflow as tf

    return tf.matmul(tf.reshape(a, (-1, tf.shape(a)[-1])), tf.reshape(b, (-1, tf.shape(b)[-1])), transpose_a=True)
