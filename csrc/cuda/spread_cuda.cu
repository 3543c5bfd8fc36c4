// CUDA launch of the spread op: one thread block per simulation (blocks loop over the
// batch), running relax_simulation (csrc/qagent/spread.h) with the block as its team.
//
// Scratch: the arrival grid, 4 bytes per cell per block in flight. It lives in shared memory
// when it fits (grids up to kMaxSharedCells cells, e.g. 109 x 109), otherwise in a global
// buffer with one slice per block ("tiled" by the sweep region, which covers only the burned
// bounding box plus the stencil radius). Per-cell spread parameters are read through the
// read-only cache; they are computed once per landscape and weather and shared by all the
// simulations that use them.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "op_checks.h"

namespace qagent {
namespace {

constexpr int kThreadsPerBlock = 256;
// Dynamic shared memory for the arrival grid, leaving room under the 48 KiB a block gets
// without opting in for the kernel's few static shared variables.
constexpr int64_t kMaxSharedCells = 12000;

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

__global__ void spread_kernel(SpreadBatch b, float* global_scratch, bool use_shared) {
    extern __shared__ float shared_arrival[];
    __shared__ int team_ints[4];
    __shared__ unsigned long long burned_total;
    const int64_t n = b.cells();
    float* arrival = use_shared ? shared_arrival : global_scratch + int64_t(blockIdx.x) * n;
    BlockTeam team{team_ints};
    for (int64_t sim = blockIdx.x; sim < b.num_sims; sim += gridDim.x) {
        if (threadIdx.x == 0) burned_total = 0;
        const float duration = b.duration_min[sim];
        int64_t mine = relax_simulation(b.grid(sim), b.ignition[sim], duration, arrival, team);
        __syncthreads();
        // relax_simulation returns early (before its final pass) when the ignition cannot
        // burn; then every arrival is +inf and nothing below counts.
        int32_t* counts = b.burn_count + b.count_index[sim] * n;
        float* out = b.arrival_min != nullptr ? b.arrival_min + sim * n : nullptr;
        for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
            const float t = arrival[c];
            if (t <= duration) atomicAdd(&counts[c], 1);
            if (out != nullptr) out[c] = t <= duration ? t : kInf;
        }
        atomicAdd(&burned_total, static_cast<unsigned long long>(mine));
        __syncthreads();
        if (threadIdx.x == 0) b.burned_cells[sim] = static_cast<int32_t>(burned_total);
        __syncthreads();
    }
}

SpreadOutputs spread_cuda(const at::Tensor& params, const at::Tensor& blocked, const at::Tensor& ignition,
                          const at::Tensor& param_index, const at::Tensor& layout_index, const at::Tensor& count_index,
                          const at::Tensor& duration_min, int64_t num_count_rows, double cell_size_m,
                          int64_t stencil_size, bool return_arrival, int64_t algorithm) {
    TORCH_CHECK(algorithm == kSpreadAuto || algorithm == kSpreadRelax,
                "qagent: on CUDA the spread algorithm is relaxation (0 auto or 2 relax), got ", algorithm);
    const c10::cuda::CUDAGuard guard(params.device());
    at::Tensor p = params.contiguous(), bl = blocked.contiguous(), ig = ignition.contiguous(),
               pi = param_index.contiguous(), li = layout_index.contiguous(), ci = count_index.contiguous(),
               du = duration_min.contiguous();
    SpreadOutputs out;
    const SpreadBatch b = prepare_spread(p, bl, ig, pi, li, ci, du, num_count_rows, cell_size_m, stencil_size, return_arrival, &out);
    if (b.num_sims == 0) return out;
    const int64_t n = b.cells();
    int sms = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, params.device().index()));
    const bool use_shared = n <= kMaxSharedCells;
    const int64_t blocks = std::min<int64_t>(b.num_sims, int64_t(sms) * (use_shared ? 8 : 4));
    at::Tensor scratch;
    float* scratch_ptr = nullptr;
    if (!use_shared) {
        scratch = at::empty({blocks, n}, p.options());
        scratch_ptr = scratch.data_ptr<float>();
    }
    const size_t shared_bytes = use_shared ? size_t(n) * sizeof(float) : 0;
    spread_kernel<<<static_cast<unsigned>(blocks), kThreadsPerBlock, shared_bytes, c10::cuda::getCurrentCUDAStream()>>>(
        b, scratch_ptr, use_shared);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(qagent, CUDA, m) { m.impl("spread", &spread_cuda); }

}  // namespace qagent
