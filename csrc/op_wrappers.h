// The op-level wrappers of the compiled ops, written once for every device: argument checks
// (op_checks.h), contiguous inputs, output allocation and the device guard, then the launch,
// which is the one thing a backend provides. A backend is a struct of static functions
// (csrc/backends.h: CpuOps in csrc/cpu/, CudaOps in csrc/cuda/):
//
//   static constexpr const char* kName;     "CPU", "CUDA" (for messages)
//   static constexpr bool kHasDijkstra;     whether spread runs algorithms 1 and 3 (Dijkstra)
//   static void fire_behavior(const FireBehaviorElement& e, int64_t rows, int64_t num_landscapes);
//   static void spread_params(const SpreadParamsElement& e, int64_t rows, int64_t num_landscapes);
//       run e(row, cell, base) for every row < rows and cell < e.a.num_cells
//   static void spread(const SpreadBatch& b, int64_t algorithm, const at::Tensor& params,
//                      const SpreadOutputs& out);
//       run the b.num_sims > 0 simulations of a checked batch (params: for device and options)
//
// register_ops<Backend>(m) registers the three ops for a dispatch key (csrc/ops.cpp).
#pragma once

#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "op_checks.h"

namespace qagent {

// The device of the op's tensors made current for the call (CUDA); nothing on the CPU.
struct OpDeviceGuard {
    c10::OptionalDeviceGuard guard;
    explicit OpDeviceGuard(const at::Device& device) {
        if (!device.is_cpu()) guard.reset_device(device);
    }
};

template <class Backend>
FireBehaviorOutputs fire_behavior_op(const at::Tensor& terrain, const at::Tensor& fuel_model, const at::Tensor& weather,
                                     const at::Tensor& landscape_index, double azimuth_deg,
                                     int64_t length_to_breadth_model, bool use_wind_limit,
                                     double crown_max_length_to_breadth) {
    const OpDeviceGuard guard(terrain.device());
    const BehaviorTensors in(terrain, fuel_model, weather, landscape_index);
    const FireBehaviorArgs a = fire_behavior_args(in, azimuth_deg, length_to_breadth_model, use_wind_limit,
                                                  crown_max_length_to_breadth);
    FireBehaviorOutputs out = empty_fire_behavior_outputs(in.rows(), in.num_cells(), in.terrain.options());
    Backend::fire_behavior(FireBehaviorElement{a, fire_behavior_out(out)}, in.rows(), in.num_landscapes());
    return out;
}

template <class Backend>
at::Tensor spread_params_op(const at::Tensor& terrain, const at::Tensor& fuel_model, const at::Tensor& weather,
                            const at::Tensor& landscape_index, int64_t length_to_breadth_model, bool use_wind_limit,
                            double crown_max_length_to_breadth) {
    const OpDeviceGuard guard(terrain.device());
    const BehaviorTensors in(terrain, fuel_model, weather, landscape_index);
    const FireBehaviorArgs a =
        fire_behavior_args(in, NAN, length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth);
    at::Tensor params = at::empty({in.rows(), kNumSpreadParams, in.num_cells()}, in.terrain.options());
    Backend::spread_params(SpreadParamsElement{a, params.data_ptr<float>()}, in.rows(), in.num_landscapes());
    return params;
}

inline void check_spread_algorithm(int64_t algorithm, bool has_dijkstra, const char* device) {
    TORCH_CHECK(algorithm >= kSpreadAuto && algorithm <= kSpreadDijkstraUncached, "qagent: algorithm must be ",
                int(kSpreadAuto), " (auto), ", int(kSpreadDijkstra), " (dijkstra), ", int(kSpreadRelax), " (relax) or ",
                int(kSpreadDijkstraUncached), " (dijkstra, no cache), got ", algorithm);
    TORCH_CHECK(has_dijkstra || algorithm == kSpreadAuto || algorithm == kSpreadRelax, "qagent: on ", device,
                " the spread algorithm is relaxation (", int(kSpreadAuto), " auto or ", int(kSpreadRelax),
                " relax), got ", algorithm);
}

template <class Backend>
SpreadValueOutputs spread_op(const at::Tensor& params, const at::Tensor& blocked, const at::Tensor& ignition,
                             const at::Tensor& param_index, const at::Tensor& layout_index,
                             const at::Tensor& count_index, const at::Tensor& duration_min, int64_t num_count_rows,
                             double cell_size_m, int64_t stencil_size, bool return_arrival, int64_t algorithm,
                             const std::optional<at::Tensor>& terrain, const std::optional<at::Tensor>& fuel_model,
                             const std::optional<at::Tensor>& weather,
                             const std::optional<at::Tensor>& weather_landscape, int64_t length_to_breadth_model,
                             bool use_wind_limit, double crown_max_length_to_breadth, int64_t relax_window,
                             const std::optional<at::Tensor>& values, const std::optional<at::Tensor>& value_index,
                             bool return_dpv) {
    check_spread_algorithm(algorithm, Backend::kHasDijkstra, Backend::kName);
    const OpDeviceGuard guard(params.device());
    at::Tensor p = params.contiguous(), bl = blocked.contiguous(), ig = ignition.contiguous(),
               pi = param_index.contiguous(), li = layout_index.contiguous(), ci = count_index.contiguous(),
               du = duration_min.contiguous();
    const LazyInputs lz = lazy_inputs(p, terrain, fuel_model, weather, weather_landscape);
    SpreadOutputs out;
    SpreadBatch b = prepare_spread(p, bl, ig, pi, li, ci, du, num_count_rows, cell_size_m, stencil_size,
                                   return_arrival, lz.terrain, lz.fuel_model, lz.weather, lz.weather_landscape,
                                   length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth, relax_window,
                                   &out);
    const DpvInputs dpv = prepare_dpv(values, value_index, return_dpv, num_count_rows, p, &b);
    if (b.num_sims > 0) Backend::spread(b, algorithm, p, out);
    return spread_outputs(out, dpv);
}

template <class Backend>
void register_ops(torch::Library& m) {
    m.impl("fire_behavior", &fire_behavior_op<Backend>);
    m.impl("spread_params", &spread_params_op<Backend>);
    m.impl("spread", &spread_op<Backend>);
}

}  // namespace qagent
