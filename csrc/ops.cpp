// The qagent op library: schemas (TORCH_LIBRARY), their implementations for each dispatch
// key (the op wrappers of op_wrappers.h over the launches of cpu/ and cuda/, backends.h), and
// the Python module qagent._C with build facts, the ops' constants and the fuel model table.
// Fake (meta) kernels and the typed Python wrappers are in qagent/_ops.py.
#include <torch/extension.h>
#include <torch/library.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends.h"
#include "op_wrappers.h"
#include "qagent/fuel_models.h"

TORCH_LIBRARY(qagent, m) {
    // Fire behavior of every cell of E landscapes under B weather rows.
    //   terrain [E, 6, N] float32: slope (rise/run), aspect (deg), canopy cover (fraction),
    //     canopy height (m), canopy base height (m), canopy bulk density (kg/m^3)
    //   fuel_model [E, N] int32: fuel model codes
    //   weather [B, 8, K] float32, K = 1 (uniform) or N: 10-m wind (km/h), upwind direction
    //     (deg), moistures dead 1-h, 10-h, 100-h, live herbaceous, live woody, foliar (fractions)
    //   landscape_index [B] int64: the landscape of each weather row
    //   azimuth_deg: NaN for the head fire, else the direction evaluated
    // Returns [B, N] tensors: fire_type (uint8), spread_rate (m/min), spread_direction (deg),
    // fireline_intensity (kW/m), flame_length (m), length_to_breadth.
    m.def(
        "fire_behavior(Tensor terrain, Tensor fuel_model, Tensor weather, Tensor landscape_index, "
        "float azimuth_deg, int length_to_breadth_model, bool use_wind_limit, "
        "float crown_max_length_to_breadth) -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");

    // The spread kernel's per-cell parameters (csrc/qagent/spread.h) from the head fire of
    // fire_behavior's inputs: [B, 6, N] float32 (1 / (R (1 - e)), e u, dz/dx, dz/dy).
    m.def(
        "spread_params(Tensor terrain, Tensor fuel_model, Tensor weather, Tensor landscape_index, "
        "int length_to_breadth_model, bool use_wind_limit, float crown_max_length_to_breadth) -> Tensor");

    // Minimum-travel-time fire spread of n simulations (csrc/qagent/spread.h).
    //   spread_params [P, 6, H, W] float32: precomputed per landscape-and-weather cell
    //     parameters (P may be 0; the shape still gives H and W)
    //   blocked [L, H, W] uint8: fuel-break layouts (1 = closed); L may be 0
    //   ignition, param_index, layout_index (-1: no breaks), count_index [n] int64;
    //     param_index < P: the precomputed grid spread_params[param_index]; P <= param_index
    //     < P + B: weather row param_index - P, evaluated lazily (below); count_index: the
    //     burn_count row the simulation adds to, -1 for none
    //   duration_min [n] float32; stencil_size 16 or 32 directions
    //   algorithm: 0 auto (CPU Dijkstra, CUDA relaxation), 1 Dijkstra (CPU), 2 relaxation,
    //     3 Dijkstra without the CPU step-time cache
    //   lazy parameter sources (optional; needed when some param_index >= P): terrain
    //     [E, 6, H*W], fuel_model [E, H*W], weather [B, 8, K] (K = 1 or H*W) and
    //     weather_landscape [B] as for spread_params, with its behaviour options; a cell's
    //     parameters are computed when the fire first reads them, at most once per simulation,
    //     by the same per-cell function as spread_params (equal to the bit)
    //   relax_window: first window side (cells) of the relaxation's scratch, 0 = default (64);
    //     a simulation that outgrows its window is re-run in one 4 times larger
    //   values at risk (optional): values [V, H, W] float32, finite and >= 0; value_index [n]
    //     int64 in [-1, V), the value grid of each simulation, -1 (or value_index absent):
    //     every cell is worth 1
    //   return_dpv: each simulation's downstream protection value (csrc/qagent/dpv.h; Pais et
    //     al. 2021), summed into row count_index of dpv
    // Returns burned_cells [n] int32, burn_count [num_count_rows, H, W] int32 (simulations
    // summed by count_index), arrival_time_min [n, H, W] float32 (+inf where unburned) when
    // return_arrival, else [0, H, W]; burned_value [n] float32 (sum of values over the burned
    // cells) when values are given or return_dpv, else [0]; dpv [num_count_rows, H, W]
    // float32 when return_dpv, else [0, H, W].
    m.def(
        "spread(Tensor spread_params, Tensor blocked, Tensor ignition, Tensor param_index, Tensor layout_index, "
        "Tensor count_index, Tensor duration_min, int num_count_rows, float cell_size_m, int stencil_size, "
        "bool return_arrival, int algorithm, Tensor? terrain=None, Tensor? fuel_model=None, Tensor? weather=None, "
        "Tensor? weather_landscape=None, int length_to_breadth_model=0, bool use_wind_limit=True, "
        "float crown_max_length_to_breadth=1e10, int relax_window=0, Tensor? values=None, "
        "Tensor? value_index=None, bool return_dpv=False) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(qagent, CPU, m) { qagent::register_ops<qagent::CpuOps>(m); }

#ifdef QAGENT_WITH_CUDA
TORCH_LIBRARY_IMPL(qagent, CUDA, m) { qagent::register_ops<qagent::CudaOps>(m); }
#endif

namespace qagent {
int64_t spread_scratch_bytes();  // csrc/cpu/spread_cpu.cpp
void release_spread_scratch();
}  // namespace qagent

namespace {

pybind11::dict build_info() {
    pybind11::dict d;
#ifdef QAGENT_WITH_CUDA
    d["cuda"] = true;
#else
    d["cuda"] = false;
#endif
#ifdef _OPENMP
    d["openmp"] = true;
    d["openmp_max_threads"] = omp_get_max_threads();
#else
    d["openmp"] = false;
    d["openmp_max_threads"] = 1;
#endif
    d["torch_version"] = TORCH_VERSION;
    return d;
}

template <size_t N>
pybind11::dict named_codes(const qagent::NamedCode (&codes)[N]) {
    pybind11::dict d;
    for (const auto& c : codes) d[c.name] = c.code;
    return d;
}

// The ops' layout and codes, the one source of these numbers for Python (qagent/_ops.py).
pybind11::dict constants() {
    pybind11::dict d;
    d["num_terrain_channels"] = int(qagent::kNumTerrainChannels);
    d["num_weather_channels"] = int(qagent::kNumWeatherChannels);
    d["num_spread_params"] = int(qagent::kNumSpreadParams);
    d["stencil_sizes"] = pybind11::make_tuple(qagent::kSmallStencilSize, qagent::kMaxStencilSize);
    d["algorithms"] = named_codes(qagent::kSpreadAlgorithmNames);
    d["length_to_breadth_models"] = named_codes(qagent::kLengthToBreadthModelNames);
    d["fire_types"] = named_codes(qagent::kFireTypeNames);
    return d;
}

// The fuel model table as rows of floats, for validation, documentation and tests:
// code, burnable, dynamic, depth (ft), Mx_dead, heat (Btu/lb), loads 1h/10h/100h/herb/woody
// (lb/ft^2), SAV 1h/herb/woody (1/ft).
std::vector<std::vector<double>> fuel_model_table() {
    std::vector<std::vector<double>> rows;
    for (int i = 0; i < qagent::kNumKnownFuelModelCodes; ++i) {
        qagent::FuelModelSpec f;
        qagent::lookup_fuel_model(qagent::kKnownFuelModelCodes[i], &f);
        rows.push_back({double(f.code), double(f.burnable), double(f.dynamic), f.fuel_bed_depth_ft,
                        f.moisture_of_extinction_dead, f.heat_content_btu_per_lb, f.load_dead_1hr_lb_per_ft2,
                        f.load_dead_10hr_lb_per_ft2, f.load_dead_100hr_lb_per_ft2, f.load_live_herbaceous_lb_per_ft2,
                        f.load_live_woody_lb_per_ft2, f.sav_dead_1hr_per_ft, f.sav_live_herbaceous_per_ft,
                        f.sav_live_woody_per_ft});
    }
    return rows;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.doc() = "QAgent compiled ops (registered under torch.ops.qagent)";
    m.def("build_info", &build_info, "Facts about this build of the extension");
    m.def("constants", &constants, "The ops' constants: channel counts (terrain, weather, spread parameters), "
          "stencil sizes, and the codes of the spread algorithms, length-to-breadth models and fire types by name");
    m.def("fuel_model_table", &fuel_model_table, "Rows: code, burnable, dynamic, depth_ft, mx_dead, heat_btu_lb, "
          "load 1h/10h/100h/herb/woody lb/ft^2, sav 1h/herb/woody 1/ft");
    m.def("spread_scratch_bytes", &qagent::spread_scratch_bytes,
          "Bytes of CPU spread scratch (page pools, windows) that threads keep between calls");
    m.def("release_spread_scratch", &qagent::release_spread_scratch,
          "Every thread drops its CPU spread scratch at its next call (fresh pools)");
}
