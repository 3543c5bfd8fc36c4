// Host-side argument checks and packing shared by the CPU and CUDA implementations of the
// ops. The Python layer validates user input with friendlier messages first; these checks
// guard the ops themselves (they can be called directly as torch.ops.qagent.*).
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <tuple>

#include "qagent/fire_behavior_kernel.h"

namespace qagent {

inline void check_tensor(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t dim,
                         const at::Device& device) {
    TORCH_CHECK(t.scalar_type() == dtype, "qagent: ", name, " must have dtype ", dtype, ", got ", t.scalar_type());
    TORCH_CHECK(t.dim() == dim, "qagent: ", name, " must have ", dim, " dimensions, got shape ", t.sizes());
    TORCH_CHECK(t.device() == device, "qagent: ", name, " is on ", t.device(), " but the op runs on ", device);
}

using FireBehaviorOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// Checks the fire_behavior arguments, allocates the outputs and packs raw pointers.
inline FireBehaviorArgs prepare_fire_behavior(const at::Tensor& terrain, const at::Tensor& fuel_model,
                                              const at::Tensor& weather, const at::Tensor& landscape_index,
                                              double azimuth_deg, int64_t length_to_breadth_model,
                                              bool use_wind_limit, double crown_max_length_to_breadth,
                                              FireBehaviorOutputs* outputs) {
    const at::Device device = terrain.device();
    check_tensor(terrain, "terrain", at::kFloat, 3, device);
    check_tensor(fuel_model, "fuel_model", at::kInt, 2, device);
    check_tensor(weather, "weather", at::kFloat, 3, device);
    check_tensor(landscape_index, "landscape_index", at::kLong, 1, device);
    const int64_t num_landscapes = terrain.size(0);
    const int64_t num_cells = terrain.size(2);
    const int64_t rows = weather.size(0);
    TORCH_CHECK(terrain.size(1) == kNumTerrainChannels, "qagent: terrain must be [E, ", int(kNumTerrainChannels),
                ", N], got ", terrain.sizes());
    TORCH_CHECK(fuel_model.size(0) == num_landscapes && fuel_model.size(1) == num_cells,
                "qagent: fuel_model must be [E, N] = [", num_landscapes, ", ", num_cells, "], got ", fuel_model.sizes());
    TORCH_CHECK(weather.size(1) == kNumWeatherChannels, "qagent: weather must be [B, ", int(kNumWeatherChannels),
                ", K], got ", weather.sizes());
    TORCH_CHECK(weather.size(2) == 1 || weather.size(2) == num_cells,
                "qagent: weather's last dimension must be 1 (uniform) or N = ", num_cells, ", got ", weather.size(2));
    TORCH_CHECK(landscape_index.size(0) == rows, "qagent: landscape_index must have B = ", rows,
                " entries, got ", landscape_index.size(0));
    TORCH_CHECK(length_to_breadth_model == kLwBehave || length_to_breadth_model == kLwRothermel,
                "qagent: length_to_breadth_model must be 0 (behave) or 1 (rothermel), got ", length_to_breadth_model);
    TORCH_CHECK(crown_max_length_to_breadth >= 1.0, "qagent: crown_max_length_to_breadth must be >= 1, got ",
                crown_max_length_to_breadth);
    if (rows > 0 && num_landscapes == 0) TORCH_CHECK(false, "qagent: landscape_index refers to an empty terrain batch");
    if (rows > 0) {  // one device sync on CUDA; an index out of range would read out of bounds
        auto [lo, hi] = at::aminmax(landscape_index);
        TORCH_CHECK(lo.item<int64_t>() >= 0 && hi.item<int64_t>() < num_landscapes,
                    "qagent: landscape_index values must lie in [0, ", num_landscapes, ")");
    }

    auto float_opts = terrain.options().dtype(at::kFloat);
    *outputs = FireBehaviorOutputs(at::empty({rows, num_cells}, terrain.options().dtype(at::kByte)),
                                   at::empty({rows, num_cells}, float_opts), at::empty({rows, num_cells}, float_opts),
                                   at::empty({rows, num_cells}, float_opts), at::empty({rows, num_cells}, float_opts),
                                   at::empty({rows, num_cells}, float_opts));
    FireBehaviorArgs a;
    a.terrain = terrain.data_ptr<float>();
    a.fuel_model = fuel_model.data_ptr<int32_t>();
    a.weather = weather.data_ptr<float>();
    a.landscape_index = landscape_index.data_ptr<int64_t>();
    a.num_cells = num_cells;
    a.weather_cells = weather.size(2);
    a.options.length_to_breadth_model = static_cast<int>(length_to_breadth_model);
    a.options.use_wind_limit = use_wind_limit;
    a.options.crown_max_length_to_breadth = static_cast<float>(crown_max_length_to_breadth);
    a.has_azimuth = !std::isnan(azimuth_deg);
    a.azimuth_deg = a.has_azimuth ? static_cast<float>(azimuth_deg) : 0.0f;
    a.fire_type = std::get<0>(*outputs).data_ptr<uint8_t>();
    a.spread_rate_m_per_min = std::get<1>(*outputs).data_ptr<float>();
    a.spread_direction_deg = std::get<2>(*outputs).data_ptr<float>();
    a.fireline_intensity_kw_per_m = std::get<3>(*outputs).data_ptr<float>();
    a.flame_length_m = std::get<4>(*outputs).data_ptr<float>();
    a.length_to_breadth = std::get<5>(*outputs).data_ptr<float>();
    return a;
}

}  // namespace qagent
