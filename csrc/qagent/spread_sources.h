// The spread op's batch of simulations and its lazy parameter source for the relaxation.
//
// A simulation's spread parameters come from one of two kinds of source (param_index):
// - a precomputed grid, row param_index of spread_params [P, 6, H, W] (GridParams), computed
//   once by the spread_params op and shared by every simulation of one landscape and weather;
// - a weather row, param_index - P of weather [B, 8, K] on landscape weather_landscape[row]:
//   each cell's parameters are computed when the fire first needs them, at most once per
//   simulation, by spread_params_element (fire_behavior_kernel.h), the function the
//   spread_params op runs, so the results equal the eager path's to the bit. A fire of 20
//   cells on a grid of 10^8 then costs its 20 cells and their neighbourhood, not the grid.
#pragma once

#include "fire_behavior_kernel.h"
#include "spread.h"

namespace qagent {

// Lazy source of the relaxation: the parameters of the cells of the sweep region, in a
// window-local buffer of kNumSpreadParams floats per cell, filled when a cell joins the region
// (relax_simulation calls fill once per cell; reads come after the team's barrier).
struct WindowParams {
    float* buf;              // [rows * cols * kNumSpreadParams], cell-major
    int row0, col0, cols;    // the window (RelaxWindow)
    int width;               // of the grid
    FireBehaviorArgs args;   // the lazy inputs
    int64_t weather_row;

    QAGENT_HD_HOT int64_t index(int row, int col) const { return int64_t(row - row0) * cols + (col - col0); }
    QAGENT_HD_HOT ParamRef at(int row, int col) const { return ParamRef{buf + index(row, col) * kNumSpreadParams, 1}; }
    QAGENT_HD_HOT float inv_back_rate(int row, int col) const {
        return buf[index(row, col) * kNumSpreadParams + kParamInvBackRate];
    }
    QAGENT_HD void fill(int row, int col) const {
        spread_params_element(args, weather_row, int64_t(row) * width + col, nullptr,
                              buf + index(row, col) * kNumSpreadParams, 1);
    }
    QAGENT_HD_HOT float segment_min(const ParamRef& at, int, float step_east_m, float step_north_m) const {
        return segment_time_at_cell_min(at, step_east_m, step_north_m);
    }
};

// A batch of simulations for the spread op: raw pointers, usable on host and device.
struct SpreadBatch {
    const float* params;          // [P, kNumSpreadParams, H, W] precomputed grids (P may be 0)
    int64_t num_grids;            // P
    FireBehaviorArgs lazy;        // terrain [E, 6, N], fuel [E, N], weather [B, 8, K],
                                  // landscape_index = weather_landscape [B]; options
    int64_t num_weather_rows;     // B
    const uint8_t* blocked;       // [L, H, W] (null when L = 0)
    const int64_t* ignition;      // [n] flat cell index row * W + col
    const int64_t* param_index;   // [n] in [0, P + B): < P a grid, else weather row param_index - P
    const int64_t* layout_index;  // [n] in [0, L), or -1 for no fuel breaks
    const int64_t* count_index;   // [n] in [0, G): the burn_count row a simulation adds to; -1: none
    const float* duration_min;    // [n]
    int64_t num_sims;
    int height;
    int width;
    float cell_size_m;
    int stencil_size;
    int relax_window;             // first window side of the relaxation
    int32_t* burned_cells;        // [n] out
    int32_t* burn_count;          // [G, H, W] out, accumulated
    float* arrival_min;           // [n, H, W] out, or null
    // Values at risk and downstream protection value (csrc/qagent/dpv.h); null when not asked.
    const float* values = nullptr;         // [V, H, W] >= 0
    const int64_t* value_index = nullptr;  // [n] in [-1, V): -1 (or null) every cell is worth 1
    float* burned_value = nullptr;         // [n] out: sum of values over the burned cells
    double* dpv = nullptr;                 // [G, H, W] out, accumulated by count_index like burn_count
                                           // (in double: sums over fires in any order round alike)

    QAGENT_HD int64_t cells() const { return int64_t(height) * width; }
    // The value grid [H, W] of a simulation, or null when each cell is worth 1.
    QAGENT_HD const float* values_of(int64_t sim) const {
        return values != nullptr && value_index != nullptr && value_index[sim] >= 0 ? values + value_index[sim] * cells()
                                                                                     : nullptr;
    }
    // Whether a simulation's downstream protection value is asked for (csrc/qagent/dpv.h).
    QAGENT_HD bool wants_dpv(int64_t sim) const { return dpv != nullptr && count_index[sim] >= 0; }
    QAGENT_HD bool is_lazy(int64_t sim) const { return param_index[sim] >= num_grids; }
    QAGENT_HD int64_t weather_row(int64_t sim) const { return param_index[sim] - num_grids; }
    QAGENT_HD const uint8_t* blocked_of(int64_t sim) const {
        return layout_index[sim] >= 0 ? blocked + layout_index[sim] * cells() : nullptr;
    }
    template <class P>
    QAGENT_HD SpreadGrid<P> grid(int64_t sim, const P& source) const {
        SpreadGrid<P> g;
        g.params = source;
        g.blocked = blocked_of(sim);
        g.height = height;
        g.width = width;
        g.cell_size_m = cell_size_m;
        g.stencil_size = stencil_size;
        return g;
    }
    // The precomputed grid of an eager simulation.
    QAGENT_HD GridParams grid_params(int64_t sim) const {
        return GridParams{params + param_index[sim] * kNumSpreadParams * cells(), cells(), width};
    }
    // The relaxation's lazy source of a lazy simulation over window w.
    QAGENT_HD WindowParams window_params(int64_t sim, const RelaxWindow& w, float* buf) const {
        WindowParams p;
        p.buf = buf;
        p.row0 = w.row0;
        p.col0 = w.col0;
        p.cols = w.cols;
        p.width = width;
        p.args = lazy;
        p.weather_row = weather_row(sim);
        return p;
    }
};

// kSpreadDijkstraUncached skips the CPU step-time cache (exposed so tests and benchmarks can
// exercise and compare both paths).
enum SpreadAlgorithm : int { kSpreadAuto = 0, kSpreadDijkstra = 1, kSpreadRelax = 2, kSpreadDijkstraUncached = 3 };

}  // namespace qagent
