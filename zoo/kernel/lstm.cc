// Every fused LSTM cell of the zoo over a whole sequence, forward and backward, as two TensorFlow
// ops: the standard cell and its variants (peepholes, coupled input-forget gate, projection,
// layer norm), alone or combined, as zoo.cells.lowering writes the formula.
//
// Why: on CPU, TensorFlow runs an LSTM as a while loop of ~20 small ops per step, forward and
// backward, and XLA runs a loop's work on one core; at 64-128 units either way spends its time
// running ops, not doing arithmetic. Here one op runs every step: x·W for all steps at once, then
// per step a matmul h(t-1)·R (Eigen) and the gates as vectorised array expressions; the backward
// op's gate gradients are one routine per row. The batch is split across the CPU's threads; each
// slice runs the whole sequence on its own, so the threads never wait for each other.
//
// Sizes: H = units (c and each gate block), P = width of h (H, or the projection's width),
// G = gate blocks: 4 (i, f, c, o; Keras' order) or 3 with `coupled` (f, c, o; i = 1 - f).
// Layout (batch-major, as Keras holds sequences):
//   ZooLstmForward(x[B,T,I], recurrent[P,GH], h0[B,P], c0[B,H], mask[B,T], norm, peephole,
//                  projection, bias[GH], kernel[I,GH])
//     -> out[B,T,P] in processing order (reversed with `reverse`, as Keras' loop returns it),
//        h_before[B,T,P] (the h each step started from), h_last[B,P], c[B,T,H] (the cell after
//        each step) and gates[B,T,GH] (activated gates), the per-step tensors indexed by input
//        time step; z_hat, c_hat, inv_std (layer norm only, else empty); shown[B,T,H] =
//        o ⊙ tanh(c), what the projection multiplies (else empty)
//   ZooLstmBackward(d_out[B,T,P], dh_last[B,P], dc_last[B,H], gates, c, c0, mask, recurrent,
//                   norm, z_hat, c_hat, inv_std, peephole, projection, bias, h_before, x)
//     -> dz[B,T,GH] (gradient of x·W + h·R), dh0[B,P], dc0[B,H], d_norm, d_peephole,
//        dh_steps[B,T,P], the gradient of each step's projected h (projection only, else empty),
//        d_bias[GH] = Σ dz (with a bias, else empty), summed while dz is in cache, and
//        d_recurrent[P,GH] = Σ_t h_before(t)ᵀ·dz(t) and d_kernel[I,GH] = Σ_t x(t)ᵀ·dz(t), one
//        matmul each per batch slice; the caller computes x's gradient dz·Wᵀ only where it is needed
// The forward op keeps h_before rather than the h after each step so that R's gradient needs no
// shifted copy. The projection's gradient, Σ_t shown(t)ᵀ·dh_steps(t), is one matmul by the caller.
// Masks follow Keras' loop: a masked step keeps the states, and its output is the previous
// output, or zero with zero_output_for_mask. Unmasked sequences pass a mask of ones.
//
// Variants, each an input that is empty when the cell lacks it:
// - `peephole` = [p_i | p_f | p_o] (3H; p_i unused when coupled): i = σ(a_i + p_i ⊙ c(t-1)),
//   f = σ(a_f + p_f ⊙ c(t-1)), o = σ(a_o + p_o ⊙ c(t)).
// - `projection` = W_p [H, P]: h = (o ⊙ tanh(c))·W_p.
// - `layer_norm`: each gate's block of x·W + h·R is normalised, scaled and shifted,
//   a_k = γ_k ⊙ LN(z_k) + b_k, and with `normalize_cell` so is the cell before the output
//   squashing, h = o ⊙ tanh(γ_c ⊙ LN(c) + β_c). `norm` = [γ (GH) | b (GH) | γ_c (H) | β_c (H)]; the
//   forward pass keeps the normalised values and inverse deviations, the backward pass returns
//   the gradient of `norm`. Without layer norm a_k = z_k + b_k with `bias` (empty: no bias), added
//   here rather than by a separate pass over the [B,T,GH] tensor.

#include <algorithm>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/platform/threadpool.h"
#include "unsupported/Eigen/CXX11/Tensor"

