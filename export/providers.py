"""Which nodes of an ONNX model ONNX Runtime's GPU providers would run, and which go back to CPU.

Worked out from the graph and the providers' documented support, because this machine has no
GPU to ask. Sources:
- CUDA: ONNX Runtime's CUDA LSTM kernel is cuDNN's, which has no peepholes, no coupled
  input-forget gate, no clipping and only the default activations; such LSTM nodes are assigned
  to the CPU provider. Contrib ``com.microsoft`` DynamicQuantize* kernels exist for CPU only.
- TensorRT: onnx-tensorrt's operator table (docs/operators.md) lists LSTM for FP32/FP16, with the
  same activations required in both directions of a bidirectional LSTM; MatMulInteger and the
  ``com.microsoft`` contrib ops are not supported, so ONNX Runtime runs them on CUDA or CPU.
A node that a provider does not take costs a copy between devices on each side of it.
"""

DEFAULT_ACTIVATIONS = ["Sigmoid", "Tanh", "Tanh"]


def _attributes(node):
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _lstm_cuda_reason(node):
    attrs = _attributes(node)
    if len(node.input) > 7 and node.input[7]:
        return "peepholes (input P): cuDNN has none"
    if attrs.get("input_forget", 0):
        return "input_forget=1 (CIFG): cuDNN has no coupled gates"
    if "clip" in attrs:
        return "clip: cuDNN does not clip"
    activations = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    if activations and activations != DEFAULT_ACTIVATIONS * (len(activations) // 3):
        return f"activations {activations}: cuDNN runs sigmoid/tanh only"
    return None


def _lstm_tensorrt_reason(node):
    attrs = _attributes(node)
    activations = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    if attrs.get("direction") in (b"bidirectional", "bidirectional") and activations \
            and activations[:3] != activations[3:]:
        return "bidirectional LSTM with different activations per direction"
    return None


def _reason(provider, node):
    if node.domain == "com.microsoft":
        return f"{node.op_type} is an ONNX Runtime contrib op with a CPU kernel only"
    if provider == "tensorrt" and node.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear"):
        return f"{node.op_type}: not in onnx-tensorrt's supported operators"
    if node.op_type == "LSTM":
        return _lstm_cuda_reason(node) if provider == "cuda" else _lstm_tensorrt_reason(node)
    return None


def provider_report(path):
    """-> {"cuda": {...}, "tensorrt": {...}}: node counts on the GPU and each CPU fallback, why."""
    import onnx

    graph = onnx.load(str(path)).graph
    report = {}
    for provider in ("cuda", "tensorrt"):
        fallbacks = []
        for node in graph.node:
            reason = _reason(provider, node)
            if reason:
                fallbacks.append({"node": node.name, "op": node.op_type, "reason": reason})
        report[provider] = {"gpu_nodes": len(graph.node) - len(fallbacks), "cpu_fallback": fallbacks}
    return report
