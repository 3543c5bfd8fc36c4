// Fire spread by minimum travel time (Finney 2002) on a raster.
//
// Each cell spreads fire as an ellipse (fire_behavior.h): head rate R, eccentricity e, head
// direction u (a unit vector on the cell's slope plane), with the ignition at the ellipse's
// rear focus. A fire point leaving a cell in direction theta (angle to u) moves at
//   R(theta) = R (1 - e) / (1 - e cos theta)            (polar equation from the focus),
// which makes the isochrones of a point ignition in uniform conditions exact ellipses, the
// same shape Huygens-principle simulators (FARSITE, level sets) grow. Fire moves between
// nearby cells along the straight segments of a stencil of 16 or 32 directions (below). The
// time along a segment integrates the slowness of every cell it crosses, each at its own
// elliptical rate in the segment's direction:
//   t(a -> b) = sum over crossed cells i of f_i |s_i| / R_i(theta_i),
// where f_i is the fraction of the segment inside cell i, s_i the segment lifted onto cell i's
// slope plane (its length is the distance along the ground) and theta_i its angle to i's head
// direction. For a step between neighbours this is Finney's (2002) half-and-half rule, the
// rate "at both cells"; for the longer knight and radius-3 steps it also charges the cells in
// between, so fire cannot hop over a thin strip of slow fuel at the speed of the fuel on
// either side (endpoint-only timing overstates spread through patchy fuels). With the polar
// rate each term is
//   f |s| / R(theta) = f (|s| - e u . s) / (R (1 - e)),
// so a cell is described by six numbers (spread_params): 1 / (R (1 - e)) (min/m; +inf where
// fire cannot spread), e u (3 components) and the elevation gradient (dz/dx, dz/dy).
//
// Arrival times are shortest paths from the ignition; a cell burns when its arrival time is
// within the duration. These exact shortest-path semantics let two algorithms give the same
// burned cells: Dijkstra with an early stop at the duration (CPU, csrc/cpu) and parallel
// Gauss-Seidel relaxation to convergence (relax_simulation below: the CUDA kernel runs it
// with a block of lanes, the CPU build runs the very same function with one lane so the GPU
// algorithm is tested on every CI run).
//
// Segments may not cross or cut the corners of cells that cannot burn (non-burnable fuel or a
// fuel break; step_time_min): a one-cell-wide line of closed cells, straight or diagonal,
// stops the fire.
#pragma once

#include "common.h"