namespace zoo {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;
using tensorflow::shape_inference::InferenceContext;

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const Matrix>;
// One time step of a slice of batch rows in a [B, T, width] tensor: rows are T·width apart.
using StepMap = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;
using ConstStepMap = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;
using ConstStepMask = Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, 1>, 0, Eigen::InnerStride<>>;

REGISTER_OP("ZooLstmForward")
    .Input("x: float")
    .Input("recurrent: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("mask: float")
    .Input("norm: float")
    .Input("peephole: float")
    .Input("projection: float")
    .Input("bias: float")
    .Input("kernel: float")
    .Attr("zero_output_for_mask: bool = false")
    .Attr("reverse: bool = false")
    .Attr("layer_norm: bool = false")
    .Attr("normalize_cell: bool = false")
    .Attr("coupled: bool = false")
    .Attr("epsilon: float = 1e-5")
    .Output("out: float")
    .Output("h_before: float")
    .Output("h_last: float")
    .Output("c: float")
    .Output("gates: float")
    .Output("z_hat: float")
    .Output("c_hat: float")
    .Output("inv_std: float")
    .Output("shown: float")
    .SetShapeFn([](InferenceContext* ctx) {
      auto x = ctx->input(0);
      auto batch = ctx->Dim(x, 0), steps = ctx->Dim(x, 1);
      auto gates = ctx->MakeShape({batch, steps, ctx->Dim(ctx->input(1), 1)});
      auto outputs = ctx->MakeShape({batch, steps, ctx->Dim(ctx->input(2), 1)});
      ctx->set_output(0, outputs);
      ctx->set_output(1, outputs);
      ctx->set_output(2, ctx->input(2));
      ctx->set_output(3, ctx->MakeShape({batch, steps, ctx->Dim(ctx->input(3), 1)}));
      ctx->set_output(4, gates);
      for (int k = 5; k < 9; ++k) ctx->set_output(k, ctx->UnknownShape());
      return absl::OkStatus();
    });

REGISTER_OP("ZooLstmBackward")
    .Input("d_out: float")
    .Input("dh_last: float")
    .Input("dc_last: float")
    .Input("gates: float")
    .Input("c: float")
    .Input("c0: float")
    .Input("mask: float")
    .Input("recurrent: float")
    .Input("norm: float")
    .Input("z_hat: float")
    .Input("c_hat: float")
    .Input("inv_std: float")
    .Input("peephole: float")
    .Input("projection: float")
    .Input("bias: float")
    .Input("h_before: float")
    .Input("x: float")
    .Attr("zero_output_for_mask: bool = false")
    .Attr("reverse: bool = false")
    .Attr("layer_norm: bool = false")
    .Attr("normalize_cell: bool = false")
    .Attr("coupled: bool = false")
    .Output("dz: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Output("d_norm: float")
    .Output("d_peephole: float")
    .Output("dh_steps: float")
    .Output("d_bias: float")
    .Output("d_recurrent: float")
    .Output("d_kernel: float")
    .SetShapeFn([](InferenceContext* ctx) {
      ctx->set_output(0, ctx->input(3));
      ctx->set_output(1, ctx->input(1));
      ctx->set_output(2, ctx->input(2));
      ctx->set_output(3, ctx->input(8));
      ctx->set_output(4, ctx->input(12));
      ctx->set_output(5, ctx->UnknownShape());
      ctx->set_output(6, ctx->input(14));
      ctx->set_output(7, ctx->input(7));
      ctx->set_output(8, ctx->MakeShape({ctx->Dim(ctx->input(16), 2), ctx->Dim(ctx->input(3), 2)}));
      return absl::OkStatus();
    });

namespace {

using Array = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Array<float, 1, Eigen::Dynamic>;
using ColumnVector = Eigen::Array<float, Eigen::Dynamic, 1>;
using ConstRow = Eigen::Map<const RowVector>;

// How the batch is cut: one slice per CPU thread, not the cost model's smaller shards (8 rows
// each at batch 64): the step's matmul h·R runs 25-30% faster on 32 rows than on 8 (Eigen's
// kernel tiles rows), and no more threads run than there are cores.
struct BatchSlices {
  int64_t batch, rows_per_slice, count;

  BatchSlices(OpKernelContext* ctx, int64_t batch) : batch(batch) {
    const int64_t threads = ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
    const int64_t wanted = std::max<int64_t>(1, std::min<int64_t>(threads, batch));
    rows_per_slice = std::max<int64_t>(1, (batch + wanted - 1) / wanted);
    count = (batch + rows_per_slice - 1) / rows_per_slice;
  }

  // Runs fn(slice, first_row, end_row) for every slice, concurrently.
  template <typename Fn>
  void Run(OpKernelContext* ctx, Fn fn) const {
    ctx->device()->tensorflow_cpu_worker_threads()->workers->TransformRangeConcurrently(
        rows_per_slice, batch, [&](int64_t first, int64_t end) { fn(first / rows_per_slice, first, end); });
  }
};

// Whether every row of a slice is kept at this step (no masking to apply).
bool AllKept(const float* mask, int64_t rows, int64_t stride) {
  for (int64_t r = 0; r < rows; ++r) {
    if (mask[r * stride] <= 0.0f) return false;
  }
  return true;
}

// The cell's structure, from the op's attributes and inputs: sizes, which variants are on, and
// where each gate block sits in a row of z and of the gates.
struct Cell {
  int64_t units = 0, out_units = 0, blocks = 4;  // H, P, G
  bool coupled = false, peephole = false, projection = false, gate_norm = false, cell_norm = false;

  int64_t width() const { return blocks * units; }
  int64_t norm_size() const { return gate_norm ? (2 * blocks + 2) * units : 0; }
  int64_t input_gate() const { return 0; }  // absent when coupled
  int64_t forget_gate() const { return coupled ? 0 : units; }
  int64_t candidate() const { return forget_gate() + units; }
  int64_t output_gate() const { return candidate() + units; }
};

// Attributes shared by both ops.
struct Attributes {
  bool zero_output = false, reverse = false, layer_norm = false, normalize_cell = false, coupled = false;

  explicit Attributes(OpKernelConstruction* ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("zero_output_for_mask", &zero_output));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("reverse", &reverse));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("layer_norm", &layer_norm));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize_cell", &normalize_cell));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("coupled", &coupled));
  }

  Cell Describe(const Tensor& c0, const Tensor& recurrent, const Tensor& peephole, const Tensor& projection) const {
    Cell cell;
    cell.units = c0.dims() == 2 ? c0.dim_size(1) : 0;
    cell.out_units = recurrent.dims() == 2 ? recurrent.dim_size(0) : 0;
    cell.coupled = coupled;
    cell.blocks = coupled ? 3 : 4;
    cell.peephole = peephole.NumElements() > 0;
    cell.projection = projection.NumElements() > 0;
    cell.gate_norm = layer_norm;
    cell.cell_norm = layer_norm && normalize_cell;
    return cell;
  }
};

// The weights every step shares, checked against the cell: R, norm, peepholes, projection, bias
// (which a layer-normalised cell keeps in `norm`).
bool CheckWeights(OpKernelContext* ctx, const Cell& cell, const Tensor& recurrent, const Tensor& norm,
                  const Tensor& peephole, const Tensor& projection, const Tensor& bias) {
  const int64_t units = cell.units, out_units = cell.out_units;
  const bool ok = recurrent.dims() == 2 && recurrent.dim_size(1) == cell.width() && norm.dims() == 1 &&
                  bias.dims() == 1 && (bias.dim_size(0) == 0 || (bias.dim_size(0) == cell.width() && !cell.gate_norm)) &&
                  norm.dim_size(0) == cell.norm_size() && peephole.dims() == 1 &&
                  (!cell.peephole || peephole.dim_size(0) == 3 * units) &&
                  (cell.projection ? projection.dims() == 2 && projection.dim_size(0) == units &&
                                         projection.dim_size(1) == out_units
                                   : out_units == units);
  if (!ok) ctx->CtxFailure(InvalidArgument("ZooLstm: shapes do not agree"));
  return ok;
}

bool CheckShapes(OpKernelContext* ctx, const Cell& cell, const Tensor& x, const Tensor& kernel, const Tensor& h0,
                 const Tensor& c0, const Tensor& mask) {
  if (x.dims() != 3 || kernel.dims() != 2 || h0.dims() != 2 || c0.dims() != 2 || mask.dims() != 2) {
    ctx->CtxFailure(InvalidArgument("ZooLstm: x must be rank 3, the kernel, mask and states rank 2"));
    return false;
  }
  const int64_t batch = x.dim_size(0);
  const bool ok = kernel.dim_size(0) == x.dim_size(2) && kernel.dim_size(1) == cell.width() &&
                  h0.dim_size(1) == cell.out_units &&
                  h0.dim_size(0) == batch && c0.dim_size(0) == batch && mask.dim_size(0) == batch &&
                  mask.dim_size(1) == x.dim_size(1);
  if (!ok) ctx->CtxFailure(InvalidArgument("ZooLstm: shapes do not agree"));
  return ok;
}

// Which input time step the s-th processed step reads, and which step came before it.
struct Order {
  int64_t steps;
  bool reverse;
  int64_t time(int64_t s) const { return reverse ? steps - 1 - s : s; }
  int64_t before(int64_t s) const { return reverse ? steps - s : s - 1; }
};

// Row-wise layer normalisation of x into x_hat; returns each row's 1/sqrt(var + epsilon).
template <typename In, typename Out>
ColumnVector Normalize(const In& x, Out x_hat, float epsilon) {
  const ColumnVector mean = x.array().rowwise().mean();
  x_hat = (x.array().colwise() - mean).matrix();
  const ColumnVector inv = (x_hat.array().square().rowwise().mean() + epsilon).rsqrt();
  x_hat = (x_hat.array().colwise() * inv).matrix();
  return inv;
}

// ∂L/∂x from ∂L/∂y through y = LN(x), in place over one row of n values: dy = g, y = x̂, and
// inv = 1/sqrt(var + ε) of the row.
void NormalizeBackwardRow(float* __restrict g, const float* __restrict y, float inv, int64_t n) {
  const Eigen::Map<const RowVector> gs(g, n), ys(y, n);  // Eigen's sums vectorise; a plain loop's may not
  const float mean_g = gs.mean(), mean_gy = (gs * ys).mean();
  for (int64_t j = 0; j < n; ++j) g[j] = (g[j] - mean_g - y[j] * mean_gy) * inv;
}

// Where one row of one step of the backward pass reads and writes. Pointers a cell lacks are null.
struct RowGradient {
  const float* gates;     // activated gate blocks, [i|f|c|o] or [f|c|o] when coupled
  const float* tanh_c;    // tanh of the cell as h saw it: tanh(c), or tanh(γ_c ⊙ ĉ + β_c)
  const float* c_before;  // c(t-1)
  const float* c_now;     // c(t)
  const float* c_hat;     // ĉ(t) (cell norm)
  const float* z_hat;     // ẑ(t) (gate norm)
  const float* inv;       // the row's inverse deviations, one per block and the cell's (layer norm)
  const float* dm;        // ∂L/∂(o ⊙ tanh(...)) at this step
  float* dc_next;         // in: ∂L/∂c(t) from later steps; out: ∂L/∂c(t-1)
  float* dz;              // out: ∂L/∂z, z = x·W + h·R (+ b)
};

// Weights and per-slice sums the row gradients share.
struct RowWeights {
  const float* norm;      // [γ | b | γ_c | β_c]
  const float* peephole;  // [p_i | p_f | p_o]
  float* d_norm;
  float* d_peephole;
  float* d_bias;          // null without a bias
  float* scratch;         // G·H + H floats
};

// One row of one step of the backward pass, every variant, as a few loops over the row the
// compiler vectorises: gate gradients da, then (gate norm) back through each block's LN into dz.
// One pass per stage, not one per array expression, and no temporaries. Kept rows only: a masked
// row's dz is zero and its dc_next passes through unchanged.
template <bool kPeephole, bool kCoupled>
void GateGradientsRow(const Cell& cell, const RowGradient& row, const RowWeights& weights) {
  const int64_t units = cell.units, width = cell.width();
  const float* __restrict gates = row.gates;
  const float* __restrict tanh_c = row.tanh_c;
  const float* __restrict c_before = row.c_before;
  const float* __restrict dm = row.dm;
  float* __restrict dc_next = row.dc_next;
  const float *f = gates + cell.forget_gate(), *candidate = gates + cell.candidate(), *o = gates + cell.output_gate();
  const float* i = gates + cell.input_gate();  // unused when coupled
  float* __restrict d_shown = weights.scratch + width;  // ∂L/∂c(t) through h, before the state's own
  for (int64_t j = 0; j < units; ++j) d_shown[j] = dm[j] * o[j] * (1.0f - tanh_c[j] * tanh_c[j]);
  if (cell.cell_norm) {  // back through γ_c ⊙ LN(c) + β_c
    const float* gamma = weights.norm + 2 * width;
    float *d_gamma = weights.d_norm + 2 * width, *d_beta = d_gamma + units;
    for (int64_t j = 0; j < units; ++j) {
      d_gamma[j] += d_shown[j] * row.c_hat[j];
      d_beta[j] += d_shown[j];
      d_shown[j] *= gamma[j];
    }
    NormalizeBackwardRow(d_shown, row.c_hat, row.inv[4], units);
  }
  // da = ∂L/∂a, the gate pre-activations after any norm: into dz directly without gate norm.
  float* __restrict da = cell.gate_norm ? weights.scratch : row.dz;
  float *da_i = da + cell.input_gate(), *da_f = da + cell.forget_gate(), *da_c = da + cell.candidate(),
        *da_o = da + cell.output_gate();
  const float *p_i = weights.peephole, *p_f = weights.peephole + units, *p_o = weights.peephole + 2 * units;
  for (int64_t j = 0; j < units; ++j) {
    da_o[j] = dm[j] * tanh_c[j] * o[j] * (1.0f - o[j]);
    float dc = dc_next[j] + d_shown[j];
    if (kPeephole) dc += da_o[j] * p_o[j];  // o saw the new cell
    if (kCoupled) {  // i = 1 - f: f both keeps c(t-1) and scales the new memory
      da_f[j] = dc * (c_before[j] - candidate[j]) * f[j] * (1.0f - f[j]);
      da_c[j] = dc * (1.0f - f[j]) * (1.0f - candidate[j] * candidate[j]);
    } else {
      da_i[j] = dc * candidate[j] * i[j] * (1.0f - i[j]);
      da_f[j] = dc * c_before[j] * f[j] * (1.0f - f[j]);
      da_c[j] = dc * i[j] * (1.0f - candidate[j] * candidate[j]);
    }
    float dc_before = dc * f[j];
    if (kPeephole) {  // i and f saw the old cell
      dc_before += da_f[j] * p_f[j];
      if (!kCoupled) dc_before += da_i[j] * p_i[j];
    }
    dc_next[j] = dc_before;
  }
  if (kPeephole) {
    float *dp_i = weights.d_peephole, *dp_f = dp_i + units, *dp_o = dp_i + 2 * units;
    for (int64_t j = 0; j < units; ++j) {
      dp_o[j] += da_o[j] * row.c_now[j];
      dp_f[j] += da_f[j] * c_before[j];
      if (!kCoupled) dp_i[j] += da_i[j] * c_before[j];
    }
  }
  if (cell.gate_norm) {  // back through a_k = γ_k ⊙ LN(z_k) + b_k, block by block
    const float* gamma = weights.norm;
    float *d_gamma = weights.d_norm, *d_beta = weights.d_norm + width;
    float* __restrict dz = row.dz;
    for (int64_t j = 0; j < width; ++j) {
      d_gamma[j] += da[j] * row.z_hat[j];
      d_beta[j] += da[j];
      dz[j] = da[j] * gamma[j];
    }
    for (int64_t k = 0; k < cell.blocks; ++k) {
      NormalizeBackwardRow(dz + k * units, row.z_hat + k * units, row.inv[k], units);
    }
  }
  if (weights.d_bias != nullptr) {
    for (int64_t j = 0; j < width; ++j) weights.d_bias[j] += row.dz[j];
  }
}

using GateGradientsFn = void (*)(const Cell&, const RowGradient&, const RowWeights&);

GateGradientsFn GateGradientsFor(const Cell& cell) {
  if (cell.peephole) return cell.coupled ? GateGradientsRow<true, true> : GateGradientsRow<true, false>;
  return cell.coupled ? GateGradientsRow<false, true> : GateGradientsRow<false, false>;
}

// Columns of inv_std per (row, step): one per gate block, then the cell's.
constexpr int64_t kInvColumns = 5;

}  // namespace

