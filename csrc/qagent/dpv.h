// Downstream protection value (DPV) of a fire: the value at risk that each burned cell passes
// fire on to (Pais, Gonzalez-Olabarria, Elimbi Moudio, Garcia-Gonzalo, Gonzalez & Weintraub
// 2021, "Downstream protection value: detecting critical zones for effective fuel-treatment
// under wildfire risk", Computers & Operations Research 131, 105252).
//
// A fire's propagation tree links every burned cell c other than the ignition to the cell
// that ignited it, its predecessor pred(c). The DPV of c in that fire is the total value of
// its subtree, itself included,
//   dpv_fire(c) = sum over cells j of the subtree rooted at c of v_j,
// the value a treatment of c would have protected from this fire had it stopped the fire
// there; the spread op sums it over the fires of a burn-count row (count_index), and the
// ignition's DPV is the fire's burned value, sum of v_j over its burned cells. v_j = 1 counts
// cells.
//
// Predecessor rule (the same tree for Dijkstra and the relaxation): pred(c) is the stencil
// neighbour `from` = c - offset(d) that burned strictly before c, arrival(from) < arrival(c),
// and minimises arrival(from) + step_time_min(from, d), the LOWEST direction d on ties. The
// minimum is arrival(c) itself: the arrival times are shortest paths, so pred(c) is the
// lowest direction among the neighbours whose step gives c its arrival time exactly. Arrival
// times strictly decrease toward the root, so the links form a tree (no cycles). One
// degenerate case differs: a step shorter than half a unit in the last place of the arrival
// time (a spread rate above ~10^5 m/min on 30 m cells after 1000 minutes) adds nothing in
// float, and a cell reached only by such steps has no strictly earlier neighbour giving its
// arrival; Dijkstra then leaves it a root (its subtree adds to no ancestor), the relaxation
// takes the best strictly earlier neighbour.
//
// - Dijkstra (csrc/cpu/spread_cpu.cpp) tracks pred during the search (on an improvement the
//   step's direction, on an exact tie the lower one) and, after the search, adds each cell's
//   subtree sum to its predecessor's in reverse settle order: O(burned cells).
// - The relaxation (below; CUDA blocks, and the CPU build with one lane) determines pred after
//   convergence for every burned cell of the window (relax_predecessors: the stencil steps
//   into the cell once more), then every burned cell walks up its chain adding its own value
//   to each ancestor, atomically (relax_accumulate_dpv): O(sum of the depths), parallel.
// The two sum the same values over the same tree in different orders: equal up to float
// rounding, exactly equal when the values are small integers.
//
// Memory: 1 byte per cell for pred (the direction; kNoPredecessor for a root) in the
// relaxation's window, 5 bytes per touched cell (pred and a float subtree sum) in Dijkstra's
// paged scratch; the DPV rows are summed in float64 (8 B per cell per row, during the call, so
// that fires added in any order round to the same float32 output); nothing when DPV is not
// asked for.
#pragma once

#include "spread.h"
#include "spread_sources.h"

