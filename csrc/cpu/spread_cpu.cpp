// CPU loops of the spread op: one simulation per OpenMP thread (dynamic schedule, since fire
// sizes vary by orders of magnitude), Dijkstra with an early stop at the duration.
//
// Scratch per thread, allocated once per call and reset only where a simulation touched it
// (a small fire on a large grid costs the size of the fire, not of the grid):
// - Dijkstra: 16 bytes per cell (arrival time, heap position, heap slot, touched list);
// - a cell cache: each cell's step times in every stencil direction and its mask of allowed
//   directions, filled the first time the search settles the cell and kept for the
//   next simulations of the thread while they share the same spread parameters and fuel-break
//   layout (simulations are ordered by landscape, so ignitions of one landscape and weather
//   reuse it). 4 * stencil + 8 bytes per cell; above kMaxCacheBytes per thread (very large
//   grids) the search computes them per edge instead.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "op_checks.h"

namespace qagent {
namespace {

// Binary min-heap of cells keyed by their arrival time, with positions for decrease-key.
class CellHeap {
   public:
    explicit CellHeap(int64_t cells) : slots_(cells), position_(cells, -1) {}
    bool empty() const { return size_ == 0; }
    int32_t top() const { return slots_[0]; }

    void push_or_decrease(int32_t cell, const float* key) {
        int32_t i = position_[cell];
        if (i < 0) {
            i = size_++;
            slots_[i] = cell;
            position_[cell] = i;
        }
        sift_up(i, key);
    }

    int32_t pop(const float* key) {
        int32_t cell = slots_[0];
        position_[cell] = -1;
        if (--size_ > 0) {
            slots_[0] = slots_[size_];
            position_[slots_[0]] = 0;
            sift_down(0, key);
        }
        return cell;
    }

    void clear() {
        for (int32_t i = 0; i < size_; ++i) position_[slots_[i]] = -1;
        size_ = 0;
    }

   private:
    void sift_up(int32_t i, const float* key) {
        int32_t cell = slots_[i];
        float k = key[cell];
        while (i > 0) {
            int32_t parent = (i - 1) >> 1;
            if (!(k < key[slots_[parent]])) break;
            place(i, slots_[parent]);
            i = parent;
        }
        place(i, cell);
    }
    void sift_down(int32_t i, const float* key) {
        int32_t cell = slots_[i];
        float k = key[cell];
        for (;;) {
            int32_t child = 2 * i + 1;
            if (child >= size_) break;
            if (child + 1 < size_ && key[slots_[child + 1]] < key[slots_[child]]) ++child;
            if (!(key[slots_[child]] < k)) break;
            place(i, slots_[child]);
            i = child;
        }
        place(i, cell);
    }
    void place(int32_t i, int32_t cell) {
        slots_[i] = cell;
        position_[cell] = i;
    }

    std::vector<int32_t> slots_;
    std::vector<int32_t> position_;
    int32_t size_ = 0;
};

// Per-thread scratch: arrival times (+inf outside the cells touched), the heap, and the list
// of touched cells for the reset.
struct DijkstraScratch {
    explicit DijkstraScratch(int64_t cells) : arrival_min(cells, kInf), heap(cells) { touched.reserve(1024); }
    std::vector<float> arrival_min;
    CellHeap heap;
    std::vector<int32_t> touched;

    void reset() {
        for (int32_t c : touched) arrival_min[c] = kInf;
        touched.clear();
        heap.clear();
    }
};

constexpr int64_t kMaxCacheBytes = int64_t(256) << 20;

// Each cell's step times in every stencil direction (+inf where the step is not allowed) and
// the mask of allowed directions, for one SpreadGrid, computed on demand by step_time_min, so
// cached and uncached searches (and the relaxation) agree to the bit.
class CellCache {
   public:
    CellCache(int64_t cells, int stencil) : stencil_(stencil), time_(cells * stencil), allowed_(cells), stamp_(cells, 0) {}

