// CUDA launch of the fire_behavior op: one thread per (row, cell), the same per-element body
// as the CPU loop.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "op_checks.h"

namespace qagent {

__global__ void fire_behavior_kernel(FireBehaviorArgs a, int64_t total) {
    for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
        fire_behavior_element(a, k / a.num_cells, k % a.num_cells);
    }
}

FireBehaviorOutputs fire_behavior_cuda(const at::Tensor& terrain, const at::Tensor& fuel_model,
                                       const at::Tensor& weather, const at::Tensor& landscape_index,
                                       double azimuth_deg, int64_t length_to_breadth_model, bool use_wind_limit,
                                       double crown_max_length_to_breadth) {
    const c10::cuda::CUDAGuard guard(terrain.device());
    FireBehaviorOutputs out;
    at::Tensor terrain_c = terrain.contiguous(), fuel_c = fuel_model.contiguous(), weather_c = weather.contiguous(),
               index_c = landscape_index.contiguous();
    const FireBehaviorArgs a = prepare_fire_behavior(terrain_c, fuel_c, weather_c, index_c, azimuth_deg,
                                                     length_to_breadth_model, use_wind_limit,
                                                     crown_max_length_to_breadth, &out);
    const int64_t total = weather_c.size(0) * a.num_cells;
    if (total == 0) return out;
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535LL * 8);
    fire_behavior_kernel<<<static_cast<unsigned>(blocks), threads, 0, at::cuda::getCurrentCUDAStream()>>>(a, total);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}

TORCH_LIBRARY_IMPL(qagent, CUDA, m) { m.impl("fire_behavior", &fire_behavior_cuda); }

}  // namespace qagent
