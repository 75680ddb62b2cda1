// The standard and layer-norm LSTM cells over a whole sequence, forward and backward, as two
// TensorFlow ops.
//
// Why: on CPU, TensorFlow runs an LSTM as a while loop of ~20 small ops per step, forward and
// backward, and XLA runs a loop's work on one core; at 64-128 units either way spends its time
// running ops, not doing arithmetic. Here one op runs every step: a matmul h(t-1)·R (Eigen), then
// the gates as vectorised array expressions. The batch is split across the CPU's threads; each
// slice runs the whole sequence on its own, so the threads never wait for each other.
//
// Layout (Keras' gate order i, f, c, o; batch-major, as Keras holds sequences):
//   ZooLstmForward(xw[B,T,4H] = x·W (+ b), recurrent[H,4H], h0[B,H], c0[B,H], mask[B,T], norm)
//     -> out[B,T,H] in processing order (reversed with `reverse`, as Keras' loop returns it),
//        h[B,T,H], c[B,T,H] (the states after each step) and gates[B,T,4H] (activated i, f, g, o),
//        both indexed by input time step, and z_hat, c_hat, inv_std (layer norm only, else empty)
//   ZooLstmBackward(d_out[B,T,H], dh_last[B,H], dc_last[B,H], gates, c, c0, mask, recurrent,
//                   norm, z_hat, c_hat, inv_std)
//     -> dz[B,T,4H] (gradient of x·W + h·R), dh0[B,H], dc0[B,H], d_norm
// The kernel's gradient, Σ_t h(t-1)ᵀ·dz(t), is one large matmul done by the caller.
// Masks follow Keras' loop: a masked step keeps the states, and its output is the previous
// output, or zero with zero_output_for_mask. Unmasked sequences pass a mask of ones.
//
// With `layer_norm` the cell is the layer-normalised LSTM (zoo.cells.LayerNormLSTMCell): each
// gate's block of x·W + h·R is normalised, scaled and shifted, a_k = γ_k ⊙ LN(z_k) + b_k, and
// with `normalize_cell` so is the cell before the output squashing, h = o ⊙ tanh(γ_c ⊙ LN(c) + β_c).
// Its weights come packed in `norm` = [γ (4H) | b (4H) | γ_c (H) | β_c (H)] (empty otherwise), the
// forward pass keeps the normalised values and inverse deviations, and the backward pass returns
// the gradient of `norm`.

