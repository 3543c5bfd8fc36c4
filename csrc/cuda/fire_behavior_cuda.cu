// CUDA launches of the fire_behavior and spread_params ops: one thread per (row, cell), the
// same per-element body as the CPU loop.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "op_checks.h"

namespace qagent {
namespace {

__global__ void fire_behavior_kernel(FireBehaviorArgs a, int64_t total) {
    for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
        fire_behavior_element(a, k / a.num_cells, k % a.num_cells);
    }
}

void run_cells(const FireBehaviorArgs& a, int64_t rows) {
    const int64_t total = rows * a.num_cells;
    if (total == 0) return;
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535LL * 8);
    fire_behavior_kernel<<<static_cast<unsigned>(blocks), threads, 0, c10::cuda::getCurrentCUDAStream()>>>(a, total);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}

FireBehaviorOutputs fire_behavior_cuda(const at::Tensor& terrain, const at::Tensor& fuel_model,
                                       const at::Tensor& weather, const at::Tensor& landscape_index,
                                       double azimuth_deg, int64_t length_to_breadth_model, bool use_wind_limit,
                                       double crown_max_length_to_breadth) {
    const c10::cuda::CUDAGuard guard(terrain.device());
    FireBehaviorOutputs out;
    at::Tensor w = weather.contiguous();
    run_cells(prepare_fire_behavior(terrain.contiguous(), fuel_model.contiguous(), w, landscape_index.contiguous(),
                                    azimuth_deg, length_to_breadth_model, use_wind_limit,
                                    crown_max_length_to_breadth, &out),
              w.size(0));
    return out;
}

at::Tensor spread_params_cuda(const at::Tensor& terrain, const at::Tensor& fuel_model, const at::Tensor& weather,
                              const at::Tensor& landscape_index, int64_t length_to_breadth_model, bool use_wind_limit,
                              double crown_max_length_to_breadth) {
    const c10::cuda::CUDAGuard guard(terrain.device());
    FireBehaviorOutputs unused;
    at::Tensor params;
    at::Tensor w = weather.contiguous();
    run_cells(prepare_fire_behavior(terrain.contiguous(), fuel_model.contiguous(), w, landscape_index.contiguous(),
                                    NAN, length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth,
                                    &unused, &params),
              w.size(0));
    return params;
}

}  // namespace

TORCH_LIBRARY_IMPL(qagent, CUDA, m) {
    m.impl("fire_behavior", &fire_behavior_cuda);
    m.impl("spread_params", &spread_params_cuda);
}

}  // namespace qagent
