// CPU loop of the fire_behavior op: one OpenMP iteration per (row, cell).
#include <ATen/ATen.h>
#include <torch/library.h>

#include "op_checks.h"

namespace qagent {

FireBehaviorOutputs fire_behavior_cpu(const at::Tensor& terrain, const at::Tensor& fuel_model,
                                      const at::Tensor& weather, const at::Tensor& landscape_index,
                                      double azimuth_deg, int64_t length_to_breadth_model, bool use_wind_limit,
                                      double crown_max_length_to_breadth) {
    FireBehaviorOutputs out;
    at::Tensor terrain_c = terrain.contiguous(), fuel_c = fuel_model.contiguous(), weather_c = weather.contiguous(),
               index_c = landscape_index.contiguous();
    const FireBehaviorArgs a = prepare_fire_behavior(terrain_c, fuel_c, weather_c, index_c, azimuth_deg,
                                                     length_to_breadth_model, use_wind_limit,
                                                     crown_max_length_to_breadth, &out);
    const int64_t total = weather_c.size(0) * a.num_cells;
#pragma omp parallel for schedule(static) if (total > 4096)
    for (int64_t k = 0; k < total; ++k) {
        fire_behavior_element(a, k / a.num_cells, k % a.num_cells);
    }
    return out;
}

TORCH_LIBRARY_IMPL(qagent, CPU, m) { m.impl("fire_behavior", &fire_behavior_cpu); }

}  // namespace qagent
