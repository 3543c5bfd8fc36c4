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
QAGENT_HD constexpr void stencil_offset(int d, int* d_row, int* d_col) {
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

// A cell's six spread parameters: k-th value at p[k * stride].
struct ParamRef {
    const float* p;
    int64_t stride;
    QAGENT_HD_HOT float operator[](int k) const { return p[k * stride]; }
};

// Time (min) for fire to cross the whole segment (step_east_m, step_north_m) at the elliptical
// rate in that direction of the cell with parameters p. See the top of this file.
QAGENT_HD_HOT float segment_time_at_cell_min(const ParamRef& p, float step_east_m, float step_north_m) {
    float rise_m = step_east_m * p[kParamGradEast] + step_north_m * p[kParamGradNorth];
    float length_m = sqrtf(step_east_m * step_east_m + step_north_m * step_north_m + rise_m * rise_m);
    float along_head_m = step_east_m * p[kParamEccUEast] + step_north_m * p[kParamEccUNorth] + rise_m * p[kParamEccUUp];
    return (length_m - along_head_m) * p[kParamInvBackRate];
}

// Parameter sources. A simulation reads its cells' spread parameters through one of these
// (the template argument P of SpreadGrid below), so Dijkstra, the relaxation and
// step_time_min have one implementation whether the parameters were precomputed or are
// computed on first use:
// - GridParams: a precomputed [kNumSpreadParams, H, W] grid (the spread_params op), shared by
//   every simulation of one landscape and weather;
// - lazy sources compute a cell's parameters the first time the simulation reads them, at
//   most once per simulation, through spread_params_element (fire_behavior_kernel.h), the
//   function behind the spread_params op, so they equal the grid's to the bit: WindowParams
//   (spread_sources.h: the relaxation's, filled as its sweep region grows) and the CPU's paged
//   cache (csrc/cpu/spread_cpu.cpp).
// Members: ParamRef at(int row, int col) const; float inv_back_rate(int row, int col) const;
// void fill(int row, int col) const (relaxation: the cell joins the sweep region);
// float segment_min(const ParamRef& at, int d, float step_east_m, float step_north_m) const,
// the cell's time for the whole step of direction d (segment_time_at_cell_min; the CPU's paged
// cache computes it for all directions with the parameters and reads it back, to the bit).
struct GridParams {
    const float* p;   // [kNumSpreadParams, H, W]
    int64_t cells;    // H * W
    int width;

    QAGENT_HD_HOT ParamRef at(int row, int col) const { return ParamRef{p + int64_t(row) * width + col, cells}; }
    QAGENT_HD_HOT float inv_back_rate(int row, int col) const {
        return p[kParamInvBackRate * cells + int64_t(row) * width + col];
    }
    QAGENT_HD void fill(int, int) const {}
    QAGENT_HD_HOT float segment_min(const ParamRef& at, int, float step_east_m, float step_north_m) const {
        return segment_time_at_cell_min(at, step_east_m, step_north_m);
    }
};

// Read-only view of one simulation's inputs. kInterior: every cell a caller asks about is
// known to lie inside the grid (the CPU Dijkstra's view of a cell at least the stencil radius
// from every edge), so inside() needs no test.
template <class P, bool kInterior = false>
struct SpreadGrid {
    P params;                // this simulation's weather and landscape (see the sources above)
    const uint8_t* blocked;  // [H, W] fuel breaks of this simulation's layout (1 = closed), or null
    int height;
    int width;
    float cell_size_m;
    int stencil_size;        // 16 or 32

    QAGENT_HD int64_t cells() const { return int64_t(height) * width; }
    // A closed cell (a break) is known without its parameters, so they are not computed.
    QAGENT_HD_HOT bool is_break(int row, int col) const {
        return blocked != nullptr && blocked[int64_t(row) * width + col] != 0;
    }
    QAGENT_HD_HOT bool open(int row, int col) const {
        return !is_break(row, col) && params.inv_back_rate(row, col) < kInf;
    }
    // open, and the cell's parameters in *p when it is.
    QAGENT_HD_HOT bool open_at(int row, int col, ParamRef* p) const {
        if (blocked != nullptr && blocked[int64_t(row) * width + col] != 0) return false;
        *p = params.at(row, col);
        return (*p)[kParamInvBackRate] < kInf;
    }
    QAGENT_HD_HOT bool inside(int row, int col) const {
        return kInterior || (row >= 0 && row < height && col >= 0 && col < width);
    }
    // The same inputs through another parameter source (the same parameters, read another way).
    template <class Q, bool kInteriorToo>
    QAGENT_HD_HOT SpreadGrid<Q, kInteriorToo> with_params(const Q& q) const {
        return SpreadGrid<Q, kInteriorToo>{q, blocked, height, width, cell_size_m, stencil_size};
    }
};

// The walk of a step's segment over the cells it crosses (Amanatides & Woo 1987), which
// depends only on the stencil direction: computed once per direction (make_step_plan) and
// replayed for every step (step_time_min). Piece i is the i-th cell crossed, as an offset from
// the source, with the fraction of the segment inside it; the last piece is the target. A
// piece marked corner is left through a cell corner (diagonal steps, and (1,3)-type steps
// halfway), where one of the two cells beside the corner must be open.
constexpr int kMaxStepPieces = 6;  // radius-3 moves cross at most 6 cells
struct StepPiece {
    int8_t d_row, d_col;
    uint8_t corner;
    float fraction;
};
struct StepPlan {
    int8_t dir;           // its stencil direction
    int8_t d_row, d_col;  // the step
    int8_t s_row, s_col;  // its signs (+1 / -1)
    int8_t count;         // pieces, the last one the target
    StepPiece piece[kMaxStepPieces];
};

QAGENT_HD constexpr void make_step_plan(int d, StepPlan* plan) {
    int d_row = 0, d_col = 0;
    stencil_offset(d, &d_row, &d_col);
    const int n_row = d_row < 0 ? -d_row : d_row, n_col = d_col < 0 ? -d_col : d_col;
    const int s_row = d_row < 0 ? -1 : 1, s_col = d_col < 0 ? -1 : 1;
    plan->dir = int8_t(d);
    plan->d_row = int8_t(d_row);
    plan->d_col = int8_t(d_col);
    plan->s_row = int8_t(s_row);
    plan->s_col = int8_t(s_col);
    // The segment crosses its k-th vertical grid line at parameter (2k - 1) / (2 n_col) and its
    // m-th horizontal one at (2m - 1) / (2 n_row); events are ordered in integers, exactly.
    int r = 0, c = 0, k = 1, m = 1, count = 0;
    float t_prev = 0.0f;
    while (k <= n_col || m <= n_row) {
        const int64_t at_col = k <= n_col ? int64_t(2 * k - 1) * n_row : INT64_MAX;
        const int64_t at_row = m <= n_row ? int64_t(2 * m - 1) * n_col : INT64_MAX;
        const float t = at_col <= at_row ? float(2 * k - 1) / float(2 * n_col) : float(2 * m - 1) / float(2 * n_row);
        StepPiece& p = plan->piece[count++];
        p.d_row = int8_t(r);
        p.d_col = int8_t(c);
        p.corner = 0;
        p.fraction = t - t_prev;
        t_prev = t;
        if (at_col < at_row) {
            c += s_col;
            ++k;
        } else if (at_row < at_col) {
            r += s_row;
            ++m;
        } else {
            p.corner = 1;
            r += s_row;
            c += s_col;
            ++k;
            ++m;
        }
        if (r == d_row && c == d_col) break;
    }
    StepPiece& last = plan->piece[count++];
    last.d_row = int8_t(d_row);
    last.d_col = int8_t(d_col);
    last.corner = 0;
    last.fraction = 1.0f - t_prev;
    plan->count = int8_t(count);
}

// A step's whole segment, east and north (m; rows grow southward), for a cell size: the one
// conversion every step time uses.
QAGENT_HD_HOT void step_vector_m(const StepPlan& plan, float cell_size_m, float* east_m, float* north_m) {
    *east_m = plan.d_col * cell_size_m;
    *north_m = -plan.d_row * cell_size_m;
}

// Travel time (min) of the step from (row, col) along a stencil direction (its plan), or +inf
// when fire may not take it. The target must be inside the grid and open, and the segment
// between the two cell centres may not cross a closed cell; where it passes exactly through a
// cell corner one of the two cells beside the corner must be open. The time adds each crossed
// cell's share of the segment at its own rate, in the order of the walk. For the 8 neighbours
// and the knight moves the rule means: a diagonal step needs one of the two cells beside it
// open, a knight step both cells it crosses. Dijkstra (CPU) and relaxation (GPU) both call
// exactly this, so their sums agree to the bit. Every cell it reads lies in the bounding box
// of (row, col) and the target; the source's own openness is not checked (it is burning).
//
// With t_from and duration_min (the source's arrival and the fire's duration), the step may
// stop as soon as t_from plus the part summed so far exceeds the duration, returning +inf: the
// remaining terms are >= 0 and float addition is monotone, so the full time would arrive after
// the duration too, and the target could not burn by this step. Exact for the burned cells,
// and the cells further along (the target included) are then not read, so their lazy
// parameters are not computed. Callers that keep step times for later fires pass no duration.
//
// step_time_after_first_min continues from first_min, the source's share of the step
// (source_piece_min), which a caller stepping from one cell in every direction computes for
// all directions at once.
template <class P, bool kInterior>
QAGENT_HD_HOT float source_piece_min(const SpreadGrid<P, kInterior>& g, const ParamRef& source, const StepPlan& plan) {
    float east_m, north_m;
    step_vector_m(plan, g.cell_size_m, &east_m, &north_m);
    return plan.piece[0].fraction * g.params.segment_min(source, plan.dir, east_m, north_m);
}

template <class P, bool kInterior>
QAGENT_HD_HOT float step_time_after_first_min(const SpreadGrid<P, kInterior>& g, float first_min, int row, int col,
                                              const StepPlan& plan, float t_from = 0.0f,
                                              float duration_min = kInf) {
    const int to_row = row + plan.d_row, to_col = col + plan.d_col;
    if (!g.inside(to_row, to_col)) return kInf;
    float east_m, north_m;
    step_vector_m(plan, g.cell_size_m, &east_m, &north_m);
    const StepPiece& first = plan.piece[0];
    float time_min = first_min;
    if (t_from + time_min > duration_min) return kInf;
    if (g.is_break(to_row, to_col)) return kInf;
    if (first.corner && !g.open(row + plan.s_row, col) && !g.open(row, col + plan.s_col)) return kInf;
    const int last = plan.count - 1;
    for (int i = 1; i < last; ++i) {
        const StepPiece& p = plan.piece[i];
        const int r = row + p.d_row, c = col + p.d_col;
        ParamRef at;
        if (!g.open_at(r, c, &at)) return kInf;
        time_min += p.fraction * g.params.segment_min(at, plan.dir, east_m, north_m);
        if (t_from + time_min > duration_min) return kInf;
        if (p.corner && !g.open(r + plan.s_row, c) && !g.open(r, c + plan.s_col)) return kInf;
    }
    // The target last: a step stopped above never computes its lazy parameters.
    ParamRef target;
    if (!g.open_at(to_row, to_col, &target)) return kInf;
    return time_min + plan.piece[last].fraction * g.params.segment_min(target, plan.dir, east_m, north_m);
}

template <class P, bool kInterior>
QAGENT_HD_HOT float step_time_min(const SpreadGrid<P, kInterior>& g, int row, int col, const StepPlan& plan,
                                  float t_from = 0.0f, float duration_min = kInf) {
    if (!g.inside(row + plan.d_row, col + plan.d_col)) return kInf;
    return step_time_after_first_min(g, source_piece_min(g, g.params.at(row, col), plan), row, col, plan,
                                     t_from, duration_min);
}

// The plans of every stencil direction, built once (host: a static table; CUDA blocks build
// theirs in shared memory).
struct StepPlans {
    StepPlan plan[kMaxStencilSize];
};

// Every direction's plan; constexpr, so the host's table of them is a compile-time constant.
QAGENT_HD constexpr StepPlans make_step_plans() {
    StepPlans p{};
    for (int d = 0; d < kMaxStencilSize; ++d) make_step_plan(d, &p.plan[d]);
    return p;
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

// The relaxation's scratch: a window of rows x cols cells of the grid, with its corner at
// (row0, col0), around the ignition. Scratch is sized by the window, not the grid.
struct RelaxWindow {
    float* arrival;  // [rows * cols] arrival times, window-local row-major
    int row0, col0, rows, cols;

    QAGENT_HD bool contains(int r0, int r1, int c0, int c1) const {
        return r0 >= row0 && r1 < row0 + rows && c0 >= col0 && c1 < col0 + cols;
    }
    QAGENT_HD_HOT float& at(int row, int col) const { return arrival[int64_t(row - row0) * cols + (col - col0)]; }
};

// A window of side x side cells centred on the ignition, clipped to the grid (and shifted
// inside it near the edges).
QAGENT_HD RelaxWindow place_relax_window(float* arrival, int side, int height, int width, int ign_row, int ign_col) {
    RelaxWindow w;
    w.arrival = arrival;
    w.rows = imin(side, height);
    w.cols = imin(side, width);
    w.row0 = imin(imax(0, ign_row - w.rows / 2), height - w.rows);
    w.col0 = imin(imax(0, ign_col - w.cols / 2), width - w.cols);
    return w;
}

// Windows tried in turn: kDefaultRelaxWindow, then 4 times larger each time a simulation's
// sweep region outgrows its window, up to the whole grid (which cannot overflow).
constexpr int kDefaultRelaxWindow = 64;
QAGENT_HD int next_relax_window(int side) { return side >= (1 << 28) ? (1 << 30) : side * 4; }
QAGENT_HD bool relax_window_covers(int side, int height, int width) { return side >= height && side >= width; }

// relax_simulation's result when the sweep region left the window: nothing was written
// outside the scratch, and the caller re-runs the simulation with a larger window.
constexpr int64_t kRelaxOverflow = -1;

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
// Scratch costs the region, not the grid: the region only grows, and the cells that join it
// get their arrival time (+inf) and, with a lazy source, their spread parameters (fill)
// then; every cell step_time_min reads lies in the region (the bounding box of two region
// cells), and arrival times outside it read as +inf. When the region would leave the window
// the simulation stops and returns kRelaxOverflow (on every lane); the caller re-runs it in a
// larger window.
//
// On return (not overflowed) w holds the arrival time of every cell of *region (rows min/max,
// cols min/max), +inf where the fire did not arrive within duration_min. Returns the number of
// burned cells counted by this lane (the caller sums over lanes).
template <class Team, class P>
QAGENT_HD int64_t relax_simulation(const SpreadGrid<P>& g, const StepPlans& plans, int64_t ignition, float duration_min,
                                   const RelaxWindow& w, Team& team, int* region) {
    const int ign_row = int(ignition / g.width), ign_col = int(ignition % g.width);
    const int radius = stencil_radius(g.stencil_size);
    int box[4] = {ign_row, ign_row, ign_col, ign_col};  // rows min/max, cols min/max of burned cells
    int prev[4] = {0, -1, 0, -1};                       // the region of the previous sweep (none yet)
    for (int sweep = -1;; ++sweep) {
        const int r0 = imax(0, box[0] - radius), r1 = imin(g.height - 1, box[1] + radius);
        const int c0 = imax(0, box[2] - radius), c1 = imin(g.width - 1, box[3] + radius);
        if (!w.contains(r0, r1, c0, c1)) return kRelaxOverflow;
        const int region_width = c1 - c0 + 1;
        const int64_t region_cells = int64_t(r1 - r0 + 1) * region_width;
        // Cells new to the region: no arrival yet, parameters computed now (lazy sources).
        for (int64_t k = team.lane(); k < region_cells; k += team.size()) {
            const int row = r0 + int(k / region_width), col = c0 + int(k % region_width);
            if (row >= prev[0] && row <= prev[1] && col >= prev[2] && col <= prev[3]) continue;
            w.at(row, col) = kInf;
            g.params.fill(row, col);
        }
        team.sync();
        region[0] = r0;
        region[1] = r1;
        region[2] = c0;
        region[3] = c1;
        if (sweep < 0) {
            if (!g.open(ign_row, ign_col) || !(duration_min >= 0.0f)) return 0;
            if (team.lane() == 0) w.at(ign_row, ign_col) = 0.0f;
            team.sync();
            for (int i = 0; i < 4; ++i) prev[i] = region[i];
            continue;
        }
        bool changed = false;
        int grown[4] = {box[0], box[1], box[2], box[3]};
        for (int64_t k = team.lane(); k < region_cells; k += team.size()) {
            const int64_t kk = (sweep & 1) ? region_cells - 1 - k : k;
            const int row = r0 + int(kk / region_width), col = c0 + int(kk % region_width);
            if (!g.open(row, col)) continue;
            float best = w.at(row, col);
            for (int d = 0; d < g.stencil_size; ++d) {
                const StepPlan& plan = plans.plan[d];
                const int from_row = row - plan.d_row, from_col = col - plan.d_col;
                if (from_row < r0 || from_row > r1 || from_col < c0 || from_col > c1) continue;  // +inf
                const float t_from = w.at(from_row, from_col);
                if (!(t_from <= duration_min)) continue;
                const float t = t_from + step_time_min(g, from_row, from_col, plan, t_from, duration_min);
                if (t < best) best = t;
            }
            if (best < w.at(row, col)) {
                w.at(row, col) = best;
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
        for (int i = 0; i < 4; ++i) {
            box[i] = grown[i];
            prev[i] = region[i];
        }
    }
    // Cells reached after the duration did not burn.
    const int region_width = region[3] - region[2] + 1;
    const int64_t region_cells = int64_t(region[1] - region[0] + 1) * region_width;
    int64_t burned = 0;
    for (int64_t k = team.lane(); k < region_cells; k += team.size()) {
        float& t = w.at(region[0] + int(k / region_width), region[2] + int(k % region_width));
        if (t <= duration_min) {
            ++burned;
        } else {
            t = kInf;
        }
    }
    return burned;  // this lane's share; the caller sums over lanes
}

}  // namespace qagent
