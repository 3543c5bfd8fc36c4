// Host-side argument checks and packing shared by the CPU and CUDA implementations of the
// ops. The Python layer validates user input with friendlier messages first; these checks
// guard the ops themselves (they can be called directly as torch.ops.qagent.*).
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <tuple>

#if defined(__linux__) || defined(__APPLE__)
#include <sys/mman.h>
#define QAGENT_HAVE_MMAP 1
#endif

#include "qagent/fire_behavior_kernel.h"
#include "qagent/spread_sources.h"

namespace qagent {

inline void check_tensor(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t dim,
                         const at::Device& device) {
    TORCH_CHECK(t.scalar_type() == dtype, "qagent: ", name, " must have dtype ", dtype, ", got ", t.scalar_type());
    TORCH_CHECK(t.dim() == dim, "qagent: ", name, " must have ", dim, " dimensions, got shape ", t.sizes());
    TORCH_CHECK(t.device() == device, "qagent: ", name, " is on ", t.device(), " but the op runs on ", device);
}

// The names of the ops' integer codes, as Python spells them (qagent._C.constants(), which
// qagent/_ops.py reads: the one list of the codes).
struct NamedCode {
    const char* name;
    int code;
};
constexpr NamedCode kLengthToBreadthModelNames[] = {{"behave", kLwBehave}, {"rothermel", kLwRothermel}};
constexpr NamedCode kSpreadAlgorithmNames[] = {
    {"auto", kSpreadAuto}, {"dijkstra", kSpreadDijkstra}, {"relax", kSpreadRelax},
    {"dijkstra_uncached", kSpreadDijkstraUncached}};
constexpr NamedCode kFireTypeNames[] = {
    {"unburnable", kUnburnable}, {"surface", kSurfaceFire}, {"passive crown", kPassiveCrownFire},
    {"active crown", kActiveCrownFire}};

// The spread op's stencils: 16 or kMaxStencilSize (32) directions of travel.
constexpr int kSmallStencilSize = 16;

// The behaviour options of fire_behavior, spread_params and the spread op's lazy sources, checked.
inline BehaviorOptions behavior_options(int64_t length_to_breadth_model, bool use_wind_limit,
                                        double crown_max_length_to_breadth) {
    TORCH_CHECK(length_to_breadth_model == kLwBehave || length_to_breadth_model == kLwRothermel,
                "qagent: length_to_breadth_model must be ", int(kLwBehave), " (behave) or ", int(kLwRothermel),
                " (rothermel), got ", length_to_breadth_model);
    TORCH_CHECK(crown_max_length_to_breadth >= 1.0, "qagent: crown_max_length_to_breadth must be >= 1, got ",
                crown_max_length_to_breadth);
    BehaviorOptions o;
    o.length_to_breadth_model = static_cast<int>(length_to_breadth_model);
    o.use_wind_limit = use_wind_limit;
    o.crown_max_length_to_breadth = static_cast<float>(crown_max_length_to_breadth);
    return o;
}

// The inputs of fire_behavior / spread_params, contiguous (held while the kernels run).
struct BehaviorTensors {
    at::Tensor terrain, fuel_model, weather, landscape_index;

