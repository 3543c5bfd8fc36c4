// The launches of the compiled ops per device, behind the op wrappers of op_wrappers.h (which
// says what each function must do). Only launches live here: checks, outputs and device
// guards are the wrappers', the same for every device.
#pragma once

#include <ATen/ATen.h>

#include "op_checks.h"

namespace qagent {

struct CpuOps {  // csrc/cpu/
    static constexpr const char* kName = "CPU";
    static constexpr bool kHasDijkstra = true;
    static void fire_behavior(const FireBehaviorElement& e, int64_t rows, int64_t num_landscapes);
    static void spread_params(const SpreadParamsElement& e, int64_t rows, int64_t num_landscapes);
    static void spread(const SpreadBatch& b, int64_t algorithm, const at::Tensor& params, const SpreadOutputs& out);
};

#ifdef QAGENT_WITH_CUDA
struct CudaOps {  // csrc/cuda/
    static constexpr const char* kName = "CUDA";
    static constexpr bool kHasDijkstra = false;
    static void fire_behavior(const FireBehaviorElement& e, int64_t rows, int64_t num_landscapes);
    static void spread_params(const SpreadParamsElement& e, int64_t rows, int64_t num_landscapes);
    static void spread(const SpreadBatch& b, int64_t algorithm, const at::Tensor& params, const SpreadOutputs& out);
};
#endif

}  // namespace qagent