namespace qagent {

// Stencils: 16 directions (the 8 neighbours and the 8 knight moves, radius 2; Finney 2002)
// or 32 (adding the 16 moves of radius 3: (1,3), (3,1), (2,3), (3,2) and their mirrors). The
// straight segments of a stencil only approximate directions between them: for a point
// ignition in uniform fuel with length-to-breadth ratio 1.75, the area burned by a given time
// is about 11 % short with 16 directions and 5 % short with 32 (BENCHMARKS.md).
constexpr int kMaxStencilSize = 32;

QAGENT_HD int stencil_radius(int stencil_size) { return stencil_size > 16 ? 3 : 2; }

// Spread parameter channels of the spread_params tensor [P, kNumSpreadParams, H, W].
enum SpreadParam : int {
    kParamInvBackRate = 0,   // 1 / (R (1 - e)), min/m; +inf: fire cannot spread here
    kParamEccUEast = 1,      // e * u.x
    kParamEccUNorth = 2,     // e * u.y
    kParamEccUUp = 3,        // e * u.z
    kParamGradEast = 4,      // dz/dx
    kParamGradNorth = 5,     // dz/dy
    kNumSpreadParams = 6,
};

// Stencil direction d as a (row, column) offset; rows grow southward, columns eastward.
QAGENT_HD void stencil_offset(int d, int* d_row, int* d_col) {
    switch (d) {
        case 0: *d_row = -1; *d_col = 0; return;   // N
        case 1: *d_row = -1; *d_col = 1; return;   // NE
        case 2: *d_row = 0; *d_col = 1; return;    // E
        case 3: *d_row = 1; *d_col = 1; return;    // SE
        case 4: *d_row = 1; *d_col = 0; return;    // S
        case 5: *d_row = 1; *d_col = -1; return;   // SW
        case 6: *d_row = 0; *d_col = -1; return;   // W
        case 7: *d_row = -1; *d_col = -1; return;  // NW
        case 8: *d_row = -2; *d_col = 1; return;   // knight moves, clockwise from NNE
        case 9: *d_row = -1; *d_col = 2; return;
        case 10: *d_row = 1; *d_col = 2; return;
        case 11: *d_row = 2; *d_col = 1; return;
        case 12: *d_row = 2; *d_col = -1; return;
        case 13: *d_row = 1; *d_col = -2; return;
        case 14: *d_row = -1; *d_col = -2; return;
        case 15: *d_row = -2; *d_col = -1; return;
        case 16: *d_row = -3; *d_col = 1; return;  // radius 3, clockwise from north
        case 17: *d_row = -3; *d_col = 2; return;
        case 18: *d_row = -2; *d_col = 3; return;
        case 19: *d_row = -1; *d_col = 3; return;
        case 20: *d_row = 1; *d_col = 3; return;
        case 21: *d_row = 2; *d_col = 3; return;
        case 22: *d_row = 3; *d_col = 2; return;
        case 23: *d_row = 3; *d_col = 1; return;
        case 24: *d_row = 3; *d_col = -1; return;
        case 25: *d_row = 3; *d_col = -2; return;
        case 26: *d_row = 2; *d_col = -3; return;
        case 27: *d_row = 1; *d_col = -3; return;
        case 28: *d_row = -1; *d_col = -3; return;
        case 29: *d_row = -2; *d_col = -3; return;
        case 30: *d_row = -3; *d_col = -2; return;
        default: *d_row = -3; *d_col = -1; return;
    }
}

// Read-only view of one simulation's inputs.
struct SpreadGrid {
    const float* params;     // [kNumSpreadParams, H, W] of this simulation's weather and landscape
    const uint8_t* blocked;  // [H, W] fuel breaks of this simulation's layout (1 = closed), or null
    int height;
    int width;
    float cell_size_m;
    int stencil_size;        // 16 or 32

