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
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include "backends.h"
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

// The Atomics of csrc/qagent/dpv.h.
struct DeviceAtomics {
    __device__ void add_count(int32_t* at) const { atomicAdd(at, 1); }
    __device__ void add_value(double* at, float v) const { atomic_add_double(at, double(v)); }
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
        const RelaxWindow w = place_relax_window(arrival, side, b.height, b.width, int(ignition / b.width),
                                                 int(ignition % b.width));
        int region[4];
        uint8_t* tree = b.wants_dpv(sim) ? pred : nullptr;  // the propagation tree, with return_dpv
        const int64_t mine = relax_fire(b, sim, plans, w, params, tree, team, region);
        if (mine == kRelaxOverflow) {  // every lane returned it; run again in a larger window
            if (threadIdx.x == 0) overflow[sim] = 1;
            __syncthreads();
            continue;
        }
        __syncthreads();
        const double my_value = relax_add_fire(b, sim, plans, w, region, tree, team, DeviceAtomics{});
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

}  // namespace

// The batch's passes (b.num_sims > 0): every simulation in windows of b.relax_window, then the
// ones that overflowed in windows 4 times larger, until a window covers the grid.
void CudaOps::spread(const SpreadBatch& b, int64_t, const at::Tensor& p, const SpreadOutputs& out) {
    const int64_t n = b.num_sims;
    if (b.arrival_min != nullptr) std::get<2>(out).fill_(INFINITY);  // kernels write the burned cells only
    int sms = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, p.device().index()));
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
}

}  // namespace qagent
