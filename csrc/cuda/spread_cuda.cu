// CUDA launch of the spread op: one thread block per simulation (blocks loop over the
// batch), running relax_simulation (csrc/qagent/spread.h) with the block as its team.
//
// Scratch is sized by a window around the ignition, not by the grid. A first pass gives
// every simulation a window of relax_window x relax_window cells (default 64: 16 KiB of
// arrival times in shared memory); a simulation whose sweep region outgrows its window stops
// and is flagged, and the flagged ones run again in windows 4 times larger (arrival times in
// a global buffer, one slice per block), until the window covers the grid. Lazy parameter
// sources (a weather row per simulation) compute the spread parameters of the cells of the
// sweep region as it grows, into a per-block buffer of 24 B per window cell (global memory);
// precomputed grids are read in place. The CPU build runs the same relax_simulation with one
// lane, the same windows and the same re-runs (csrc/cpu/spread_cpu.cpp, algorithm "relax").
//
// Values and downstream protection value (csrc/qagent/dpv.h): with values the burned value
// is summed per block (a double per lane, one shared double); with return_dpv the
// predecessors of the window's burned cells go to a per-block buffer of 1 B per window cell
// (global memory), and each burned cell adds its value up its chain with atomicAdd into the
// dpv row (float64, returned as float32).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "op_checks.h"
#include "qagent/dpv.h"

namespace qagent {
namespace {

constexpr int kThreadsPerBlock = 256;
// Dynamic shared memory for the arrival window, leaving room under the 48 KiB a block gets
// without opting in for the kernel's static shared variables (the step plans, 1.8 KiB).
constexpr int64_t kMaxSharedCells = 11000;
// Global scratch of one pass (arrival and parameter windows of the blocks in flight).
constexpr int64_t kMaxScratchBytes = int64_t(1) << 30;

struct BlockTeam {
    int* shared_ints;  // 4 ints of shared memory for reductions

