// CPU loops of the fire_behavior and spread_params ops: one OpenMP iteration per (row, cell).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

#include "op_checks.h"

namespace qagent {
namespace {

// With uniform weather rows, the no-wind, no-slope surface fire depends only on the fuel model
// and the row's moistures: compute it once per (row, burnable fuel model present) and share it
// by every cell (about 3 times faster; same results to the bit). Gridded weather evaluates it
// per cell.
void run_cells(const FireBehaviorArgs& a, int64_t rows, int64_t num_landscapes) {
    const int64_t total = rows * a.num_cells;
    if (a.weather_cells != 1) {
#pragma omp parallel for schedule(static) if (total > 4096)
        for (int64_t k = 0; k < total; ++k) fire_behavior_element(a, k / a.num_cells, k % a.num_cells);
        return;
    }
    std::vector<int16_t> slot(kMaxTabledCode, -1);
    std::vector<FuelModelSpec> models;
    for (int64_t k = 0; k < num_landscapes * a.num_cells; ++k) {
        const int code = a.fuel_model[k];
        FuelModelSpec fm;
        if (code >= 0 && code < kMaxTabledCode && slot[code] < 0 && tabled_fuel_model(code, &fm)) {
            slot[code] = int16_t(models.size());
            models.push_back(fm);
        }
    }
    const int64_t num_models = int64_t(models.size());
    std::vector<SurfaceFireBase> table(rows * num_models);
#pragma omp parallel for schedule(static) if (rows * num_models > 256)
    for (int64_t k = 0; k < rows * num_models; ++k) {
        const int64_t row = k / num_models;
        const CellWeather w = load_cell_weather(a.weather, 1, row, 0);
        table[k] = rothermel_no_wind_no_slope(models[k % num_models], w.fuel_moisture);
    }
#pragma omp parallel for schedule(static) if (total > 4096)
    for (int64_t k = 0; k < total; ++k) {
        const int64_t row = k / a.num_cells, cell = k % a.num_cells;
        const int code = a.fuel_model[a.landscape_index[row] * a.num_cells + cell];
        const int s = code >= 0 && code < kMaxTabledCode ? slot[code] : -1;
        fire_behavior_element(a, row, cell, s >= 0 ? &table[row * num_models + s] : nullptr);
    }
}

FireBehaviorOutputs fire_behavior_cpu(const at::Tensor& terrain, const at::Tensor& fuel_model,
                                      const at::Tensor& weather, const at::Tensor& landscape_index,
                                      double azimuth_deg, int64_t length_to_breadth_model, bool use_wind_limit,
                                      double crown_max_length_to_breadth) {
    FireBehaviorOutputs out;
    at::Tensor w = weather.contiguous();
    run_cells(prepare_fire_behavior(terrain.contiguous(), fuel_model.contiguous(), w, landscape_index.contiguous(),
                                    azimuth_deg, length_to_breadth_model, use_wind_limit,
                                    crown_max_length_to_breadth, &out),
              w.size(0), terrain.size(0));
    return out;
}

at::Tensor spread_params_cpu(const at::Tensor& terrain, const at::Tensor& fuel_model, const at::Tensor& weather,
                             const at::Tensor& landscape_index, int64_t length_to_breadth_model, bool use_wind_limit,
                             double crown_max_length_to_breadth) {
    FireBehaviorOutputs unused;
    at::Tensor params;
    at::Tensor w = weather.contiguous();
    run_cells(prepare_fire_behavior(terrain.contiguous(), fuel_model.contiguous(), w, landscape_index.contiguous(),
                                    NAN, length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth,
                                    &unused, &params),
              w.size(0), terrain.size(0));
    return params;
}

}  // namespace

TORCH_LIBRARY_IMPL(qagent, CPU, m) {
    m.impl("fire_behavior", &fire_behavior_cpu);
    m.impl("spread_params", &spread_params_cpu);
}

}  // namespace qagent