    BehaviorTensors(const at::Tensor& t, const at::Tensor& f, const at::Tensor& w, const at::Tensor& l)
        : terrain(t.contiguous()), fuel_model(f.contiguous()), weather(w.contiguous()), landscape_index(l.contiguous()) {}
    int64_t rows() const { return weather.size(0); }
    int64_t num_landscapes() const { return terrain.size(0); }
    int64_t num_cells() const { return terrain.size(2); }
};

// Checks the inputs of fire_behavior / spread_params and packs their raw pointers (the
// outputs are each op's own). azimuth_deg: NaN for the head fire.
inline FireBehaviorArgs fire_behavior_args(const BehaviorTensors& in, double azimuth_deg,
                                           int64_t length_to_breadth_model, bool use_wind_limit,
                                           double crown_max_length_to_breadth) {
    const at::Tensor &terrain = in.terrain, &fuel_model = in.fuel_model, &weather = in.weather,
                     &landscape_index = in.landscape_index;
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
    const BehaviorOptions options =
        behavior_options(length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth);
    if (rows > 0 && num_landscapes == 0) TORCH_CHECK(false, "qagent: landscape_index refers to an empty terrain batch");
    if (rows > 0) {  // one device sync on CUDA; an index out of range would read out of bounds
        auto [lo, hi] = at::aminmax(landscape_index);
        TORCH_CHECK(lo.item<int64_t>() >= 0 && hi.item<int64_t>() < num_landscapes,
                    "qagent: landscape_index values must lie in [0, ", num_landscapes, ")");
    }

    FireBehaviorArgs a{};
    a.terrain = terrain.data_ptr<float>();
    a.fuel_model = fuel_model.data_ptr<int32_t>();
    a.weather = weather.data_ptr<float>();
    a.landscape_index = landscape_index.data_ptr<int64_t>();
    a.num_cells = num_cells;
    a.weather_cells = weather.size(2);
    a.options = options;
    a.has_azimuth = !std::isnan(azimuth_deg);
    a.azimuth_deg = a.has_azimuth ? static_cast<float>(azimuth_deg) : 0.0f;
    return a;
}

// The fire_behavior op's outputs: fire_type (uint8), spread_rate, spread_direction,
// fireline_intensity, flame_length, length_to_breadth ([B, N] each).
using FireBehaviorOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

inline FireBehaviorOutputs empty_fire_behavior_outputs(int64_t rows, int64_t num_cells, const at::TensorOptions& opts) {
    auto f = opts.dtype(at::kFloat);
    return FireBehaviorOutputs(at::empty({rows, num_cells}, opts.dtype(at::kByte)), at::empty({rows, num_cells}, f),
                               at::empty({rows, num_cells}, f), at::empty({rows, num_cells}, f),
                               at::empty({rows, num_cells}, f), at::empty({rows, num_cells}, f));
}

inline FireBehaviorOut fire_behavior_out(const FireBehaviorOutputs& o) {
    return FireBehaviorOut{std::get<0>(o).data_ptr<uint8_t>(), std::get<1>(o).data_ptr<float>(),
                           std::get<2>(o).data_ptr<float>(),   std::get<3>(o).data_ptr<float>(),
                           std::get<4>(o).data_ptr<float>(),   std::get<5>(o).data_ptr<float>()};
}


using SpreadOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// A zero-filled int32 tensor. On the CPU a large one is mapped from fresh anonymous memory,
// which the system hands out as zeros page by page when first written: the spread op's burn
// counts then cost the pages the fires touch, not a pass over the whole grid per call.
inline at::Tensor zeros_int32(at::IntArrayRef sizes, const at::TensorOptions& opts) {
#ifdef QAGENT_HAVE_MMAP
    int64_t numel = 1;
    for (int64_t s : sizes) numel *= s;
    const size_t bytes = size_t(numel) * sizeof(int32_t);
    if (opts.device().is_cpu() && bytes >= (size_t(4) << 20)) {
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            return at::from_blob(p, sizes, [bytes](void* q) { munmap(q, bytes); }, opts.dtype(at::kInt));
        }
    }
#endif
    return at::zeros(sizes, opts.dtype(at::kInt));
}

// min and max of a 1-d int64 tensor: a loop over host memory (no dispatch, no allocation:
// the spread op is called with a single fire, so its checks must cost next to nothing), or
// aminmax and one sync on a device.
inline std::pair<int64_t, int64_t> index_range(const at::Tensor& t) {
    if (t.is_cpu()) {
        const int64_t* p = t.data_ptr<int64_t>();
        int64_t lo = p[0], hi = p[0];
        for (int64_t i = 1, n = t.size(0); i < n; ++i) {
            lo = p[i] < lo ? p[i] : lo;
            hi = p[i] > hi ? p[i] : hi;
        }
        return {lo, hi};
    }
    auto [mn, mx] = at::aminmax(t);
    return {mn.item<int64_t>(), mx.item<int64_t>()};
}

