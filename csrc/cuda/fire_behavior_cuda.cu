// CUDA launches of the fire_behavior and spread_params ops: one thread per (row, cell), the
// same per-element body as the CPU loop (csrc/qagent/fire_behavior_kernel.h; the op wrappers,
// csrc/op_wrappers.h, check the arguments and allocate the outputs).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include "backends.h"

namespace qagent {
namespace {

// element: FireBehaviorElement or SpreadParamsElement.
template <class Element>
__global__ void cells_kernel(Element element, int64_t total) {
    const int64_t num_cells = element.a.num_cells;
    for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
        element(k / num_cells, k % num_cells);
    }
}

template <class Element>
void run_cells(const Element& element, int64_t rows) {
    const int64_t total = rows * element.a.num_cells;
    if (total == 0) return;
    const int threads = 256;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535LL * 8);
    cells_kernel<<<static_cast<unsigned>(blocks), threads, 0, c10::cuda::getCurrentCUDAStream()>>>(element, total);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void CudaOps::fire_behavior(const FireBehaviorElement& e, int64_t rows, int64_t) { run_cells(e, rows); }

void CudaOps::spread_params(const SpreadParamsElement& e, int64_t rows, int64_t) { run_cells(e, rows); }

}  // namespace qagent