    // Forget everything when the grid (parameters or layout) changes.
    void bind(int64_t param_key, int64_t layout_key) {
        if (param_key == param_key_ && layout_key == layout_key_) return;
        param_key_ = param_key;
        layout_key_ = layout_key;
        if (++generation_ == INT32_MAX) {
            std::fill(stamp_.begin(), stamp_.end(), 0);
            generation_ = 1;
        }
    }

    void ensure(const SpreadGrid& g, int32_t cell) {
        if (stamp_[cell] == generation_) return;
        stamp_[cell] = generation_;
        float* t = &time_[int64_t(cell) * stencil_];
        uint32_t mask = 0;
        const int row = cell / g.width, col = cell % g.width;
        for (int d = 0; d < stencil_; ++d) {
            t[d] = step_time_min(g, row, col, d);
            if (t[d] < kInf) mask |= uint32_t(1) << d;
        }
        allowed_[cell] = mask;
    }
    uint32_t allowed(int32_t cell) const { return allowed_[cell]; }
    float step(int32_t cell, int d) const { return time_[int64_t(cell) * stencil_ + d]; }

   private:
    int stencil_;
    std::vector<float> time_;
    std::vector<uint32_t> allowed_;
    std::vector<int32_t> stamp_;
    int32_t generation_ = 0;
    int64_t param_key_ = -1, layout_key_ = -2;
};

// Step times computed per edge, for grids too large to cache.
class DirectEdges {
   public:
    void ensure(const SpreadGrid&, int32_t) {}
    uint32_t allowed(const SpreadGrid& g, int32_t cell) {
        uint32_t mask = 0;
        for (int d = 0; d < g.stencil_size; ++d) {
            time_[d] = step_time_min(g, cell / g.width, cell % g.width, d);
            if (time_[d] < kInf) mask |= uint32_t(1) << d;
        }
        return mask;
    }
    float step(const SpreadGrid&, int32_t, int d) const { return time_[d]; }  // of the cell last asked

   private:
    float time_[kMaxStencilSize] = {};
};

class CachedEdges {
   public:
    explicit CachedEdges(CellCache& cache) : cache_(cache) {}
    void ensure(const SpreadGrid& g, int32_t cell) { cache_.ensure(g, cell); }
    uint32_t allowed(const SpreadGrid&, int32_t cell) const { return cache_.allowed(cell); }
    float step(const SpreadGrid&, int32_t cell, int d) const { return cache_.step(cell, d); }