    __device__ int lane() const { return threadIdx.x; }
    __device__ int size() const { return blockDim.x; }
    __device__ void sync() { __syncthreads(); }
    __device__ bool any(bool v) { return __syncthreads_or(v) != 0; }
    __device__ void reduce_box(int* box) {
        if (threadIdx.x == 0) {
            shared_ints[0] = box[0];
            shared_ints[1] = box[1];
            shared_ints[2] = box[2];
            shared_ints[3] = box[3];
        }
        __syncthreads();
        atomicMin(&shared_ints[0], box[0]);
        atomicMax(&shared_ints[1], box[1]);
        atomicMin(&shared_ints[2], box[2]);
        atomicMax(&shared_ints[3], box[3]);
        __syncthreads();
        for (int i = 0; i < 4; ++i) box[i] = shared_ints[i];
        __syncthreads();
    }
};

__device__ inline void atomic_add_double(double* at, double v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 600
    auto* bits = reinterpret_cast<unsigned long long*>(at);
    unsigned long long old = *bits, seen;
    do {
        seen = old;
        old = atomicCAS(bits, seen, __double_as_longlong(__longlong_as_double(seen) + v));
    } while (old != seen);
#else
    atomicAdd(at, v);
#endif
}

struct AtomicAddValue {
    __device__ void operator()(double* at, float v) const { atomic_add_double(at, double(v)); }
};

// One pass: simulations sims[0..num) (all of them when sims is null) in windows of `side`.
// global_pred: the blocks' predecessor windows (return_dpv), else null.
__global__ void spread_kernel(SpreadBatch b, const int64_t* sims, int64_t num, int side, float* global_arrival,
                              float* global_params, bool use_shared, uint8_t* overflow, uint8_t* global_pred) {
    extern __shared__ float shared_arrival[];
    __shared__ StepPlans plans;
    __shared__ int team_ints[4];
    __shared__ unsigned long long burned_total;
    __shared__ double value_total;
    const int64_t n = b.cells();
    const int64_t window_cells = int64_t(imin(side, b.height)) * imin(side, b.width);
    float* arrival = use_shared ? shared_arrival : global_arrival + int64_t(blockIdx.x) * window_cells;
    float* params = global_params != nullptr ? global_params + int64_t(blockIdx.x) * window_cells * kNumSpreadParams
                                             : nullptr;
    uint8_t* pred = global_pred != nullptr ? global_pred + int64_t(blockIdx.x) * window_cells : nullptr;
    BlockTeam team{team_ints};
    if (threadIdx.x < kMaxStencilSize) make_step_plan(threadIdx.x, &plans.plan[threadIdx.x]);
    __syncthreads();
    for (int64_t k = blockIdx.x; k < num; k += gridDim.x) {
        const int64_t sim = sims != nullptr ? sims[k] : k;
        if (threadIdx.x == 0) {
            burned_total = 0;
            value_total = 0.0;
        }
        __syncthreads();
        const int64_t ignition = b.ignition[sim];
        const float duration = b.duration_min[sim];
        const RelaxWindow w = place_relax_window(arrival, side, b.height, b.width, int(ignition / b.width),
                                                 int(ignition % b.width));
        int region[4];
        int64_t mine;
        const bool tree = pred != nullptr && b.dpv != nullptr && b.count_index[sim] >= 0;
        if (b.is_lazy(sim)) {
            const auto g = b.grid(sim, b.window_params(sim, w, params));
            mine = relax_simulation(g, plans, ignition, duration, w, team, region);
            if (tree && mine != kRelaxOverflow) relax_predecessors(g, plans, duration, w, region, pred, team);
        } else {
            const auto g = b.grid(sim, b.grid_params(sim));
            mine = relax_simulation(g, plans, ignition, duration, w, team, region);
            if (tree && mine != kRelaxOverflow) relax_predecessors(g, plans, duration, w, region, pred, team);
        }
        if (mine == kRelaxOverflow) {  // every lane returned it; run again in a larger window
            if (threadIdx.x == 0) overflow[sim] = 1;
            __syncthreads();
            continue;
        }
        __syncthreads();
        int32_t* counts = b.burn_count != nullptr && b.count_index[sim] >= 0 ? b.burn_count + b.count_index[sim] * n
                                                                             : nullptr;
        float* out = b.arrival_min != nullptr ? b.arrival_min + sim * n : nullptr;  // pre-filled with +inf
        const float* value = b.values_of(sim);
        double my_value = 0.0;
        const int region_width = region[3] - region[2] + 1;
        const int64_t region_cells = int64_t(region[1] - region[0] + 1) * region_width;
        for (int64_t c = threadIdx.x; c < region_cells; c += blockDim.x) {
            const int row = region[0] + int(c / region_width), col = region[2] + int(c % region_width);
            const float t = w.at(row, col);
            if (!(t <= duration)) continue;
            const int64_t cell = int64_t(row) * b.width + col;
            if (counts != nullptr) atomicAdd(&counts[cell], 1);
            if (out != nullptr) out[cell] = t;
            if (b.burned_value != nullptr) my_value += value != nullptr ? value[cell] : 1.0f;
        }
        if (tree) {
            relax_accumulate_dpv(plans, duration, w, region, pred, value, b.width, b.dpv + b.count_index[sim] * n,
                                 team, AtomicAddValue{});
        }
        atomicAdd(&burned_total, static_cast<unsigned long long>(mine));
        if (b.burned_value != nullptr) atomic_add_double(&value_total, my_value);
        __syncthreads();
        if (threadIdx.x == 0) {
            b.burned_cells[sim] = static_cast<int32_t>(burned_total);
            if (b.burned_value != nullptr) b.burned_value[sim] = static_cast<float>(value_total);
        }
        __syncthreads();
    }
}

SpreadValueOutputs spread_cuda(const at::Tensor& params, const at::Tensor& blocked, const at::Tensor& ignition,
                          const at::Tensor& param_index, const at::Tensor& layout_index, const at::Tensor& count_index,
                          const at::Tensor& duration_min, int64_t num_count_rows, double cell_size_m,
                          int64_t stencil_size, bool return_arrival, int64_t algorithm,
                          const std::optional<at::Tensor>& terrain, const std::optional<at::Tensor>& fuel_model,
                          const std::optional<at::Tensor>& weather, const std::optional<at::Tensor>& weather_landscape,
                          int64_t length_to_breadth_model, bool use_wind_limit, double crown_max_length_to_breadth,
                          int64_t relax_window, const std::optional<at::Tensor>& values,
                          const std::optional<at::Tensor>& value_index, bool return_dpv) {
    TORCH_CHECK(algorithm == kSpreadAuto || algorithm == kSpreadRelax,
                "qagent: on CUDA the spread algorithm is relaxation (0 auto or 2 relax), got ", algorithm);
    const c10::cuda::CUDAGuard guard(params.device());
    at::Tensor p = params.contiguous(), bl = blocked.contiguous(), ig = ignition.contiguous(),
               pi = param_index.contiguous(), li = layout_index.contiguous(), ci = count_index.contiguous(),
               du = duration_min.contiguous();
    const LazyInputs lz = lazy_inputs(p, terrain, fuel_model, weather, weather_landscape);
    SpreadOutputs out;
    SpreadBatch b = prepare_spread(p, bl, ig, pi, li, ci, du, num_count_rows, cell_size_m, stencil_size,
                                         return_arrival, lz.terrain, lz.fuel_model, lz.weather, lz.weather_landscape,
                                         length_to_breadth_model, use_wind_limit, crown_max_length_to_breadth,
                                         relax_window, &out);
    const DpvInputs dpv = prepare_dpv(values, value_index, return_dpv, num_count_rows, p, &b);
    const int64_t n = b.num_sims;
    if (n == 0) return spread_outputs(out, dpv);
    if (return_arrival) std::get<2>(out).fill_(INFINITY);  // kernels write the burned cells only
    int sms = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, params.device().index()));
    const auto stream = c10::cuda::getCurrentCUDAStream();
    at::Tensor overflow = at::zeros({n}, p.options().dtype(at::kByte));
    at::Tensor sims;  // undefined in the first pass: every simulation
    int64_t num = n;
    for (int side = b.relax_window;; side = next_relax_window(side)) {
        const int64_t window_cells = int64_t(imin(side, b.height)) * imin(side, b.width);
        const bool use_shared = window_cells <= kMaxSharedCells;
        const int64_t block_bytes = (use_shared ? 0 : window_cells * int64_t(sizeof(float))) +
                                    (b.num_weather_rows > 0 ? window_cells * kNumSpreadParams * int64_t(sizeof(float)) : 0) +
                                    (b.dpv != nullptr ? window_cells : 0);
        int64_t blocks = std::min<int64_t>(num, int64_t(sms) * (use_shared ? 8 : 4));
        if (block_bytes > 0) blocks = std::max<int64_t>(1, std::min<int64_t>(blocks, kMaxScratchBytes / block_bytes));
        at::Tensor arrival_scratch, param_scratch, pred_scratch;
        if (!use_shared) arrival_scratch = at::empty({blocks, window_cells}, p.options());
        if (b.num_weather_rows > 0) param_scratch = at::empty({blocks, window_cells * kNumSpreadParams}, p.options());
        if (b.dpv != nullptr) pred_scratch = at::empty({blocks, window_cells}, p.options().dtype(at::kByte));
        const size_t shared_bytes = use_shared ? size_t(window_cells) * sizeof(float) : 0;
        spread_kernel<<<static_cast<unsigned>(blocks), kThreadsPerBlock, shared_bytes, stream>>>(
            b, sims.defined() ? sims.data_ptr<int64_t>() : nullptr, num, side,
            use_shared ? nullptr : arrival_scratch.data_ptr<float>(),
            param_scratch.defined() ? param_scratch.data_ptr<float>() : nullptr, use_shared,
            overflow.data_ptr<uint8_t>(), pred_scratch.defined() ? pred_scratch.data_ptr<uint8_t>() : nullptr);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
        if (relax_window_covers(side, b.height, b.width)) break;  // nothing can overflow the grid
        // The simulations that outgrew this window (one sync), re-run in a larger one.
        sims = overflow.nonzero().reshape({-1}).contiguous();
        num = sims.size(0);
        if (num == 0) break;
        overflow.zero_();
    }
    return spread_outputs(out, dpv);
}

}  // namespace

TORCH_LIBRARY_IMPL(qagent, CUDA, m) { m.impl("spread", &spread_cuda); }

}  // namespace qagent