    QAGENT_HD int64_t cells() const { return int64_t(height) * width; }
    QAGENT_HD bool open(int row, int col) const {
        int64_t c = int64_t(row) * width + col;
        return params[kParamInvBackRate * cells() + c] < kInf && (blocked == nullptr || blocked[c] == 0);
    }
    QAGENT_HD bool inside(int row, int col) const { return row >= 0 && row < height && col >= 0 && col < width; }
};

// Time (min) for fire to cross the whole segment (step_east_m, step_north_m) at `cell`'s
// elliptical rate in that direction. See the top of this file.
QAGENT_HD float segment_time_at_cell_min(const SpreadGrid& g, int64_t cell, float step_east_m, float step_north_m) {
    const int64_t n = g.cells();
    const float* p = g.params + cell;
    float rise_m = step_east_m * p[kParamGradEast * n] + step_north_m * p[kParamGradNorth * n];
    float length_m = sqrtf(step_east_m * step_east_m + step_north_m * step_north_m + rise_m * rise_m);
    float along_head_m = step_east_m * p[kParamEccUEast * n] + step_north_m * p[kParamEccUNorth * n] +
                         rise_m * p[kParamEccUUp * n];
    return (length_m - along_head_m) * p[kParamInvBackRate * n];
}

// Travel time (min) of the step from (row, col) along stencil direction d, or +inf when fire
// may not take it. The target must be inside the grid and open, and the segment between the
// two cell centres may not cross a closed cell; where it passes exactly through a cell corner
// (diagonal steps, and (1,3)-type steps halfway) one of the two cells beside the corner must
// be open. The walk over the crossed cells (Amanatides & Woo 1987) adds each cell's share of
// the segment at its own rate. For the 8 neighbours and the knight moves the rule means: a
// diagonal step needs one of the two cells beside it open, a knight step both cells it
// crosses. Dijkstra (CPU) and relaxation (GPU) both call exactly this, so their sums agree
// to the bit.
QAGENT_HD float step_time_min(const SpreadGrid& g, int row, int col, int d) {
    int d_row, d_col;
    stencil_offset(d, &d_row, &d_col);
    const int to_row = row + d_row, to_col = col + d_col;
    if (!g.inside(to_row, to_col) || !g.open(to_row, to_col)) return kInf;
    const float east_m = d_col * g.cell_size_m, north_m = -d_row * g.cell_size_m;
    const int n_row = d_row < 0 ? -d_row : d_row, n_col = d_col < 0 ? -d_col : d_col;
    const int s_row = d_row < 0 ? -1 : 1, s_col = d_col < 0 ? -1 : 1;
    // The segment crosses its k-th vertical grid line at parameter (2k - 1) / (2 n_col) and its
    // m-th horizontal one at (2m - 1) / (2 n_row); events are ordered in integers, exactly.
    int r = row, c = col, k = 1, m = 1;
    float t_prev = 0.0f, time_min = 0.0f;
    while (k <= n_col || m <= n_row) {
        const int64_t at_col = k <= n_col ? int64_t(2 * k - 1) * n_row : INT64_MAX;
        const int64_t at_row = m <= n_row ? int64_t(2 * m - 1) * n_col : INT64_MAX;
        const float t = at_col <= at_row ? float(2 * k - 1) / float(2 * n_col) : float(2 * m - 1) / float(2 * n_row);
        time_min += (t - t_prev) * segment_time_at_cell_min(g, int64_t(r) * g.width + c, east_m, north_m);
        t_prev = t;
        if (at_col < at_row) {
            c += s_col;
            ++k;
        } else if (at_row < at_col) {
            r += s_row;
            ++m;
        } else {  // through a corner
            if (!g.open(r + s_row, c) && !g.open(r, c + s_col)) return kInf;
            r += s_row;
            c += s_col;
            ++k;
            ++m;
        }
        if (r == to_row && c == to_col) break;
        if (!g.open(r, c)) return kInf;
    }
    return time_min + (1.0f - t_prev) * segment_time_at_cell_min(g, int64_t(to_row) * g.width + to_col, east_m, north_m);
}

// A team of lanes that run one simulation together. The CPU build uses SerialTeam (one lane,
// barriers are no-ops); the CUDA kernel a thread block (csrc/cuda/spread_cuda.cu). Members:
//   int lane() const; int size() const;
//   void sync();                       barrier (and memory fence for the arrival grid)
//   bool any(bool v);                  barrier; true if any lane passed true
//   void reduce_box(int* box);         barrier; box = {min, max, min, max} over lanes
struct SerialTeam {
    QAGENT_HD int lane() const { return 0; }
    QAGENT_HD int size() const { return 1; }
    QAGENT_HD void sync() {}
    QAGENT_HD bool any(bool v) { return v; }
    QAGENT_HD void reduce_box(int*) {}
};

// Parallel relaxation of one simulation to convergence (Bellman-Ford with in-place,
// Gauss-Seidel updates and alternating sweep order). Each lane owns the cells k = lane,
// lane + size, ... of the sweep region and updates only them ("pull": a cell takes the best
// of its stencil neighbours' arrival plus the step time), so writes never conflict; reads of
// neighbours being updated see either value, both upper bounds of true paths, so the fixed
// point is the same. Only cells that have burned within the duration pass fire on, and the
// sweep region is their bounding box grown by the stencil radius, so early sweeps are cheap.
// The sweep stops when no cell changed: then every cell satisfies the shortest-path
// equations, and the result equals Dijkstra's.
//
// arrival_min: [H*W] scratch owned by the team (shared or global memory); on return it holds
// the arrival time of every cell, +inf where the fire did not arrive within duration_min.
// Returns the number of burned cells.
template <class Team>
QAGENT_HD int64_t relax_simulation(const SpreadGrid& g, int64_t ignition, float duration_min, float* arrival_min,
                                   Team& team) {
    const int64_t n = g.cells();
    for (int64_t c = team.lane(); c < n; c += team.size()) arrival_min[c] = kInf;
    team.sync();
    const int ign_row = int(ignition / g.width), ign_col = int(ignition % g.width);
    if (!g.open(ign_row, ign_col) || !(duration_min >= 0.0f)) return 0;
    if (team.lane() == 0) arrival_min[ignition] = 0.0f;
    int box[4] = {ign_row, ign_row, ign_col, ign_col};  // rows min/max, cols min/max of burned cells
    team.sync();
    for (int sweep = 0;; ++sweep) {
        const int radius = stencil_radius(g.stencil_size);
        const int r0 = imax(0, box[0] - radius), r1 = imin(g.height - 1, box[1] + radius);
        const int c0 = imax(0, box[2] - radius), c1 = imin(g.width - 1, box[3] + radius);
        const int region_width = c1 - c0 + 1;
        const int64_t region_cells = int64_t(r1 - r0 + 1) * region_width;
        bool changed = false;
        int grown[4] = {box[0], box[1], box[2], box[3]};
        for (int64_t k = team.lane(); k < region_cells; k += team.size()) {
            const int64_t kk = (sweep & 1) ? region_cells - 1 - k : k;
            const int row = r0 + int(kk / region_width), col = c0 + int(kk % region_width);
            if (!g.open(row, col)) continue;
            const int64_t cell = int64_t(row) * g.width + col;
            float best = arrival_min[cell];
            for (int d = 0; d < g.stencil_size; ++d) {
                int d_row, d_col;
                stencil_offset(d, &d_row, &d_col);
                const int from_row = row - d_row, from_col = col - d_col;
                if (!g.inside(from_row, from_col)) continue;
                const int64_t from = int64_t(from_row) * g.width + from_col;
                const float t_from = arrival_min[from];
                if (!(t_from <= duration_min)) continue;
                const float t = t_from + step_time_min(g, from_row, from_col, d);
                if (t < best) best = t;
            }
            if (best < arrival_min[cell]) {
                arrival_min[cell] = best;
                changed = true;
                if (best <= duration_min) {
                    grown[0] = imin(grown[0], row);
                    grown[1] = imax(grown[1], row);
                    grown[2] = imin(grown[2], col);
                    grown[3] = imax(grown[3], col);
                }
            }
        }
        if (!team.any(changed)) break;
        team.reduce_box(grown);
        for (int i = 0; i < 4; ++i) box[i] = grown[i];
    }
    // Cells reached after the duration did not burn.
    int64_t burned = 0;
    for (int64_t c = team.lane(); c < n; c += team.size()) {
        if (arrival_min[c] <= duration_min) {
            ++burned;
        } else {
            arrival_min[c] = kInf;
        }
    }
    return burned;  // this lane's share; the caller sums over lanes
}

}  // namespace qagent