class ZooLstmForwardOp : public OpKernel {
 public:
  explicit ZooLstmForwardOp(OpKernelConstruction* ctx) : OpKernel(ctx), attributes_(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& recurrent = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    const Tensor& c0 = ctx->input(3);
    const Tensor& mask = ctx->input(4);
    const Tensor& norm = ctx->input(5);
    const Tensor& peephole = ctx->input(6);
    const Tensor& projection = ctx->input(7);
    const Tensor& bias = ctx->input(8);
    const Tensor& input_kernel = ctx->input(9);
    const Cell cell = attributes_.Describe(c0, recurrent, peephole, projection);
    if (!CheckWeights(ctx, cell, recurrent, norm, peephole, projection, bias)) return;
    if (!CheckShapes(ctx, cell, x, input_kernel, h0, c0, mask)) return;
    const int64_t batch = x.dim_size(0), steps = x.dim_size(1), inputs = x.dim_size(2);
    const int64_t units = cell.units, out_units = cell.out_units, width = cell.width();
    const TensorShape cells({batch, steps, units}), outputs({batch, steps, out_units}), wide_shape({batch, steps, width});
    const TensorShape empty({0});
    Tensor *out_tensor, *h_tensor, *h_last_tensor, *c_tensor, *gates_tensor, *z_hat_tensor, *c_hat_tensor,
        *inv_tensor, *shown_tensor;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, outputs, &out_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, outputs, &h_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, h0.shape(), &h_last_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, cells, &c_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, wide_shape, &gates_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, cell.gate_norm ? wide_shape : empty, &z_hat_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(6, cell.cell_norm ? cells : empty, &c_hat_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(7, cell.gate_norm ? TensorShape({batch, steps, kInvColumns}) : empty,
                                             &inv_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(8, cell.projection ? cells : empty, &shown_tensor));
    if (batch == 0) return;
    if (steps == 0) {  // no step ran: the state is the initial one
      h_last_tensor->flat<float>() = h0.flat<float>();
      return;
    }

    const float* x_data = x.flat<float>().data();
    const float* h0_data = h0.flat<float>().data();
    const float* c0_data = c0.flat<float>().data();
    const float* mask_data = mask.flat<float>().data();
    const float* norm_data = norm.flat<float>().data();
    const float* peephole_data = peephole.flat<float>().data();
    const bool with_bias = bias.NumElements() > 0;
    const ConstRow bias_row(with_bias ? bias.flat<float>().data() : nullptr, with_bias ? width : 0);
    float* out_data = out_tensor->flat<float>().data();
    float* h_data = h_tensor->flat<float>().data();  // h before each step
    float* h_last_data = h_last_tensor->flat<float>().data();
    float* c_data = c_tensor->flat<float>().data();
    float* gates_data = gates_tensor->flat<float>().data();
    float* z_hat_data = z_hat_tensor->flat<float>().data();
    float* c_hat_data = c_hat_tensor->flat<float>().data();
    float* inv_data = inv_tensor->flat<float>().data();
    float* shown_data = shown_tensor->flat<float>().data();
    ConstMatrixMap kernel(recurrent.flat<float>().data(), out_units, width);
    ConstMatrixMap project(cell.projection ? projection.flat<float>().data() : nullptr, cell.projection ? units : 0,
                           cell.projection ? out_units : 0);
    const bool zero_output = attributes_.zero_output;
    const float epsilon = epsilon_;
    const Order order{steps, attributes_.reverse};
    const Eigen::OuterStride<> wide(steps * width), narrow(steps * units), outer(steps * out_units);
    const int64_t I = cell.input_gate(), F = cell.forget_gate(), C = cell.candidate(), O = cell.output_gate();

    BatchSlices(ctx, batch).Run(ctx, [&](int64_t, int64_t first, int64_t end) {
      const int64_t rows = end - first;
      Matrix z(rows, width), c_new(rows, units), shown(rows, units), h_new(rows, out_units);
      const int64_t row0 = first * steps;  // first row of the slice, before the step offset
      // x·W for the slice's rows and all steps at once (one matmul with a long outer dimension),
      // into the gates' buffer: each step reads its part and overwrites it with the activations.
      Eigen::Map<Matrix>(gates_data + row0 * width, rows * steps, width).noalias() =
          ConstMatrixMap(x_data + row0 * inputs, rows * steps, inputs) *
          ConstMatrixMap(input_kernel.flat<float>().data(), inputs, width);
      StepMap(h_data + (row0 + order.time(0)) * out_units, rows, out_units, outer) =
          ConstMatrixMap(h0_data + first * out_units, rows, out_units);
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t t = order.time(s), tb = order.before(s);
        ConstStepMap h_before(h_data + (row0 + t) * out_units, rows, out_units, outer);
        ConstStepMap c_before = s == 0 ? ConstStepMap(c0_data + first * units, rows, units, Eigen::OuterStride<>(units))
                                       : ConstStepMap(c_data + (row0 + tb) * units, rows, units, narrow);
        StepMap gates(gates_data + (row0 + t) * width, rows, width, wide);  // x·W(t), then the activations
        if (with_bias) {
          z.noalias() = (gates.array().rowwise() + bias_row).matrix();
        } else {
          z.noalias() = gates;
        }
        z.noalias() += h_before * kernel;
        if (cell.gate_norm) {  // a_k = γ_k ⊙ LN(z_k) + b_k, block by block
          StepMap z_hat(z_hat_data + (row0 + t) * width, rows, width, wide);
          Eigen::Map<Array, 0, Eigen::OuterStride<>> inv(inv_data + (row0 + t) * kInvColumns, rows, kInvColumns,
                                                          Eigen::OuterStride<>(steps * kInvColumns));
          for (int64_t k = 0; k < cell.blocks; ++k) {
            inv.col(k) = Normalize(z.middleCols(k * units, units), z_hat.middleCols(k * units, units), epsilon);
          }
          const ConstRow gamma(norm_data, width), bias(norm_data + width, width);
          z = ((z_hat.array().rowwise() * gamma).rowwise() + bias).matrix();
        }
        // The peepholes add into z first, so every activation below runs over a plain block of z
        // (Eigen vectorises logistic() there, not over a sum with a broadcast row).
        if (cell.peephole) {  // i and f also see the old cell
          const ConstRow p_i(peephole_data, units), p_f(peephole_data + units, units);
          if (!cell.coupled) z.middleCols(I, units).array() += c_before.array().rowwise() * p_i;
          z.middleCols(F, units).array() += c_before.array().rowwise() * p_f;
        }
        gates.leftCols(C) = z.leftCols(C).array().logistic().matrix();  // i and f are adjacent (or f is alone)
        gates.middleCols(C, units) = z.middleCols(C, units).array().tanh().matrix();
        auto f = gates.middleCols(F, units).array();
        auto candidate = gates.middleCols(C, units).array();
        if (cell.coupled) {
          c_new = (f * c_before.array() + (1.0f - f) * candidate).matrix();
        } else {
          c_new = (f * c_before.array() + gates.middleCols(I, units).array() * candidate).matrix();
        }
        if (cell.peephole) {  // o sees the new cell
          const ConstRow p_o(peephole_data + 2 * units, units);
          z.middleCols(O, units).array() += c_new.array().rowwise() * p_o;
        }
        gates.middleCols(O, units) = z.middleCols(O, units).array().logistic().matrix();
        auto o = gates.middleCols(O, units).array();
        // h (before any projection) = o ⊙ tanh(γ_c ⊙ LN(c) + β_c) or o ⊙ tanh(c)
        Matrix& h_unprojected = cell.projection ? shown : h_new;
        if (cell.cell_norm) {
          StepMap c_hat(c_hat_data + (row0 + t) * units, rows, units, narrow);
          Eigen::Map<ColumnVector, 0, Eigen::InnerStride<>> inv(inv_data + (row0 + t) * kInvColumns + 4, rows,
                                                                 Eigen::InnerStride<>(steps * kInvColumns));
          inv = Normalize(c_new, c_hat, epsilon);
          const ConstRow gamma(norm_data + 2 * width, units), beta(norm_data + 2 * width + units, units);
          h_unprojected = (o * ((c_hat.array().rowwise() * gamma).rowwise() + beta).tanh()).matrix();
        } else {
          h_unprojected = (o * c_new.array().tanh()).matrix();
        }
        if (cell.projection) {
          StepMap(shown_data + (row0 + t) * units, rows, units, narrow) = shown;
          h_new.noalias() = shown * project;
        }
        // The new h is where the next step starts from (or the last state).
        StepMap h = s + 1 < steps ? StepMap(h_data + (row0 + order.time(s + 1)) * out_units, rows, out_units, outer)
                                  : StepMap(h_last_data + first * out_units, rows, out_units, Eigen::OuterStride<>(out_units));
        StepMap c(c_data + (row0 + t) * units, rows, units, narrow);
        StepMap out(out_data + (row0 + s) * out_units, rows, out_units, outer);
        ConstStepMask keep(mask_data + row0 + t, rows, Eigen::InnerStride<>(steps));
        if (AllKept(mask_data + row0 + t, rows, steps)) {
          h = h_new;
          c = c_new;
          out = h_new;
          continue;
        }
        for (int64_t r = 0; r < rows; ++r) {
          if (keep(r) > 0.0f) {
            h.row(r) = h_new.row(r);
            c.row(r) = c_new.row(r);
            out.row(r) = h_new.row(r);
          } else {
            h.row(r) = h_before.row(r);
            c.row(r) = c_before.row(r);
            if (zero_output || s == 0) {
              out.row(r).setZero();
            } else {
              out.row(r) = ConstStepMap(out_data + (row0 + s - 1) * out_units, rows, out_units, outer).row(r);
            }
          }
        }
      }
    });
  }