// Checks the spread arguments (all indices in range: the kernels trust them), allocates the
// outputs and packs raw pointers. Tensors must already be contiguous. The lazy inputs
// (terrain, fuel_model, weather, weather_landscape) may be empty tensors when no simulation
// uses a weather row (param_index < P everywhere).
inline SpreadBatch prepare_spread(const at::Tensor& params, const at::Tensor& blocked, const at::Tensor& ignition,
                                  const at::Tensor& param_index, const at::Tensor& layout_index,
                                  const at::Tensor& count_index, const at::Tensor& duration_min, int64_t num_count_rows,
                                  double cell_size_m, int64_t stencil_size, bool return_arrival,
                                  const at::Tensor& terrain, const at::Tensor& fuel_model, const at::Tensor& weather,
                                  const at::Tensor& weather_landscape, int64_t length_to_breadth_model,
                                  bool use_wind_limit, double crown_max_length_to_breadth, int64_t relax_window,
                                  SpreadOutputs* outputs) {
    const at::Device device = params.device();
    check_tensor(params, "spread_params", at::kFloat, 4, device);
    check_tensor(blocked, "blocked", at::kByte, 3, device);
    check_tensor(ignition, "ignition", at::kLong, 1, device);
    check_tensor(param_index, "param_index", at::kLong, 1, device);
    check_tensor(layout_index, "layout_index", at::kLong, 1, device);
    check_tensor(count_index, "count_index", at::kLong, 1, device);
    check_tensor(duration_min, "duration_min", at::kFloat, 1, device);
    check_tensor(terrain, "terrain", at::kFloat, 3, device);
    check_tensor(fuel_model, "fuel_model", at::kInt, 2, device);
    check_tensor(weather, "weather", at::kFloat, 3, device);
    check_tensor(weather_landscape, "weather_landscape", at::kLong, 1, device);
    TORCH_CHECK(params.size(1) == kNumSpreadParams, "qagent: spread_params must be [P, ", int(kNumSpreadParams),
                ", H, W], got ", params.sizes());
    const int64_t height = params.size(2), width = params.size(3), n = ignition.size(0);
    TORCH_CHECK(height >= 1 && width >= 1, "qagent: the grid must have at least one cell, got ", height, "x", width);
    TORCH_CHECK(height * width < (int64_t(1) << 31), "qagent: grids are limited to 2^31 cells");
    const int64_t cells = height * width;
    TORCH_CHECK(blocked.size(1) == height && blocked.size(2) == width, "qagent: blocked must be [L, ", height, ", ",
                width, "], got ", blocked.sizes());
    for (const at::Tensor* t : {&param_index, &layout_index, &count_index, &duration_min}) {
        TORCH_CHECK(t->size(0) == n, "qagent: every per-simulation tensor needs n = ", n, " entries, got ", t->size(0));
    }
    const int64_t num_grids = params.size(0), rows = weather.size(0), num_landscapes = terrain.size(0);
    if (rows > 0) {
        TORCH_CHECK(terrain.size(1) == kNumTerrainChannels && terrain.size(2) == cells, "qagent: terrain must be [E, ",
                    int(kNumTerrainChannels), ", H*W = ", cells, "], got ", terrain.sizes());
        TORCH_CHECK(fuel_model.size(0) == num_landscapes && fuel_model.size(1) == cells,
                    "qagent: fuel_model must be [E, H*W] = [", num_landscapes, ", ", cells, "], got ", fuel_model.sizes());
        TORCH_CHECK(weather.size(1) == kNumWeatherChannels && (weather.size(2) == 1 || weather.size(2) == cells),
                    "qagent: weather must be [B, ", int(kNumWeatherChannels), ", 1 or H*W], got ", weather.sizes());
        TORCH_CHECK(weather_landscape.size(0) == rows, "qagent: weather_landscape must have B = ", rows,
                    " entries, got ", weather_landscape.size(0));
        TORCH_CHECK(num_landscapes > 0, "qagent: weather rows need at least one landscape in terrain");
        auto [lo, hi] = index_range(weather_landscape);
        TORCH_CHECK(lo >= 0 && hi < num_landscapes, "qagent: weather_landscape values must lie in [0, ", num_landscapes,
                    "), got [", lo, ", ", hi, "]");
    }
    const BehaviorOptions options =
        behavior_options(length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth);
    TORCH_CHECK(num_count_rows >= 0, "qagent: num_count_rows must be >= 0");
    TORCH_CHECK(stencil_size == kSmallStencilSize || stencil_size == kMaxStencilSize, "qagent: stencil_size must be ",
                kSmallStencilSize, " or ", kMaxStencilSize, ", got ",
                stencil_size);
    TORCH_CHECK(std::isfinite(cell_size_m) && cell_size_m > 0.0, "qagent: cell_size_m must be positive, got ",
                cell_size_m);
    TORCH_CHECK(relax_window >= 0 && relax_window < (int64_t(1) << 30),
                "qagent: relax_window must be 0 (default) or a positive window side in cells, got ", relax_window);
    auto check_range = [&](const at::Tensor& t, const char* name, int64_t lo, int64_t hi) {
        if (n == 0) return;
        auto [a, b] = index_range(t);
        TORCH_CHECK(a >= lo && b < hi, "qagent: ", name, " values must lie in [", lo, ", ", hi, "), got [", a, ", ",
                    b, "]");
    };
    check_range(ignition, "ignition", 0, cells);
    check_range(param_index, "param_index", 0, num_grids + rows);
    check_range(layout_index, "layout_index", -1, blocked.size(0));
    check_range(count_index, "count_index", -1, num_count_rows);
    if (n > 0) {
        bool ok = true;
        if (duration_min.is_cpu()) {
            const float* d = duration_min.data_ptr<float>();
            for (int64_t i = 0; i < n && ok; ++i) ok = std::isfinite(d[i]) && d[i] >= 0.0f;
        } else {
            ok = at::isfinite(duration_min).all().item<bool>() && (duration_min >= 0).all().item<bool>();
        }
        TORCH_CHECK(ok, "qagent: duration_min must be finite and >= 0");
    }

    auto opts = params.options();
    *outputs = SpreadOutputs(at::zeros({n}, opts.dtype(at::kInt)), zeros_int32({num_count_rows, height, width}, opts),
                             at::empty({return_arrival ? n : 0, height, width}, opts));
    SpreadBatch b;
    b.params = num_grids > 0 ? params.data_ptr<float>() : nullptr;
    b.num_grids = num_grids;
    b.lazy = FireBehaviorArgs{};
    if (rows > 0) {
        b.lazy.terrain = terrain.data_ptr<float>();
        b.lazy.fuel_model = fuel_model.data_ptr<int32_t>();
        b.lazy.weather = weather.data_ptr<float>();
        b.lazy.landscape_index = weather_landscape.data_ptr<int64_t>();
        b.lazy.weather_cells = weather.size(2);
    }
    b.lazy.num_cells = cells;
    b.lazy.options = options;
    b.lazy.has_azimuth = false;
    b.lazy.azimuth_deg = 0.0f;
    b.num_weather_rows = rows;
    b.blocked = blocked.size(0) > 0 ? blocked.data_ptr<uint8_t>() : nullptr;
    b.ignition = ignition.data_ptr<int64_t>();
    b.param_index = param_index.data_ptr<int64_t>();
    b.layout_index = layout_index.data_ptr<int64_t>();
    b.count_index = count_index.data_ptr<int64_t>();
    b.duration_min = duration_min.data_ptr<float>();
    b.num_sims = n;
    b.height = static_cast<int>(height);
    b.width = static_cast<int>(width);
    b.cell_size_m = static_cast<float>(cell_size_m);
    b.stencil_size = static_cast<int>(stencil_size);
    b.relax_window = relax_window > 0 ? static_cast<int>(relax_window) : kDefaultRelaxWindow;
    b.burned_cells = std::get<0>(*outputs).data_ptr<int32_t>();
    b.burn_count = num_count_rows > 0 ? std::get<1>(*outputs).data_ptr<int32_t>() : nullptr;
    b.arrival_min = return_arrival ? std::get<2>(*outputs).data_ptr<float>() : nullptr;
    return b;
}

