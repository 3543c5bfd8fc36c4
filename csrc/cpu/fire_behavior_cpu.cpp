// CPU loops of the fire_behavior and spread_params ops: one OpenMP iteration per (row, cell)
// (the op wrappers, csrc/op_wrappers.h, check the arguments and allocate the outputs).
#include <vector>

#include "backends.h"

namespace qagent {
namespace {

// With uniform weather rows, the no-wind, no-slope surface fire depends only on the fuel model
// and the row's moistures: compute it once per (row, burnable fuel model present) and share it,
// with the row's weather and the fuel model, by every cell (UniformRowFuel; about 3 times
// faster; same results to the bit). Gridded weather evaluates it per cell. element:
// FireBehaviorElement or SpreadParamsElement (csrc/qagent/fire_behavior_kernel.h).
template <class Element>
void run_cells(const Element& element, int64_t rows, int64_t num_landscapes) {
    const FireBehaviorArgs& a = element.a;
    const int64_t total = rows * a.num_cells;
    if (a.weather_cells != 1) {
#pragma omp parallel for schedule(static) if (total > 4096)
        for (int64_t k = 0; k < total; ++k) element(k / a.num_cells, k % a.num_cells);
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
    std::vector<UniformRowFuel> table(rows * num_models);
#pragma omp parallel for schedule(static) if (rows * num_models > 256)
    for (int64_t k = 0; k < rows * num_models; ++k) table[k] = uniform_row_fuel(a, k / num_models, models[k % num_models]);
#pragma omp parallel for schedule(static) if (total > 4096)
    for (int64_t k = 0; k < total; ++k) {
        const int64_t row = k / a.num_cells, cell = k % a.num_cells;
        const int code = a.fuel_model[a.landscape_index[row] * a.num_cells + cell];
        const int s = code >= 0 && code < kMaxTabledCode ? slot[code] : -1;
        element(row, cell, s >= 0 ? &table[row * num_models + s] : nullptr);
    }
}

}  // namespace

void CpuOps::fire_behavior(const FireBehaviorElement& e, int64_t rows, int64_t num_landscapes) {
    run_cells(e, rows, num_landscapes);
}

void CpuOps::spread_params(const SpreadParamsElement& e, int64_t rows, int64_t num_landscapes) {
    run_cells(e, rows, num_landscapes);
}

}  // namespace qagent
