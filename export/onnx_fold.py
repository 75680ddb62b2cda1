"""Fold the models' affine scalers into the neighbouring weights of the ONNX graph.

A zoo model carries its scaler inside (``Standardize``: ``(x - mean) / std`` in front, its inverse
behind the head). In ONNX that is four elementwise nodes around the LSTM, each costing ONNX
Runtime a kernel launch per call: at batch 1 they are most of the gap between an exported model
and a graph holding only the native LSTM op. Both affines fold exactly:

* input: ``W·((x - m)·r) + b = (W·r)·x + (b - (W·r)·m)``, into the first LSTM's ``W`` and ``B``;
* output: ``(h·D + d)·s + t = h·(D·s) + (d·s + t)``, into the head's weights.

Only the exact patterns are rewritten, and only when the intermediate tensors feed nothing else
(a mask computed from the scaled input, for instance, keeps the scaler). Identity nodes left by
the LSTM splice go too. The exported model is then checked against Keras as always.
"""

import numpy as np


def fold_affines(model):
    """Rewrite ``model`` (an onnx ModelProto) in place; -> the names of the folds made."""
    graph = _Graph(model)
    folds = []
    graph.drop_identities()
    if graph.fold_input_scaling():
        folds.append("input scaling into the first LSTM")
    if graph.fold_output_scaling():
        folds.append("output scaling into the head")
    graph.drop_unused_initializers()
    return folds


class _Graph:
    def __init__(self, model):
        from onnx import numpy_helper

        self.graph = model.graph
        self.numpy_helper = numpy_helper
        self.initializers = {t.name: t for t in self.graph.initializer}

    # -- helpers -------------------------------------------------------------------------------
    def consumers(self, tensor):
        return [n for n in self.graph.node if tensor in n.input]

    def value(self, name):
        tensor = self.initializers.get(name)
        return None if tensor is None else self.numpy_helper.to_array(tensor)

    def constant_operand(self, node):
        """-> (the non-constant input, the constant's value) of a binary op with one initializer."""
        a, b = node.input
        if self.value(b) is not None and self.value(a) is None:
            return a, self.value(b)
        return None, None

    def set_value(self, node, slot, array, label):
        name = f"{node.name or node.op_type}/{label}"
        tensor = self.numpy_helper.from_array(np.asarray(array, dtype="float32"), name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        node.input[slot] = name

    def is_graph_output(self, tensor):
        return any(o.name == tensor for o in self.graph.output)

    def remove(self, *nodes):
        for node in nodes:
            self.graph.node.remove(node)

    def drop_unused_initializers(self):
        used = {name for node in self.graph.node for name in node.input}
        for tensor in [t for t in self.graph.initializer if t.name not in used]:
            self.graph.initializer.remove(tensor)

    # -- passes --------------------------------------------------------------------------------
    def drop_identities(self):
        for node in [n for n in self.graph.node if n.op_type == "Identity"]:
            source, target = node.input[0], node.output[0]
            if self.is_graph_output(target) or self.value(source) is not None:
                continue
            for consumer in self.consumers(target):
                for k, name in enumerate(consumer.input):
                    if name == target:
                        consumer.input[k] = source
            self.remove(node)

    def fold_input_scaling(self):
        """Sub(x, m) -> Mul(., r) [or Div(., s)] -> Transpose(1,0,2) -> LSTM without sequence_lens."""
        for sub in [n for n in self.graph.node if n.op_type == "Sub"]:
            x, mean = self.constant_operand(sub)
            if x is None or len(self.consumers(sub.output[0])) != 1:
                continue
            scale_node = self.consumers(sub.output[0])[0]
            if scale_node.op_type not in ("Mul", "Div") or len(self.consumers(scale_node.output[0])) != 1:
                continue
            _, factor = self.constant_operand(scale_node)
            if factor is None:
                continue
            factor = factor if scale_node.op_type == "Mul" else 1.0 / factor
            transpose = self.consumers(scale_node.output[0])[0]
            if transpose.op_type != "Transpose" or len(self.consumers(transpose.output[0])) != 1:
                continue
            lstm = self.consumers(transpose.output[0])[0]
            if lstm.op_type != "LSTM" or lstm.input[0] != transpose.output[0]:
                continue
            if len(lstm.input) > 4 and lstm.input[4]:  # sequence_lens: padding must stay zero after scaling
                continue
            has_bias = len(lstm.input) > 3 and lstm.input[3]
            weights, bias = self.value(lstm.input[1]), self.value(lstm.input[3]) if has_bias else None
            if weights is None or (has_bias and bias is None):
                continue
            features = weights.shape[-1]
            mean = np.broadcast_to(np.asarray(mean, "float64").reshape(-1), (features,))
            factor = np.broadcast_to(np.asarray(factor, "float64").reshape(-1), (features,))
            folded = weights.astype("float64") * factor  # [D, 4H, I]
            gates = folded.shape[1]
            if bias is None:
                bias = np.zeros((weights.shape[0], 2 * gates))
            bias = bias.astype("float64").copy()
            bias[:, :gates] -= folded @ mean
            self.set_value(lstm, 1, folded, "W_folded")
            while len(lstm.input) < 4:
                lstm.input.append("")
            self.set_value(lstm, 3, bias, "B_folded")
            transpose.input[0] = x
            self.remove(sub, scale_node)
            return True
        return False

    def fold_output_scaling(self):
        """MatMul(h, D) -> Add(., d) -> Mul(., s) -> Add(., t) = the graph output."""
        for matmul in [n for n in self.graph.node if n.op_type == "MatMul"]:
            _, kernel = self.constant_operand(matmul)
            chain = [matmul]
            for op in ("Add", "Mul", "Add"):
                following = self.consumers(chain[-1].output[0])
                if len(following) != 1 or following[0].op_type != op or self.is_graph_output(chain[-1].output[0]):
                    break
                chain.append(following[0])
            if kernel is None or len(chain) != 4 or not self.is_graph_output(chain[-1].output[0]):
                continue
            values = [self.constant_operand(node)[1] for node in chain[1:]]
            if any(v is None for v in values):
                continue
            offset, scale, shift = (np.asarray(v, "float64") for v in values)
            if scale.ndim > 1 or shift.ndim > 1 or offset.ndim > 1:
                continue
            self.set_value(matmul, 1, kernel.astype("float64") * scale, "kernel_folded")
            head_add = chain[1]
            slot = 1 if head_add.input[0] == matmul.output[0] else 0
            self.set_value(head_add, slot, offset * scale + shift, "bias_folded")
            head_add.output[0] = chain[-1].output[0]
            self.remove(chain[2], chain[3])
            return True
        return False