// The spread op's values at risk and downstream protection value (csrc/qagent/dpv.h):
// checks values [V, H, W] float32 (finite, >= 0) and value_index [n] int64 in [-1, V), points
// the batch at them and allocates burned_value [n] (when values are given or return_dpv; else
// [0]) and dpv [G, H, W] (when return_dpv; else [0, H, W]), accumulated in float64 (8 B per
// cell per row during the call: the float sums of many fires, added in whatever order the
// threads or blocks finish, then round to the same float32) and returned as float32. Holds
// the contiguous inputs for the kernels.
struct DpvInputs {
    at::Tensor values, value_index;  // contiguous (undefined when absent)
    at::Tensor burned_value, dpv;    // outputs (dpv: float64 until spread_outputs)
};

inline DpvInputs prepare_dpv(const std::optional<at::Tensor>& values, const std::optional<at::Tensor>& value_index,
                             bool return_dpv, int64_t num_count_rows, const at::Tensor& params, SpreadBatch* b) {
    const at::Device device = params.device();
    const int64_t height = b->height, width = b->width, n = b->num_sims;
    DpvInputs d;
    int64_t num_values = 0;
    const bool has_values = values.has_value() && values->defined();
    if (has_values) {
        check_tensor(*values, "values", at::kFloat, 3, device);
        TORCH_CHECK(values->size(1) == height && values->size(2) == width, "qagent: values must be [V, ", height, ", ",
                    width, "], got ", values->sizes());
        d.values = values->contiguous();
        num_values = d.values.size(0);
        bool ok = true;
        if (d.values.is_cpu()) {
            const float* v = d.values.data_ptr<float>();
            for (int64_t i = 0, m = d.values.numel(); i < m && ok; ++i) ok = std::isfinite(v[i]) && v[i] >= 0.0f;
        } else if (d.values.numel() > 0) {
            ok = at::isfinite(d.values).all().item<bool>() && (d.values >= 0).all().item<bool>();
        }
        TORCH_CHECK(ok, "qagent: values must be finite and >= 0 (no NaN, no negative values)");
        b->values = d.values.numel() > 0 ? d.values.data_ptr<float>() : nullptr;
    }
    if (value_index.has_value() && value_index->defined()) {
        check_tensor(*value_index, "value_index", at::kLong, 1, device);
        TORCH_CHECK(value_index->size(0) == n, "qagent: value_index needs n = ", n, " entries, got ",
                    value_index->size(0));
        d.value_index = value_index->contiguous();
        if (n > 0) {
            auto [lo, hi] = index_range(d.value_index);
            TORCH_CHECK(lo >= -1 && hi < num_values, "qagent: value_index values must lie in [-1, ", num_values,
                        ") (-1: every cell is worth 1), got [", lo, ", ", hi, "]");
            b->value_index = d.value_index.data_ptr<int64_t>();
        }
    }
    auto opts = params.options();
    d.burned_value = at::zeros({(has_values || return_dpv) ? n : 0}, opts);
    d.dpv = at::zeros({return_dpv ? num_count_rows : 0, height, width}, opts.dtype(at::kDouble));
    if (has_values || return_dpv) b->burned_value = n > 0 ? d.burned_value.data_ptr<float>() : nullptr;
    if (return_dpv && num_count_rows > 0) b->dpv = d.dpv.data_ptr<double>();
    return d;
}