 private:
  Attributes attributes_;
  float epsilon_;
};

class ZooLstmBackwardOp : public OpKernel {
 public:
  explicit ZooLstmBackwardOp(OpKernelConstruction* ctx) : OpKernel(ctx), attributes_(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& d_out = ctx->input(0);
    const Tensor& dh_last = ctx->input(1);
    const Tensor& dc_last = ctx->input(2);
    const Tensor& gates = ctx->input(3);
    const Tensor& c = ctx->input(4);
    const Tensor& c0 = ctx->input(5);
    const Tensor& mask = ctx->input(6);
    const Tensor& recurrent = ctx->input(7);
    const Tensor& norm = ctx->input(8);
    const Tensor& z_hat_in = ctx->input(9);
    const Tensor& c_hat_in = ctx->input(10);
    const Tensor& inv_in = ctx->input(11);
    const Tensor& peephole = ctx->input(12);
    const Tensor& projection = ctx->input(13);
    const Tensor& bias = ctx->input(14);
    const Tensor& h_before = ctx->input(15);
    const Tensor& x = ctx->input(16);
    const Cell cell = attributes_.Describe(c0, recurrent, peephole, projection);
    if (!CheckWeights(ctx, cell, recurrent, norm, peephole, projection, bias)) return;
    OP_REQUIRES(ctx, gates.dims() == 3 && d_out.dims() == 3 && c.dims() == 3 && mask.dims() == 2 &&
                         c0.dims() == 2 && dh_last.dims() == 2,
                InvalidArgument("ZooLstmBackward: d_out, gates and c must be rank 3, mask and states rank 2"));
    const int64_t batch = gates.dim_size(0), steps = gates.dim_size(1);
    const int64_t units = cell.units, out_units = cell.out_units, width = cell.width();
    OP_REQUIRES(ctx, d_out.dim_size(0) == batch && d_out.dim_size(1) == steps && d_out.dim_size(2) == out_units &&
                         c.dim_size(0) == batch && c.dim_size(1) == steps && c.dim_size(2) == units &&
                         gates.dim_size(2) == width && dc_last.shape() == c0.shape() &&
                         dh_last.dim_size(0) == batch && dh_last.dim_size(1) == out_units &&
                         c0.dim_size(0) == batch && mask.dim_size(0) == batch && mask.dim_size(1) == steps &&
                         z_hat_in.NumElements() == (cell.gate_norm ? gates.NumElements() : 0) &&
                         c_hat_in.NumElements() == (cell.cell_norm ? c.NumElements() : 0) &&
                         inv_in.NumElements() == (cell.gate_norm ? batch * steps * kInvColumns : 0) &&
                         h_before.shape() == d_out.shape() && x.dims() == 3 && x.dim_size(0) == batch &&
                         x.dim_size(1) == steps,
                InvalidArgument("ZooLstmBackward: shapes do not agree"));
    Tensor *dz_tensor, *dh0_tensor, *dc0_tensor, *d_norm_tensor, *d_peephole_tensor, *dh_steps_tensor, *d_bias_tensor,
        *d_recurrent_tensor, *d_kernel_tensor;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, gates.shape(), &dz_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, dh_last.shape(), &dh0_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, c0.shape(), &dc0_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, norm.shape(), &d_norm_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, peephole.shape(), &d_peephole_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, cell.projection ? d_out.shape() : TensorShape({0}), &dh_steps_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(6, bias.shape(), &d_bias_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(7, recurrent.shape(), &d_recurrent_tensor));
    const int64_t inputs = x.dim_size(2);
    OP_REQUIRES_OK(ctx, ctx->allocate_output(8, TensorShape({inputs, width}), &d_kernel_tensor));
    d_norm_tensor->flat<float>().setZero();
    d_peephole_tensor->flat<float>().setZero();
    d_bias_tensor->flat<float>().setZero();
    Eigen::Map<Matrix> d_recurrent(d_recurrent_tensor->flat<float>().data(), out_units, width);
    d_recurrent.setZero();
    Eigen::Map<Matrix> d_kernel(d_kernel_tensor->flat<float>().data(), inputs, width);
    d_kernel.setZero();
    const bool with_bias = bias.NumElements() > 0;
    const float* d_out_data = d_out.flat<float>().data();
    const float* gates_data = gates.flat<float>().data();
    const float* c_data = c.flat<float>().data();
    const float* c0_data = c0.flat<float>().data();
    const float* mask_data = mask.flat<float>().data();
    const float* dh_last_data = dh_last.flat<float>().data();
    const float* dc_last_data = dc_last.flat<float>().data();
    const float* norm_data = norm.flat<float>().data();
    const float* z_hat_data = z_hat_in.flat<float>().data();
    const float* c_hat_data = c_hat_in.flat<float>().data();
    const float* inv_data = inv_in.flat<float>().data();
    const float* peephole_data = peephole.flat<float>().data();
    float* dz_data = dz_tensor->flat<float>().data();
    float* dh0_data = dh0_tensor->flat<float>().data();
    float* dc0_data = dc0_tensor->flat<float>().data();
    float* d_norm_data = d_norm_tensor->flat<float>().data();
    float* d_peephole_data = d_peephole_tensor->flat<float>().data();
    float* dh_steps_data = dh_steps_tensor->flat<float>().data();
    float* d_bias_data = d_bias_tensor->flat<float>().data();
    // Rᵀ and W_pᵀ laid out row-major once: Eigen multiplies by them much faster than by
    // transposed views.
    const Matrix kernel_t = ConstMatrixMap(recurrent.flat<float>().data(), out_units, width).transpose();
    const Matrix project_t = cell.projection
                                 ? Matrix(ConstMatrixMap(projection.flat<float>().data(), units, out_units).transpose())
                                 : Matrix();
    const bool zero_output = attributes_.zero_output;
    const Order order{steps, attributes_.reverse};
    const Eigen::OuterStride<> wide(steps * width), narrow(steps * units), outer(steps * out_units);
    const GateGradientsFn gate_gradients = GateGradientsFor(cell);
    // Each slice sums its own share of the weight gradients (d_norm, d_peephole, d_bias, R's); the
    // shares are added in slice order afterwards, so results do not depend on thread timing.
    const BatchSlices slices(ctx, batch);
    std::vector<RowVector> norm_shares(slices.count), peephole_shares(slices.count), bias_shares(slices.count);
    std::vector<Matrix> recurrent_shares(slices.count), kernel_shares(slices.count);

    slices.Run(ctx, [&](int64_t slice, int64_t first, int64_t end) {
      const int64_t rows = end - first, row0 = first * steps;
      // Gradients flowing into step s from later steps: of the h and c states, and of out(s)
      // through the outputs that masked later steps copied from it.
      Matrix dh_next = ConstMatrixMap(dh_last_data + first * out_units, rows, out_units);
      Matrix dc_next = ConstMatrixMap(dc_last_data + first * units, rows, units);
      Matrix d_out_carried = Matrix::Zero(rows, out_units);
      Matrix d_out_total(rows, out_units), dh(rows, out_units), d_shown_h(rows, units), tanh_c(rows, units),
          dh_new(rows, out_units);
      RowVector& d_norm = norm_shares[slice] = RowVector::Zero(norm.NumElements());
      RowVector& d_peephole = peephole_shares[slice] = RowVector::Zero(peephole.NumElements());
      RowVector& d_bias = bias_shares[slice] = RowVector::Zero(bias.NumElements());
      RowVector scratch(width + units);
      const RowWeights weights{norm_data, peephole_data, d_norm.data(), d_peephole.data(),
                               with_bias ? d_bias.data() : nullptr, scratch.data()};
      for (int64_t s = steps - 1; s >= 0; --s) {
        const int64_t t = order.time(s), tb = order.before(s);
        const float* step_mask = mask_data + row0 + t;  // row r's at step_mask[r * steps]
        const bool all_kept = AllKept(step_mask, rows, steps);  // the common case
        ConstStepMap c_now(c_data + (row0 + t) * units, rows, units, narrow);
        if (cell.cell_norm) {  // what tanh squashed: γ_c ⊙ ĉ + β_c
          const ConstRow gamma(norm_data + 2 * width, units), beta(norm_data + 2 * width + units, units);
          ConstStepMap c_hat(c_hat_data + (row0 + t) * units, rows, units, narrow);
          tanh_c = ((c_hat.array().rowwise() * gamma).rowwise() + beta).tanh().matrix();
        } else {
          tanh_c = c_now.array().tanh().matrix();
        }
        d_out_total = ConstStepMap(d_out_data + (row0 + s) * out_units, rows, out_units, outer) + d_out_carried;
        dh = d_out_total + dh_next;
        if (!all_kept) {  // a masked step passes no gradient into its own gates
          for (int64_t r = 0; r < rows; ++r) {
            if (step_mask[r * steps] <= 0.0f) dh.row(r).setZero();
          }
        }
        if (cell.projection) {  // h = shown·W_p: the caller sums shownᵀ·dh over steps
          StepMap(dh_steps_data + (row0 + t) * out_units, rows, out_units, outer) = dh;
          d_shown_h.noalias() = dh * project_t;
        }
        const Matrix& dm = cell.projection ? d_shown_h : dh;  // gradient of o ⊙ tanh(...)
        StepMap dz(dz_data + (row0 + t) * width, rows, width, wide);
        for (int64_t r = 0; r < rows; ++r) {
          if (!all_kept && step_mask[r * steps] <= 0.0f) {  // states pass through unchanged
            dz.row(r).setZero();
            continue;
          }
          const int64_t at = row0 + r * steps + t;  // row r at input step t
          const float* c_before = s == 0 ? c0_data + (first + r) * units : c_data + (row0 + r * steps + tb) * units;
          const RowGradient row{gates_data + at * width,
                                &tanh_c(r, 0),
                                c_before,
                                c_data + at * units,
                                cell.cell_norm ? c_hat_data + at * units : nullptr,
                                cell.gate_norm ? z_hat_data + at * width : nullptr,
                                cell.gate_norm ? inv_data + at * kInvColumns : nullptr,
                                &dm(r, 0),
                                &dc_next(r, 0),
                                &dz(r, 0)};
          gate_gradients(cell, row, weights);
        }
        if (all_kept) {
          dh_next.noalias() = dz * kernel_t;
          d_out_carried.setZero();
          continue;
        }
        dh_new.noalias() = dz * kernel_t;
        for (int64_t r = 0; r < rows; ++r) {  // masked rows: h passes through, its output was copied
          const bool kept = step_mask[r * steps] > 0.0f;
          if (kept) dh_next.row(r) = dh_new.row(r);
          if (kept || zero_output) {
            d_out_carried.row(r).setZero();
          } else {
            d_out_carried.row(r) = d_out_total.row(r);
          }
        }
      }
      Eigen::Map<Matrix>(dh0_data + first * out_units, rows, out_units) = dh_next;
      Eigen::Map<Matrix>(dc0_data + first * units, rows, units) = dc_next;
      // The slice's shares of R's and W's gradients, Σ over its rows and steps of h_before(t)ᵀ·dz(t)
      // and x(t)ᵀ·dz(t): the slice's rows are one contiguous block of (rows·T) rows, so each is one
      // matmul with a long inner dimension, each thread on its own rows (one large matmul after the
      // op splits its small output across threads poorly).
      const ConstMatrixMap dz_slice(dz_data + row0 * width, rows * steps, width);
      recurrent_shares[slice].noalias() =
          ConstMatrixMap(h_before.flat<float>().data() + row0 * out_units, rows * steps, out_units).transpose() *
          dz_slice;
      kernel_shares[slice].noalias() =
          ConstMatrixMap(x.flat<float>().data() + row0 * inputs, rows * steps, inputs).transpose() * dz_slice;
    });
    for (int64_t slice = 0; slice < slices.count; ++slice) {
      Eigen::Map<RowVector>(d_norm_data, norm.NumElements()) += norm_shares[slice];
      Eigen::Map<RowVector>(d_peephole_data, peephole.NumElements()) += peephole_shares[slice];
      Eigen::Map<RowVector>(d_bias_data, bias.NumElements()) += bias_shares[slice];
      d_recurrent += recurrent_shares[slice];
      d_kernel += kernel_shares[slice];
    }
  }

 private:
  Attributes attributes_;
};

REGISTER_KERNEL_BUILDER(Name("ZooLstmForward").Device(DEVICE_CPU), ZooLstmForwardOp);
REGISTER_KERNEL_BUILDER(Name("ZooLstmBackward").Device(DEVICE_CPU), ZooLstmBackwardOp);

}  // namespace zoo