namespace qagent {

// A batch of simulations for the spread op: raw pointers, usable on host and device.
struct SpreadBatch {
    const float* params;          // [P, kNumSpreadParams, H, W]
    const uint8_t* blocked;       // [L, H, W] (null when L = 0)
    const int64_t* ignition;      // [n] flat cell index row * W + col
    const int64_t* param_index;   // [n] in [0, P)
    const int64_t* layout_index;  // [n] in [0, L), or -1 for no fuel breaks
    const int64_t* count_index;   // [n] in [0, G): the burn_count row a simulation adds to
    const float* duration_min;    // [n]
    int64_t num_sims;
    int height;
    int width;
    float cell_size_m;
    int stencil_size;
    int32_t* burned_cells;        // [n] out
    int32_t* burn_count;          // [G, H, W] out, accumulated
    float* arrival_min;           // [n, H, W] out, or null

    QAGENT_HD int64_t cells() const { return int64_t(height) * width; }
    QAGENT_HD SpreadGrid grid(int64_t sim) const {
        SpreadGrid g;
        g.params = params + param_index[sim] * kNumSpreadParams * cells();
        g.blocked = layout_index[sim] >= 0 ? blocked + layout_index[sim] * cells() : nullptr;
        g.height = height;
        g.width = width;
        g.cell_size_m = cell_size_m;
        g.stencil_size = stencil_size;
        return g;
    }
};

// kSpreadDijkstraUncached skips the CPU cell cache (used for grids too large to cache; exposed
// so tests and benchmarks can exercise and compare both paths).
enum SpreadAlgorithm : int { kSpreadAuto = 0, kSpreadDijkstra = 1, kSpreadRelax = 2, kSpreadDijkstraUncached = 3 };

}  // namespace qagent