   private:
    CellCache& cache_;
};

// Dijkstra from the ignition; cells are settled in order of arrival, and the search stops at
// the first cell arriving after the duration. Leaves arrival times in scratch for the cells
// touched (settled ones are final, others are upper bounds beyond the duration).
template <class Edges>
int64_t dijkstra_simulation(const SpreadGrid& g, int64_t ignition, float duration_min, DijkstraScratch& s,
                            Edges& edges) {
    const int ign_row = int(ignition / g.width), ign_col = int(ignition % g.width);
    if (!g.open(ign_row, ign_col)) return 0;
    float* t = s.arrival_min.data();
    t[ignition] = 0.0f;
    s.touched.push_back(int32_t(ignition));
    s.heap.push_or_decrease(int32_t(ignition), t);
    int32_t offset[kMaxStencilSize];
    for (int d = 0; d < g.stencil_size; ++d) {
        int d_row, d_col;
        stencil_offset(d, &d_row, &d_col);
        offset[d] = d_row * g.width + d_col;
    }
    int64_t burned = 0;
    while (!s.heap.empty()) {
        const int32_t cell = s.heap.top();
        const float t_cell = t[cell];
        if (!(t_cell <= duration_min)) break;
        s.heap.pop(t);
        ++burned;
        edges.ensure(g, cell);
        for (uint32_t mask = edges.allowed(g, cell); mask != 0; mask &= mask - 1) {
            const int d = __builtin_ctz(mask);
            const int32_t next = cell + offset[d];
            const float t_next = t_cell + edges.step(g, cell, d);
            if (t_next < t[next]) {
                if (t[next] == kInf) s.touched.push_back(next);
                t[next] = t_next;
                s.heap.push_or_decrease(next, t);
            }
        }
    }
    return burned;
}

void accumulate(const SpreadBatch& b, int64_t sim, const float* arrival, const std::vector<int32_t>* touched,
                int64_t burned) {
    const int64_t n = b.cells();
    const float duration = b.duration_min[sim];
    b.burned_cells[sim] = int32_t(burned);
    int32_t* counts = b.burn_count + b.count_index[sim] * n;
    float* out = b.arrival_min != nullptr ? b.arrival_min + sim * n : nullptr;
    if (out != nullptr) std::fill(out, out + n, kInf);
    auto visit = [&](int64_t c) {
        if (arrival[c] <= duration) {
#pragma omp atomic
            counts[c] += 1;
            if (out != nullptr) out[c] = arrival[c];
        }
    };
    if (touched != nullptr) {
        for (int32_t c : *touched) visit(c);
    } else {
        for (int64_t c = 0; c < n; ++c) visit(c);
    }
}

SpreadOutputs spread_cpu(const at::Tensor& params, const at::Tensor& blocked, const at::Tensor& ignition,
                         const at::Tensor& param_index, const at::Tensor& layout_index, const at::Tensor& count_index,
                         const at::Tensor& duration_min, int64_t num_count_rows, double cell_size_m,
                         int64_t stencil_size, bool return_arrival, int64_t algorithm) {
    TORCH_CHECK(algorithm >= kSpreadAuto && algorithm <= kSpreadDijkstraUncached,
                "qagent: algorithm must be 0 (auto), 1 (dijkstra), 2 (relax) or 3 (dijkstra, no cache), got ", algorithm);
    at::Tensor p = params.contiguous(), bl = blocked.contiguous(), ig = ignition.contiguous(),
               pi = param_index.contiguous(), li = layout_index.contiguous(), ci = count_index.contiguous(),
               du = duration_min.contiguous();
    SpreadOutputs out;
    const SpreadBatch b = prepare_spread(p, bl, ig, pi, li, ci, du, num_count_rows, cell_size_m, stencil_size, return_arrival, &out);
    const int64_t n = b.cells();
    if (b.num_sims == 0) return out;
#pragma omp parallel
    {
        if (algorithm == kSpreadRelax) {
            // The CUDA algorithm itself, run by one lane: tests check it against Dijkstra.
            std::vector<float> arrival(n);
            SerialTeam team;
#pragma omp for schedule(dynamic, 1)
            for (int64_t sim = 0; sim < b.num_sims; ++sim) {
                int64_t burned = relax_simulation(b.grid(sim), b.ignition[sim], b.duration_min[sim], arrival.data(), team);
                accumulate(b, sim, arrival.data(), nullptr, burned);
            }
        } else {
            DijkstraScratch scratch(n);
            const bool use_cache = algorithm != kSpreadDijkstraUncached && n * (4 * int64_t(b.stencil_size) + 8) <= kMaxCacheBytes;
            CellCache cache(use_cache ? n : 0, b.stencil_size);
            CachedEdges cached(cache);
            DirectEdges direct;
#pragma omp for schedule(dynamic, 1)
            for (int64_t sim = 0; sim < b.num_sims; ++sim) {
                const SpreadGrid g = b.grid(sim);
                int64_t burned;
                if (use_cache) {
                    cache.bind(b.param_index[sim], b.layout_index[sim]);
                    burned = dijkstra_simulation(g, b.ignition[sim], b.duration_min[sim], scratch, cached);
                } else {
                    burned = dijkstra_simulation(g, b.ignition[sim], b.duration_min[sim], scratch, direct);
                }
                accumulate(b, sim, scratch.arrival_min.data(), &scratch.touched, burned);
                scratch.reset();
            }
        }
    }
    return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(qagent, CPU, m) { m.impl("spread", &spread_cpu); }

}  // namespace qagent