#include <mutex>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"
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
    .Input("xw: float")
    .Input("recurrent: float")
    .Input("h0: float")
    .Input("c0: float")
    .Input("mask: float")
    .Input("norm: float")
    .Attr("zero_output_for_mask: bool = false")
    .Attr("reverse: bool = false")
    .Attr("layer_norm: bool = false")
    .Attr("normalize_cell: bool = false")
    .Attr("epsilon: float = 1e-5")
    .Output("out: float")
    .Output("h: float")
    .Output("c: float")
    .Output("gates: float")
    .Output("z_hat: float")
    .Output("c_hat: float")
    .Output("inv_std: float")
    .SetShapeFn([](InferenceContext* ctx) {
      auto xw = ctx->input(0);
      auto sequence = ctx->MakeShape({ctx->Dim(xw, 0), ctx->Dim(xw, 1), ctx->Dim(ctx->input(2), 1)});
      ctx->set_output(0, sequence);
      ctx->set_output(1, sequence);
      ctx->set_output(2, sequence);
      ctx->set_output(3, xw);
      for (int k = 4; k < 7; ++k) ctx->set_output(k, ctx->UnknownShape());
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
    .Attr("zero_output_for_mask: bool = false")
    .Attr("reverse: bool = false")
    .Attr("layer_norm: bool = false")
    .Attr("normalize_cell: bool = false")
    .Output("dz: float")
    .Output("dh0: float")
    .Output("dc0: float")
    .Output("d_norm: float")
    .SetShapeFn([](InferenceContext* ctx) {
      ctx->set_output(0, ctx->input(3));
      ctx->set_output(1, ctx->input(2));
      ctx->set_output(2, ctx->input(2));
      ctx->set_output(3, ctx->input(8));
      return absl::OkStatus();
    });

namespace {

using Array = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowVector = Eigen::Array<float, 1, Eigen::Dynamic>;
using ColumnVector = Eigen::Array<float, Eigen::Dynamic, 1>;

// Runs fn(first_row, end_row) over slices of the batch on the op's CPU threads.
template <typename Fn>
void ForBatchSlices(OpKernelContext* ctx, int64_t batch, int64_t cost_per_row, Fn fn) {
  auto* threads = ctx->device()->tensorflow_cpu_worker_threads();
  tensorflow::Shard(threads->num_threads, threads->workers, batch, cost_per_row,
                    [&](int64_t first, int64_t end) { fn(first, end); });
}

bool CheckShapes(OpKernelContext* ctx, const Tensor& xw, const Tensor& recurrent, const Tensor& h0,
                 const Tensor& c0, const Tensor& mask, const Tensor& norm, bool layer_norm) {
  if (xw.dims() != 3 || recurrent.dims() != 2 || h0.dims() != 2 || c0.dims() != 2 ||
      mask.dims() != 2 || norm.dims() != 1) {
    ctx->CtxFailure(InvalidArgument("ZooLstm: xw must be rank 3, mask and states rank 2"));
    return false;
  }
  const int64_t units = recurrent.dim_size(0);
  if (recurrent.dim_size(1) != 4 * units || xw.dim_size(2) != 4 * units ||
      h0.dim_size(1) != units || c0.dim_size(1) != units || h0.dim_size(0) != xw.dim_size(0) ||
      c0.dim_size(0) != xw.dim_size(0) || mask.dim_size(0) != xw.dim_size(0) ||
      mask.dim_size(1) != xw.dim_size(1) || norm.dim_size(0) != (layer_norm ? 10 * units : 0)) {
    ctx->CtxFailure(InvalidArgument("ZooLstm: shapes do not agree"));
    return false;
  }
  return true;
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

// Gradient through y = LN(x), given dy, y and each row's inverse deviation.
template <typename Dy, typename Y, typename Inv>
Array NormalizeBackward(const Dy& dy, const Y& y, const Inv& inv) {
  const ColumnVector mean_dy = dy.rowwise().mean();
  const ColumnVector mean_dy_y = (dy * y).rowwise().mean();
  return ((dy.colwise() - mean_dy) - y.colwise() * mean_dy_y).colwise() * inv;
}

}  // namespace

class ZooLstmForwardOp : public OpKernel {
 public:
  explicit ZooLstmForwardOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("zero_output_for_mask", &zero_output_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("reverse", &reverse_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("layer_norm", &layer_norm_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize_cell", &normalize_cell_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& xw = ctx->input(0);
    const Tensor& recurrent = ctx->input(1);
    const Tensor& h0 = ctx->input(2);
    const Tensor& c0 = ctx->input(3);
    const Tensor& mask = ctx->input(4);
    const Tensor& norm = ctx->input(5);
    if (!CheckShapes(ctx, xw, recurrent, h0, c0, mask, norm, layer_norm_)) return;
    const int64_t batch = xw.dim_size(0), steps = xw.dim_size(1), units = recurrent.dim_size(0);
    const bool gate_norm = layer_norm_, cell_norm = layer_norm_ && normalize_cell_;
    const TensorShape sequence({batch, steps, units});
    Tensor *out_tensor, *h_tensor, *c_tensor, *gates_tensor, *z_hat_tensor, *c_hat_tensor, *inv_tensor;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, sequence, &out_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, sequence, &h_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, sequence, &c_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, xw.shape(), &gates_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, gate_norm ? xw.shape() : TensorShape({0}), &z_hat_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(5, cell_norm ? sequence : TensorShape({0}), &c_hat_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(6, gate_norm ? TensorShape({batch, steps, 5}) : TensorShape({0}),
                                             &inv_tensor));
    if (steps == 0 || batch == 0) return;

    const float* xw_data = xw.flat<float>().data();
    const float* h0_data = h0.flat<float>().data();
    const float* c0_data = c0.flat<float>().data();
    const float* mask_data = mask.flat<float>().data();
    const float* norm_data = norm.flat<float>().data();
    float* out_data = out_tensor->flat<float>().data();
    float* h_data = h_tensor->flat<float>().data();
    float* c_data = c_tensor->flat<float>().data();
    float* gates_data = gates_tensor->flat<float>().data();
    float* z_hat_data = z_hat_tensor->flat<float>().data();
    float* c_hat_data = c_hat_tensor->flat<float>().data();
    float* inv_data = inv_tensor->flat<float>().data();
    ConstMatrixMap kernel(recurrent.flat<float>().data(), units, 4 * units);
    const int64_t width = 4 * units;
    const bool zero_output = zero_output_;
    const float epsilon = epsilon_;
    const Order order{steps, reverse_};
    const Eigen::OuterStride<> wide(steps * width), narrow(steps * units);

    ForBatchSlices(ctx, batch, steps * width * units * 4, [&](int64_t first, int64_t end) {
      const int64_t rows = end - first;
      Matrix z(rows, width), c_new(rows, units), h_new(rows, units);
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t t = order.time(s), tb = order.before(s);
        const int64_t row0 = first * steps;  // first row of the slice, before the step offset
        ConstStepMap h_before = s == 0 ? ConstStepMap(h0_data + first * units, rows, units, Eigen::OuterStride<>(units))
                                       : ConstStepMap(h_data + (row0 + tb) * units, rows, units, narrow);
        ConstStepMap c_before = s == 0 ? ConstStepMap(c0_data + first * units, rows, units, Eigen::OuterStride<>(units))
                                       : ConstStepMap(c_data + (row0 + tb) * units, rows, units, narrow);
        z.noalias() = ConstStepMap(xw_data + (row0 + t) * width, rows, width, wide);
        z.noalias() += h_before * kernel;
        if (gate_norm) {  // a_k = γ_k ⊙ LN(z_k) + b_k, block by block
          StepMap z_hat(z_hat_data + (row0 + t) * width, rows, width, wide);
          Eigen::Map<Array, 0, Eigen::OuterStride<>> inv(inv_data + (row0 + t) * 5, rows, 5,
                                                          Eigen::OuterStride<>(steps * 5));
          for (int k = 0; k < 4; ++k) {
            inv.col(k) = Normalize(z.middleCols(k * units, units), z_hat.middleCols(k * units, units), epsilon);
          }
          const Eigen::Map<const RowVector> gamma(norm_data, width), bias(norm_data + width, width);
          z = ((z_hat.array().rowwise() * gamma).rowwise() + bias).matrix();
        }
        StepMap gates(gates_data + (row0 + t) * width, rows, width, wide);
        gates.leftCols(2 * units) = z.leftCols(2 * units).array().logistic().matrix();
        gates.middleCols(2 * units, units) = z.middleCols(2 * units, units).array().tanh().matrix();
        gates.rightCols(units) = z.rightCols(units).array().logistic().matrix();
        c_new = (gates.middleCols(units, units).array() * c_before.array() +
                 gates.leftCols(units).array() * gates.middleCols(2 * units, units).array())
                    .matrix();
        if (cell_norm) {  // h = o ⊙ tanh(γ_c ⊙ LN(c) + β_c)
          StepMap c_hat(c_hat_data + (row0 + t) * units, rows, units, narrow);
          Eigen::Map<ColumnVector, 0, Eigen::InnerStride<>> inv(inv_data + (row0 + t) * 5 + 4, rows,
                                                                 Eigen::InnerStride<>(steps * 5));
          inv = Normalize(c_new, c_hat, epsilon);
          const Eigen::Map<const RowVector> gamma(norm_data + 2 * width, units), beta(norm_data + 2 * width + units, units);
          h_new = (gates.rightCols(units).array() * ((c_hat.array().rowwise() * gamma).rowwise() + beta).tanh()).matrix();
        } else {
          h_new = (gates.rightCols(units).array() * c_new.array().tanh()).matrix();
        }
        StepMap h(h_data + (row0 + t) * units, rows, units, narrow);
        StepMap c(c_data + (row0 + t) * units, rows, units, narrow);
        StepMap out(out_data + (row0 + s) * units, rows, units, narrow);
        ConstStepMask keep(mask_data + row0 + t, rows, Eigen::InnerStride<>(steps));
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
              out.row(r) = ConstStepMap(out_data + (row0 + s - 1) * units, rows, units, narrow).row(r);
            }
          }
        }
      }
    });
  }

 private:
  bool zero_output_, reverse_, layer_norm_, normalize_cell_;
  float epsilon_;
};

class ZooLstmBackwardOp : public OpKernel {
 public:
  explicit ZooLstmBackwardOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("zero_output_for_mask", &zero_output_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("reverse", &reverse_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("layer_norm", &layer_norm_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize_cell", &normalize_cell_));
  }

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
    OP_REQUIRES(ctx, gates.dims() == 3 && d_out.dims() == 3 && c.dims() == 3 && mask.dims() == 2,
                InvalidArgument("ZooLstmBackward: d_out, gates and c must be rank 3, mask rank 2"));
    const int64_t batch = gates.dim_size(0), steps = gates.dim_size(1), units = recurrent.dim_size(0);
    const bool gate_norm = layer_norm_, cell_norm = layer_norm_ && normalize_cell_;
    OP_REQUIRES(ctx, d_out.shape() == c.shape() && c.dim_size(2) == units &&
                         gates.dim_size(2) == 4 * units && dc_last.shape() == c0.shape() &&
                         dh_last.shape() == c0.shape() && c0.dim_size(0) == batch &&
                         c0.dim_size(1) == units && mask.dim_size(0) == batch &&
                         mask.dim_size(1) == steps &&
                         norm.NumElements() == (gate_norm ? 10 * units : 0) &&
                         z_hat_in.NumElements() == (gate_norm ? gates.NumElements() : 0) &&
                         c_hat_in.NumElements() == (cell_norm ? c.NumElements() : 0) &&
                         inv_in.NumElements() == (gate_norm ? batch * steps * 5 : 0),
                InvalidArgument("ZooLstmBackward: shapes do not agree"));
    Tensor *dz_tensor, *dh0_tensor, *dc0_tensor, *d_norm_tensor;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, gates.shape(), &dz_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, c0.shape(), &dh0_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, c0.shape(), &dc0_tensor));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, norm.shape(), &d_norm_tensor));
    d_norm_tensor->flat<float>().setZero();
    const int64_t width = 4 * units;
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
    float* dz_data = dz_tensor->flat<float>().data();
    float* dh0_data = dh0_tensor->flat<float>().data();
    float* dc0_data = dc0_tensor->flat<float>().data();
    float* d_norm_data = d_norm_tensor->flat<float>().data();
    // Rᵀ laid out row-major once: Eigen multiplies by it much faster than by a transposed view.
    const Matrix kernel_t = ConstMatrixMap(recurrent.flat<float>().data(), units, width).transpose();
    const bool zero_output = zero_output_;
    const Order order{steps, reverse_};
    const Eigen::OuterStride<> wide(steps * width), narrow(steps * units);
    std::mutex d_norm_lock;

    ForBatchSlices(ctx, batch, steps * width * units * 8, [&](int64_t first, int64_t end) {
      const int64_t rows = end - first, row0 = first * steps;
      // Gradients flowing into step s from later steps: of the h and c states, and of out(s)
      // through the outputs that masked later steps copied from it.
      Matrix dh_next = ConstMatrixMap(dh_last_data + first * units, rows, units);
      Matrix dc_next = ConstMatrixMap(dc_last_data + first * units, rows, units);
      Matrix d_out_carried = Matrix::Zero(rows, units);
      Matrix d_out_total(rows, units), dh(rows, units), dc(rows, units), tanh_c(rows, units);
      Matrix da(rows, width);
      RowVector d_norm = RowVector::Zero(norm.NumElements());
      for (int64_t s = steps - 1; s >= 0; --s) {
        const int64_t t = order.time(s), tb = order.before(s);
        auto keep = ConstStepMask(mask_data + row0 + t, rows, Eigen::InnerStride<>(steps)).replicate(1, units);
        ConstStepMap g(gates_data + (row0 + t) * width, rows, width, wide);
        auto i = g.leftCols(units).array();
        auto f = g.middleCols(units, units).array();
        auto candidate = g.middleCols(2 * units, units).array();
        auto o = g.rightCols(units).array();
        ConstStepMap c_before = s == 0 ? ConstStepMap(c0_data + first * units, rows, units, Eigen::OuterStride<>(units))
                                       : ConstStepMap(c_data + (row0 + tb) * units, rows, units, narrow);
        const Eigen::Map<const Array, 0, Eigen::OuterStride<>> inv(
            inv_data + (row0 + t) * 5, gate_norm ? rows : 0, gate_norm ? 5 : 0, Eigen::OuterStride<>(steps * 5));
        if (cell_norm) {  // what tanh squashed: γ_c ⊙ ĉ + β_c
          const Eigen::Map<const RowVector> gamma(norm_data + 2 * width, units), beta(norm_data + 2 * width + units, units);
          ConstStepMap c_hat(c_hat_data + (row0 + t) * units, rows, units, narrow);
          tanh_c = ((c_hat.array().rowwise() * gamma).rowwise() + beta).tanh().matrix();
        } else {
          tanh_c = ConstStepMap(c_data + (row0 + t) * units, rows, units, narrow).array().tanh().matrix();
        }
        d_out_total = ConstStepMap(d_out_data + (row0 + s) * units, rows, units, narrow) + d_out_carried;
        dh = (keep * (d_out_total + dh_next).array()).matrix();
        Array d_shown = dh.array() * o * (1.0f - tanh_c.array() * tanh_c.array());
        if (cell_norm) {  // back through γ_c ⊙ LN(c) + β_c
          const Eigen::Map<const RowVector> gamma(norm_data + 2 * width, units);
          ConstStepMap c_hat(c_hat_data + (row0 + t) * units, rows, units, narrow);
          d_norm.segment(2 * width, units) += (d_shown * c_hat.array()).colwise().sum();
          d_norm.segment(2 * width + units, units) += d_shown.colwise().sum();
          d_shown = NormalizeBackward(Array(d_shown.rowwise() * gamma), c_hat.array(), inv.col(4));
        }
        dc = (keep * (dc_next.array() + d_shown)).matrix();
        da.leftCols(units) = (dc.array() * candidate * i * (1.0f - i)).matrix();
        da.middleCols(units, units) = (dc.array() * c_before.array() * f * (1.0f - f)).matrix();
        da.middleCols(2 * units, units) = (dc.array() * i * (1.0f - candidate * candidate)).matrix();
        da.rightCols(units) = (dh.array() * tanh_c.array() * o * (1.0f - o)).matrix();
        StepMap dz(dz_data + (row0 + t) * width, rows, width, wide);
        if (gate_norm) {  // back through a_k = γ_k ⊙ LN(z_k) + b_k
          const Eigen::Map<const RowVector> gamma(norm_data, width);
          ConstStepMap z_hat(z_hat_data + (row0 + t) * width, rows, width, wide);
          d_norm.segment(0, width) += (da.array() * z_hat.array()).colwise().sum();
          d_norm.segment(width, width) += da.array().colwise().sum();
          const Array d_hat = da.array().rowwise() * gamma;
          for (int k = 0; k < 4; ++k) {
            dz.middleCols(k * units, units) =
                NormalizeBackward(d_hat.middleCols(k * units, units), z_hat.middleCols(k * units, units).array(),
                                  inv.col(k))
                    .matrix();
          }
        } else {
          dz = da;
        }
        const auto skip = 1.0f - keep;
        dh_next = (skip * dh_next.array()).matrix();
        dh_next.noalias() += dz * kernel_t;
        dc_next = (dc.array() * f + skip * dc_next.array()).matrix();
        if (zero_output) {
          d_out_carried.setZero();
        } else {
          d_out_carried = (skip * d_out_total.array()).matrix();
        }
      }
      Eigen::Map<Matrix>(dh0_data + first * units, rows, units) = dh_next;
      Eigen::Map<Matrix>(dc0_data + first * units, rows, units) = dc_next;
      if (d_norm.size() > 0) {
        std::lock_guard<std::mutex> hold(d_norm_lock);
        Eigen::Map<RowVector>(d_norm_data, d_norm.size()) += d_norm;
      }
    });
  }

 private:
  bool zero_output_, reverse_, layer_norm_, normalize_cell_;
};

REGISTER_KERNEL_BUILDER(Name("ZooLstmForward").Device(DEVICE_CPU), ZooLstmForwardOp);
REGISTER_KERNEL_BUILDER(Name("ZooLstmBackward").Device(DEVICE_CPU), ZooLstmBackwardOp);

}  // namespace zoo