// The spread op's outputs: burned_cells, burn_count, arrival_time_min, burned_value, dpv.
using SpreadValueOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

inline SpreadValueOutputs spread_outputs(const SpreadOutputs& out, const DpvInputs& d) {
    return SpreadValueOutputs(std::get<0>(out), std::get<1>(out), std::get<2>(out), d.burned_value,
                              d.dpv.to(at::kFloat));
}

// The spread op's optional lazy inputs, as empty tensors when absent.
struct LazyInputs {
    at::Tensor terrain, fuel_model, weather, weather_landscape;
};

inline LazyInputs lazy_inputs(const at::Tensor& params, const std::optional<at::Tensor>& terrain,
                              const std::optional<at::Tensor>& fuel_model, const std::optional<at::Tensor>& weather,
                              const std::optional<at::Tensor>& weather_landscape) {
    auto f = params.options();
    auto or_empty = [](const std::optional<at::Tensor>& t, at::Tensor empty) {
        return t.has_value() && t->defined() ? t->contiguous() : empty;
    };
    return LazyInputs{or_empty(terrain, at::empty({0, kNumTerrainChannels, 0}, f)),
                      or_empty(fuel_model, at::empty({0, 0}, f.dtype(at::kInt))),
                      or_empty(weather, at::empty({0, kNumWeatherChannels, 1}, f)),
                      or_empty(weather_landscape, at::empty({0}, f.dtype(at::kLong)))};
}

}  // namespace qagent