namespace qagent {

constexpr uint8_t kNoPredecessor = 0xff;

QAGENT_HD_HOT int64_t window_index(const RelaxWindow& w, int row, int col) {
    return int64_t(row - w.row0) * w.cols + (col - w.col0);
}

// After relax_simulation returned (not overflowed) with *region: pred of every burned cell of
// the region into pred[window_index] (window-local like w.arrival; other cells untouched).
// The same step times as the relaxation (step_time_min with the source's arrival and the
// duration). Ends with the team's barrier.
template <class Team, class P>
QAGENT_HD void relax_predecessors(const SpreadGrid<P>& g, const StepPlans& plans, float duration_min,
                                  const RelaxWindow& w, const int* region, uint8_t* pred, Team& team) {
    team.sync();  // every lane's arrival times are final
    const int r0 = region[0], r1 = region[1], c0 = region[2], c1 = region[3];
    const int region_width = c1 - c0 + 1;
    const int64_t region_cells = int64_t(r1 - r0 + 1) * region_width;
    for (int64_t k = team.lane(); k < region_cells; k += team.size()) {
        const int row = r0 + int(k / region_width), col = c0 + int(k % region_width);
        const float t_cell = w.at(row, col);
        if (!(t_cell <= duration_min)) continue;
        float best = kInf;
        uint8_t best_d = kNoPredecessor;
        for (int d = 0; d < g.stencil_size; ++d) {
            const StepPlan& plan = plans.plan[d];
            const int from_row = row - plan.d_row, from_col = col - plan.d_col;
            if (from_row < r0 || from_row > r1 || from_col < c0 || from_col > c1) continue;  // +inf
            const float t_from = w.at(from_row, from_col);
            if (!(t_from < t_cell)) continue;  // strictly earlier (the ignition has none)
            const float t = t_from + step_time_min(g, from_row, from_col, plan, t_from, duration_min);
            if (t < best) {  // strict: the lowest direction wins ties
                best = t;
                best_d = uint8_t(d);
            }
        }
        pred[window_index(w, row, col)] = best_d;
    }
    team.sync();
}

// Adds this fire's DPV to dpv_row ([H, W], a dpv output row): every burned cell of the region
// adds its value (value_grid[cell], or 1 when value_grid is null) to itself and to each of
// its ancestors, through atomics.add_value(double* at, float v) (RelaxAtomics, below). Cells of
// value 0 add nothing.
template <class Team, class Atomics>
QAGENT_HD void relax_accumulate_dpv(const StepPlans& plans, float duration_min, const RelaxWindow& w, const int* region,
                                    const uint8_t* pred, const float* value_grid, int width, double* dpv_row, Team& team,
                                    const Atomics& atomics) {
    const int region_width = region[3] - region[2] + 1;
    const int64_t region_cells = int64_t(region[1] - region[0] + 1) * region_width;
    for (int64_t k = team.lane(); k < region_cells; k += team.size()) {
        int row = region[0] + int(k / region_width), col = region[2] + int(k % region_width);
        if (!(w.at(row, col) <= duration_min)) continue;
        const float v = value_grid != nullptr ? value_grid[int64_t(row) * width + col] : 1.0f;
        if (v == 0.0f) continue;
        for (;;) {
            atomics.add_value(dpv_row + int64_t(row) * width + col, v);
            const uint8_t d = pred[window_index(w, row, col)];
            if (d == kNoPredecessor) break;
            row -= plans.plan[d].d_row;
            col -= plans.plan[d].d_col;
        }
    }
}

// A relaxation fire of the spread op's batch, shared by the CUDA kernel (a thread block as the
// team, csrc/cuda/spread_cuda.cu) and the CPU build (SerialTeam, csrc/cpu/spread_cpu.cpp), so
// the two run the same code to the letter.
//
// Atomics: how lanes (and the CPU's threads, which share the output rows) add to the outputs:
//   void add_count(int32_t* at) const;         *at += 1
//   void add_value(double* at, float v) const; *at += double(v)

template <class Team, class P>
QAGENT_HD int64_t relax_fire_on(const SpreadGrid<P>& g, const StepPlans& plans, int64_t ignition, float duration_min,
                                const RelaxWindow& w, uint8_t* pred, Team& team, int* region) {
    const int64_t burned = relax_simulation(g, plans, ignition, duration_min, w, team, region);
    if (pred != nullptr && burned != kRelaxOverflow) relax_predecessors(g, plans, duration_min, w, region, pred, team);
    return burned;
}

// Simulation sim of batch b in window w: relax_simulation on its parameter source (its
// precomputed grid, or for a weather row the lazy window_params buffer, kNumSpreadParams
// floats per window cell) and, with pred (only when its DPV is asked for, b.wants_dpv(sim)),
// the predecessors of its burned cells. Returns what relax_simulation returns (this lane's
// burned cells, or kRelaxOverflow: run it again in a larger window), its region in *region.
template <class Team>
QAGENT_HD int64_t relax_fire(const SpreadBatch& b, int64_t sim, const StepPlans& plans, const RelaxWindow& w,
                             float* window_params, uint8_t* pred, Team& team, int* region) {
    const int64_t ignition = b.ignition[sim];
    const float duration = b.duration_min[sim];
    if (b.is_lazy(sim)) {
        return relax_fire_on(b.grid(sim, b.window_params(sim, w, window_params)), plans, ignition, duration, w, pred,
                             team, region);
    }
    return relax_fire_on(b.grid(sim, b.grid_params(sim)), plans, ignition, duration, w, pred, team, region);
}

// Adds a relaxation fire that did not overflow (relax_fire, same pred) to the batch's outputs:
// its burned cells to burn-count row count_index[sim], their arrival times to arrival_min
// (pre-filled with +inf), and with pred its DPV to dpv row count_index[sim]. Returns this
// lane's sum of the burned cells' values (1 per cell without a value grid; in row-major order
// of the region with one lane), for the caller to sum over the lanes into burned_value.
template <class Team, class Atomics>
QAGENT_HD double relax_add_fire(const SpreadBatch& b, int64_t sim, const StepPlans& plans, const RelaxWindow& w,
                                const int* region, const uint8_t* pred, Team& team, const Atomics& atomics) {
    const float duration = b.duration_min[sim];
    const int64_t n = b.cells();
    int32_t* counts = b.burn_count != nullptr && b.count_index[sim] >= 0 ? b.burn_count + b.count_index[sim] * n
                                                                         : nullptr;
    float* out = b.arrival_min != nullptr ? b.arrival_min + sim * n : nullptr;
    const float* value = b.values_of(sim);
    double my_value = 0.0;
    const int region_width = region[3] - region[2] + 1;
    const int64_t region_cells = int64_t(region[1] - region[0] + 1) * region_width;
    for (int64_t c = team.lane(); c < region_cells; c += team.size()) {
        const int row = region[0] + int(c / region_width), col = region[2] + int(c % region_width);
        const float t = w.at(row, col);
        if (!(t <= duration)) continue;
        const int64_t cell = int64_t(row) * b.width + col;
        if (counts != nullptr) atomics.add_count(&counts[cell]);
        if (out != nullptr) out[cell] = t;
        if (b.burned_value != nullptr) my_value += value != nullptr ? value[cell] : 1.0f;
    }
    if (pred != nullptr) {
        relax_accumulate_dpv(plans, duration, w, region, pred, value, b.width, b.dpv + b.count_index[sim] * n, team,
                             atomics);
    }
    return my_value;
}

}  // namespace qagent
