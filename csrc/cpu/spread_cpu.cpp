// CPU loops of the spread op: one simulation per OpenMP thread (dynamic schedule, since fire
// sizes vary by orders of magnitude), Dijkstra with an early stop at the duration.
//
// A fire costs what it touches, not the grid. Per-thread scratch is paged: the grid is cut
// into pages of kPageSide x kPageSide cells, and a small page table per thread maps a page to
// storage from a per-thread pool the first time the fire touches it. Each table has a
// generation; starting a new generation (a new fire, a new parameter source) forgets every
// page in O(1), the pool's pages being handed out again. Nothing is allocated or cleared per
// cell of the grid, per fire or per call; the pools are kept across calls (thread-local),
// trimmed to kRetainBytes per thread at the end of each call.
//
// Bytes (the figures README.md quotes):
// - per landscape cell, shared by all threads: terrain 24 + fuel 4 for lazy parameters (the
//   Landscape's own layers aside), or 24 per precomputed (landscape, weather) grid; 1 per
//   fuel-break layout; 4 per burn-count row (the output); with return_dpv 8 per DPV row
//   (float64 sums during the call) and 4 per row of the float32 output;
// - per touched page, per thread (pages are 1,024 cells): arrival times 4 B per cell; lazy
//   spread parameters 156 B per cell (six floats, the 32 segment times of CellParams and a
//   stamp); the step-time cache, only for
//   parameter sources shared by consecutive fires, 140 B per cell (32 step times, masks of
//   the directions known and asked for, and a stamp) for the first kMaxCachedCellsPerFire
//   cells a fire settles, at most kMaxStepCacheBytes;
// - per touched cell: 8 B per queued arrival (radix heap), 8 B per burned cell;
// - downstream protection value (return_dpv; csrc/qagent/dpv.h), per touched page, per
//   thread: 5 B per cell (the predecessor's direction, 1 B, and a float subtree sum); the
//   relaxation: 1 B per window cell; nothing without return_dpv;
// - the page tables: 16 B per page (1/64 B per cell) per table, three tables per thread.
//
// Parameter sources (spread_sources.h): precomputed grids are read in place; a weather row
// (lazy) is evaluated cell by cell on first use into the thread's parameter pages, through
// spread_params_element with the same tabled no-wind, no-slope surface fire as the
// spread_params op, so lazy and eager parameters agree to the bit, and with them the cell's
// time for the whole step of every direction (CellParams), which the steps read. The
// parameter pages and the step-time cache are kept for the next fires of the thread while
// they share the source (and, for step times, the fuel-break layout): simulations are ordered
// by landscape, so ignitions of one landscape and weather reuse them. The cache is dropped for
// the rest of the call when it serves less than a quarter of the steps asked of it (fires that
// rarely meet on a large landscape; ThreadScratch::step_cache_pays).
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends.h"
#include "qagent/dpv.h"

namespace qagent {
namespace {

constexpr int kPageShift = 5;
constexpr int kPageSide = 1 << kPageShift;  // 32 x 32 cells per page
constexpr int kPageCells = kPageSide * kPageSide;

inline int page_local(int row, int col) { return ((row & (kPageSide - 1)) << kPageShift) | (col & (kPageSide - 1)); }

// The plans of every direction, a compile-time constant (no initialization at run time).
constexpr StepPlans kHostStepPlans = make_step_plans();

// Page kinds. take() runs when the page is handed to a grid page for a generation; wrap()
// when the page is allocated (its contents are not initialized otherwise) and when the
// generation counter wraps: stamps must not match a current or future generation.
struct ArrivalPage {  // one fire's arrival times, +inf until reached
    float t[kPageCells];
    void take() { std::fill(t, t + kPageCells, kInf); }
    void wrap() {}
};
// A cell's spread parameters and, computed with them, its time for the whole step of every
// stencil direction at its own rate (segment_time_at_cell_min): a step charges each crossed
// cell a fraction of that time, read here instead of computed per step.
struct CellParams {
    float p[kNumSpreadParams];
    float segment_min[kMaxStencilSize];
};
constexpr int kSegmentOffset = offsetof(CellParams, segment_min) / sizeof(float);

struct ParamPage {  // one parameter source's spread parameters; cell i valid when stamp[i] is the generation
    uint32_t stamp[kPageCells];
    CellParams cell[kPageCells];
    void take() {}
    void wrap() { std::fill(stamp, stamp + kPageCells, 0u); }
};
struct StepPage {  // step times of one source and layout; direction d of cell i known when
                   // stamp[i] is the generation and bit d of known[i] is set; asked for once
                   // before (and stopped early) when bit d of asked[i] is
    uint32_t stamp[kPageCells];
    uint32_t known[kPageCells];
    uint32_t asked[kPageCells];
    float t[kPageCells][kMaxStencilSize];
    void take() {}
    void wrap() { std::fill(stamp, stamp + kPageCells, 0u); }
};

struct DpvPage {  // one fire's propagation tree: the predecessor's direction of every reached
                  // cell (written on its first improvement, so never cleared) and subtree sums
    float sub[kPageCells];
    uint8_t pred[kPageCells];
    void take() {}
    void wrap() {}
};

template <class Page>
class PageTable {
   public:
    // Binds the table to a grid's page geometry (O(pages) only when the geometry changes).
    void bind(int height, int width) {
        const int rows = (height + kPageSide - 1) >> kPageShift, cols = (width + kPageSide - 1) >> kPageShift;
        if (rows == page_rows_ && cols == page_cols_) return;
        page_rows_ = rows;
        page_cols_ = cols;
        table_.assign(size_t(rows) * cols, Entry{nullptr, 0});
        reset();
    }
    // A new generation: every page returns to the pool, in O(1).
    void reset() {
        used_ = 0;
        last_key_ = kNoKey;
        if (++generation_ == 0) {
            for (Entry& e : table_) e.generation = 0;
            for (auto& p : pool_) p->wrap();
            generation_ = 1;
        }
    }
    uint32_t generation() const { return generation_; }
    size_t used() const { return used_; }
    // The page of the last get is kept with its key: a fire's consecutive reads are mostly in
    // one page, and the key compare skips the table's index arithmetic and two loads.
    QAGENT_HD_HOT Page* get(int row, int col) {
        const uint64_t key = page_key(row, col);
        if (key == last_key_) return last_page_;
        Entry& e = entry(row, col);
        if (e.generation != generation_) take(e);
        last_key_ = key;
        last_page_ = e.page;
        return e.page;
    }
    // get, or null when the page is not held yet and max_pages are in use.
    Page* get_within(int row, int col, size_t max_pages) {
        Entry& e = entry(row, col);
        if (e.generation != generation_) {
            if (used_ >= max_pages) return nullptr;
            take(e);
        }
        return e.page;
    }
    size_t bytes() const { return pool_.size() * sizeof(Page) + table_.capacity() * sizeof(Entry); }
    // Frees pool pages beyond max_pages (between calls: it starts a new generation).
    void trim(size_t max_pages) {
        if (pool_.size() <= max_pages) return;
        pool_.resize(max_pages);
        pool_.shrink_to_fit();
        reset();
    }

   private:
    struct Entry {
        Page* page;
        uint32_t generation;
    };
    Entry& entry(int row, int col) { return table_[size_t(row >> kPageShift) * page_cols_ + (col >> kPageShift)]; }
    static uint64_t page_key(int row, int col) {
        return (uint64_t(uint32_t(row >> kPageShift)) << 32) | uint32_t(col >> kPageShift);
    }
    static constexpr uint64_t kNoKey = ~uint64_t(0);  // no page row or column reaches 2^32 - 1
    __attribute__((noinline)) void take(Entry& e) {
        if (used_ == pool_.size()) {  // a new page: stamps 0, its cells left uninitialized (156 KiB of parameters)
            pool_.push_back(std::unique_ptr<Page>(new Page));
            pool_.back()->wrap();
        }
        e.page = pool_[used_++].get();
        e.generation = generation_;
        e.page->take();
    }

    std::vector<Entry> table_;
    int page_rows_ = -1, page_cols_ = -1;
    std::vector<std::unique_ptr<Page>> pool_;
    size_t used_ = 0;
    uint32_t generation_ = 0;
    uint64_t last_key_ = kNoKey;  // the page of the last get, valid within the generation
    Page* last_page_ = nullptr;
};

constexpr size_t kMaxStepCacheBytes = size_t(256) << 20;    // per thread, within a call
constexpr size_t kMaxSharedParamBytes = size_t(256) << 20;  // a source shared by fires: dropped between fires above this
constexpr size_t kRetainBytes = size_t(64) << 20;           // per thread, kept between calls
// The step-time cache is judged after this many steps asked of it, and kept while at least
// 1 / kStepCacheMinHitShareInverse of them were served by it (ThreadScratch::step_cache_pays;
// measured in BENCHMARKS.md, "The step cache judged by its hits").
constexpr uint64_t kStepCacheProbeAsks = 1 << 16;
constexpr uint64_t kStepCacheMinHitShareInverse = 4;

struct HeapEntry {
    float key;
    int32_t cell;
};

// Monotone priority queue of Dijkstra's tentative arrivals (a radix heap, Ahuja, Mehlhorn,
// Orlin & Tarjan 1990): keys are non-negative floats, whose bit patterns order like the floats,
// and every key pushed is at least the last one popped (t_cell + step >= t_cell), so entries
// sit in buckets by the highest bit in which they differ from the last key popped; popping
// empties the lowest non-empty bucket into lower ones around its minimum. Each entry moves at
// most 32 times and usually once or twice: cheaper than a binary heap's log2(size) swaps per
// operation on large fires. Ties pop in any order, which Dijkstra's result does not depend on.
class RadixHeap {
   public:
    bool empty() const { return size_ == 0; }
    void clear() {
        for (; nonempty_ != 0; nonempty_ &= nonempty_ - 1) bucket_[__builtin_ctzll(nonempty_)].clear();
        size_ = 0;
        last_ = 0;
    }
    void push(float key, int32_t cell) {
        const int i = bucket_of(bits(key));
        bucket_[i].push_back(HeapEntry{key, cell});
        nonempty_ |= uint64_t(1) << i;
        ++size_;
    }
    HeapEntry pop() {
        if (!(nonempty_ & 1)) {
            const int i = __builtin_ctzll(nonempty_);  // the lowest non-empty bucket (size_ > 0)
            std::vector<HeapEntry>& b = bucket_[i];
            uint32_t lowest = bits(b[0].key);
            for (const HeapEntry& e : b) lowest = bits(e.key) < lowest ? bits(e.key) : lowest;
            last_ = lowest;
            nonempty_ &= ~(uint64_t(1) << i);
            for (const HeapEntry& e : b) {
                const int j = bucket_of(bits(e.key));
                bucket_[j].push_back(e);
                nonempty_ |= uint64_t(1) << j;
            }
            b.clear();
        }
        std::vector<HeapEntry>& b0 = bucket_[0];
        HeapEntry top = b0.back();
        b0.pop_back();
        if (b0.empty()) nonempty_ &= ~uint64_t(1);
        --size_;
        return top;
    }
    size_t capacity_bytes() const {
        size_t n = 0;
        for (const auto& b : bucket_) n += b.capacity() * sizeof(HeapEntry);
        return n;
    }
    void shrink() {
        for (auto& b : bucket_) std::vector<HeapEntry>().swap(b);
    }

   private:
    static uint32_t bits(float key) {
        uint32_t u;
        std::memcpy(&u, &key, sizeof u);
        return u;
    }
    int bucket_of(uint32_t key) const { return key == last_ ? 0 : 32 - __builtin_clz(key ^ last_); }

    std::vector<HeapEntry> bucket_[33];
    uint64_t nonempty_ = 0;  // bit i: bucket_[i] holds entries
    size_t size_ = 0;
    uint32_t last_ = 0;
};
struct Burned {
    int32_t cell;
    float arrival_min;
};

std::atomic<int64_t> g_retained_bytes{0};
std::atomic<uint64_t> g_scratch_epoch{0};

// One thread's scratch, kept across calls.
struct ThreadScratch {
    PageTable<ArrivalPage> arrival;
    PageTable<ParamPage> params;
    PageTable<StepPage> steps;
    PageTable<DpvPage> dpv;  // only with return_dpv (bound on first use in a call)
    RadixHeap heap;
    std::vector<Burned> burned;
    std::vector<float> window_arrival, window_params;  // the relaxation's windows
    std::vector<uint8_t> window_pred;                  // its predecessors (return_dpv)

    // What the parameter pages and the step cache hold (-1: nothing yet, this call).
    int64_t param_row = -1;
    int64_t step_source = -1, step_layout = -2;
    // Steps asked of the cache and served by it for the current (source, layout), this call.
    uint64_t step_asks = 0, step_hits = 0;
    // The uniform weather row, fuel model and no-wind, no-slope surface fire per fuel model
    // code of the current lazy source.
    uint64_t source_serial = 0;
    uint64_t base_stamp[kMaxTabledCode] = {};
    bool base_tabled[kMaxTabledCode] = {};
    UniformRowFuel base[kMaxTabledCode];

    // The whole step of each direction, east and north (m), for the call's cell size
    // (step_vector_m; set by begin_call).
    float step_east_m[kMaxStencilSize] = {}, step_north_m[kMaxStencilSize] = {};

    uint64_t epoch = 0;
    int64_t reported_bytes = 0;

    ~ThreadScratch() { g_retained_bytes -= reported_bytes; }

    void begin_call(int height, int width, float cell_size_m) {
        for (int d = 0; d < kMaxStencilSize; ++d) {
            step_vector_m(kHostStepPlans.plan[d], cell_size_m, &step_east_m[d], &step_north_m[d]);
        }
        arrival.bind(height, width);
        params.bind(height, width);
        steps.bind(height, width);
        param_row = -1;
        step_source = -1;
        step_layout = -2;
        step_asks = step_hits = 0;
    }
    void end_call() {
        arrival.trim((kRetainBytes / 8) / sizeof(ArrivalPage));
        params.trim((kRetainBytes / 4) / sizeof(ParamPage));
        steps.trim((kRetainBytes / 2) / sizeof(StepPage));
        dpv.trim((kRetainBytes / 16) / sizeof(DpvPage));
        if (window_pred.size() > kRetainBytes / 64) std::vector<uint8_t>().swap(window_pred);
        if (window_arrival.size() * sizeof(float) > kRetainBytes / 16) std::vector<float>().swap(window_arrival);
        if (window_params.size() * sizeof(float) > kRetainBytes / 16) std::vector<float>().swap(window_params);
        if (heap.capacity_bytes() > kRetainBytes / 32) heap.shrink();
        if (burned.capacity() * sizeof(Burned) > kRetainBytes / 32) std::vector<Burned>().swap(burned);
        const int64_t now = int64_t(bytes());
        g_retained_bytes += now - reported_bytes;
        reported_bytes = now;
    }
    size_t bytes() const {
        return sizeof(*this) + arrival.bytes() + params.bytes() + steps.bytes() + dpv.bytes() +
               (window_arrival.capacity() + window_params.capacity()) * sizeof(float) + window_pred.capacity() +
               heap.capacity_bytes() + burned.capacity() * sizeof(Burned);
    }

    // Selects weather row `row` as the lazy parameter source of the next fire.
    void use_source(int64_t row) {
        if (row == param_row && params.used() * sizeof(ParamPage) <= kMaxSharedParamBytes) return;
        if (row != param_row) ++source_serial;
        param_row = row;
        params.reset();
    }
    // Whether the step-time cache of the current (source, layout) serves enough of the steps
    // asked of it to pay for its memory traffic: fires that rarely cross each other's cells (a
    // few random ignitions on a large landscape) ask for steps no earlier fire computed, and
    // compute faster without it. Judged after kStepCacheProbeAsks asks, for the rest of the
    // call (the same burned cells and times either way: CachedSteps).
    bool step_cache_pays() const {
        return step_asks < kStepCacheProbeAsks || step_hits >= step_asks / kStepCacheMinHitShareInverse;
    }
    // Selects (source, layout) for the step-time cache.
    void use_steps(int64_t source, int64_t layout) {
        if (source == step_source && layout == step_layout) return;
        step_source = source;
        step_layout = layout;
        step_asks = step_hits = 0;
        steps.reset();
    }

    // The spread parameters of cell `cell` under weather row `row`, as the spread_params op
    // computes them (csrc/cpu/fire_behavior_cpu.cpp: the same tabled base for uniform rows).
    void compute_params(const FireBehaviorArgs& a, int64_t row, int64_t cell, float* out) {
        const UniformRowFuel* b = nullptr;
        if (a.weather_cells == 1) {
            const int code = a.fuel_model[a.landscape_index[row] * a.num_cells + cell];
            if (code >= 0 && code < kMaxTabledCode) {
                if (base_stamp[code] != source_serial) {
                    base_stamp[code] = source_serial;
                    FuelModelSpec fm;
                    base_tabled[code] = tabled_fuel_model(code, &fm);
                    if (base_tabled[code]) base[code] = uniform_row_fuel(a, row, fm);
                }
                if (base_tabled[code]) b = &base[code];
            }
        }
        spread_params_element(a, row, cell, b, out, 1);
        // One vectorized loop over the directions; the same expression as a step's piece.
        const ParamRef ref{out, 1};
        float seg[kMaxStencilSize];
        for (int d = 0; d < kMaxStencilSize; ++d) seg[d] = segment_time_at_cell_min(ref, step_east_m[d], step_north_m[d]);
        std::memcpy(out + kSegmentOffset, seg, sizeof seg);
    }
};

ThreadScratch& thread_scratch() {
    thread_local std::unique_ptr<ThreadScratch> scratch;
    const uint64_t epoch = g_scratch_epoch.load();
    if (!scratch || scratch->epoch != epoch) {
        scratch.reset();
        scratch = std::make_unique<ThreadScratch>();
        scratch->epoch = epoch;
    }
    return *scratch;
}

// Lazy source of the CPU Dijkstra: a weather row's parameters in the thread's parameter pages.
struct PagedParams {
    ThreadScratch* s;
    const FireBehaviorArgs* a;
    int64_t row;
    int width;
    uint32_t generation;

    QAGENT_HD_HOT const float* cell(int r, int c) const { return in_page(s->params.get(r, c), page_local(r, c), r, c); }
    QAGENT_HD_HOT ParamRef at(int r, int c) const { return ParamRef{cell(r, c), 1}; }
    QAGENT_HD_HOT float inv_back_rate(int r, int c) const { return cell(r, c)[kParamInvBackRate]; }
    void fill(int, int) const {}

    // The tabled time for the whole step of direction d at cell `at` (CellParams).
    QAGENT_HD_HOT float segment_min(const ParamRef& at, int d, float, float) const { return at.p[kSegmentOffset + d]; }

    // Cell (r, c), entry i of its page, computed on first use.
    QAGENT_HD_HOT const float* in_page(ParamPage* page, int i, int r, int c) const {
        float* p = page->cell[i].p;
        if (page->stamp[i] != generation) {
            page->stamp[i] = generation;
            s->compute_params(*a, row, int64_t(r) * width + c, p);
        }
        return p;
    }
};

// PagedParams within one page, whose corner cell is (row0, col0): the source of the steps of a
// cell whose whole stencil lies in its page, read by offset without the page table.
struct OnePageParams {
    PagedParams paged;
    ParamPage* page;
    int row0, col0;

    QAGENT_HD_HOT const float* cell(int r, int c) const {
        return paged.in_page(page, ((r - row0) << kPageShift) + (c - col0), r, c);
    }
    QAGENT_HD_HOT ParamRef at(int r, int c) const { return ParamRef{cell(r, c), 1}; }
    QAGENT_HD_HOT float inv_back_rate(int r, int c) const { return cell(r, c)[kParamInvBackRate]; }
    void fill(int, int) const {}
    QAGENT_HD_HOT float segment_min(const ParamRef& at, int d, float, float) const { return at.p[kSegmentOffset + d]; }
};

// A parameter source seen from the page of cell (row, col): precomputed grids are read in
// place anyway; paged parameters through that one page.
QAGENT_HD_HOT const GridParams& page_params(const GridParams& p, int, int) { return p; }
QAGENT_HD_HOT OnePageParams page_params(const PagedParams& p, int row, int col) {
    return OnePageParams{p, p.s->params.get(row, col), row & ~(kPageSide - 1), col & ~(kPageSide - 1)};
}

// Step times: computed per step (DirectSteps, stopping early past the duration) or cached per
// cell and direction (CachedSteps, for sources shared by consecutive fires: the finite times,
// which are full ones, since later fires have other durations). Both give Dijkstra the same
// burned cells and times.
struct DirectSteps {
    struct Slot {};
    Slot slot(int, int, size_t) { return {}; }
    template <class G>
    QAGENT_HD_HOT float step(Slot, const G& g, float first_min, int row, int col, int, const StepPlan& plan,
                             float t_from, float duration_min) {
        return step_time_after_first_min(g, first_min, row, col, plan, t_from, duration_min);
    }
};

// Past this many settled cells a fire computes its steps (a large fire's steps are seldom
// asked for again, and computing them costs less than the cache's memory traffic).
constexpr size_t kMaxCachedCellsPerFire = 4096;

struct CachedSteps {
    PageTable<StepPage>* table;
    size_t max_pages;
    uint64_t* asks;  // steps asked of the cache (the thread's counters for this source and layout)
    uint64_t* hits;  // and served by it
    struct Slot {
        uint32_t* known;  // null: the cache is full, compute
        uint32_t* asked;
        float* t;
    };
    Slot slot(int row, int col, size_t settled) {
        if (settled > kMaxCachedCellsPerFire) return Slot{nullptr, nullptr, nullptr};
        StepPage* page = table->get_within(row, col, max_pages);
        if (page == nullptr) return Slot{nullptr, nullptr, nullptr};
        const int i = page_local(row, col);
        if (page->stamp[i] != table->generation()) {
            page->stamp[i] = table->generation();
            page->known[i] = 0;
            page->asked[i] = 0;
        }
        return Slot{&page->known[i], &page->asked[i], page->t[i]};
    }
    template <class G>
    QAGENT_HD_HOT float step(Slot s, const G& g, float first_min, int row, int col, int d, const StepPlan& plan,
                             float t_from, float duration_min) {
        if (s.known == nullptr) return step_time_after_first_min(g, first_min, row, col, plan, t_from, duration_min);
        const uint32_t bit = uint32_t(1) << d;
        ++*asks;
        if (*s.known & bit) {
            ++*hits;
            return s.t[d];
        }
        // The first time a step is asked for, it is computed with this fire's early stop: a
        // finite time is the full one (no stop was taken; the sum is the same) and is kept for
        // later fires, which have other durations. A step stopped early is computed in full
        // the second time (a step the fires keep asking for), and kept.
        const bool again = *s.asked & bit;
        *s.asked |= bit;
        const float t = again ? step_time_after_first_min(g, first_min, row, col, plan)
                              : step_time_after_first_min(g, first_min, row, col, plan, t_from, duration_min);
        if (again || t < kInf) {
            s.t[d] = t;
            *s.known |= bit;
        }
        return t;
    }
};

// The propagation tree during Dijkstra (csrc/qagent/dpv.h): NoPred records nothing (the
// search without return_dpv, unchanged); PagedPred the predecessor's direction of each
// reached cell in the thread's DPV pages. improve: the step from a cell settled at t_from in
// direction d gave the target its new arrival t; tie: another such step gave exactly the
// current arrival. Only strictly later arrivals (t > t_from) make a predecessor.
struct NoPred {
    static constexpr bool kOn = false;
    void root(int, int) {}
    void improve(int, int, int, float, float) {}
    void tie(int, int, int, float, float) {}
};

struct PagedPred {
    static constexpr bool kOn = true;
    PageTable<DpvPage>* table;
    void root(int row, int col) { table->get(row, col)->pred[page_local(row, col)] = kNoPredecessor; }
    void improve(int row, int col, int d, float t_from, float t) {
        table->get(row, col)->pred[page_local(row, col)] = t > t_from ? uint8_t(d) : kNoPredecessor;
    }
    void tie(int row, int col, int d, float t_from, float t) {
        uint8_t& p = table->get(row, col)->pred[page_local(row, col)];
        if (t > t_from && uint8_t(d) < p) p = uint8_t(d);  // kNoPredecessor (255) is above every d
    }
};

// Dijkstra from the ignition; cells are settled in order of arrival, and only arrivals within
// the duration enter the queue, so the search ends when it is empty. Lazy deletion: a cell
// whose arrival improves is pushed again and its older entries are skipped when popped. A
// step toward a cell already reached no later than the cell being settled cannot improve it
// (step times are positive) and is not computed. Fills s.burned with the settled cells (in
// settle order) and, through pred, the propagation tree.
//
// Most cells settled (two in three with 32 x 32 pages and radius 3) have their whole stencil
// inside their own page and the grid. Their steps read the neighbours' arrival times and
// parameters from that one page by offset, without the page tables or grid-edge tests (a
// second instantiation of the same step, OnePageParams and SpreadGrid<., true>). The steps
// and their sums are those of the general path, in the same order, so both give the same
// times to the bit (tests compare against the relaxation and the eager parameters).
template <class P, class Steps, class Pred = NoPred>
int64_t dijkstra_simulation(const SpreadGrid<P>& g, int64_t ignition, float duration_min, ThreadScratch& s,
                            Steps& steps, Pred pred = Pred()) {
    s.arrival.reset();
    s.heap.clear();
    s.burned.clear();
    const int width = g.width;
    const int ign_row = int(ignition / width), ign_col = int(ignition % width);
    if (!g.open(ign_row, ign_col)) return 0;
    s.arrival.get(ign_row, ign_col)->t[page_local(ign_row, ign_col)] = 0.0f;
    pred.root(ign_row, ign_col);
    s.heap.push(0.0f, int32_t(ignition));
    const StepPlans& plans = kHostStepPlans;
    float east_m[kMaxStencilSize], north_m[kMaxStencilSize], fraction0[kMaxStencilSize];
    std::memcpy(east_m, s.step_east_m, sizeof east_m);  // local copies: the loop below vectorizes
    std::memcpy(north_m, s.step_north_m, sizeof north_m);
    for (int d = 0; d < kMaxStencilSize; ++d) fraction0[d] = plans.plan[d].piece[0].fraction;
    const int radius = stencil_radius(g.stencil_size);
    const int directions = g.stencil_size;
    while (!s.heap.empty()) {
        const HeapEntry top = s.heap.pop();
        const int row = top.cell / width, col = top.cell - row * width;
        const float t_cell = top.key;
        ArrivalPage* const page = s.arrival.get(row, col);
        const int local = page_local(row, col);
        if (t_cell > page->t[local]) continue;  // superseded
        s.burned.push_back(Burned{top.cell, t_cell});
        auto slot = steps.slot(row, col, s.burned.size());
        // The source's share of the step in every direction at once (vectorized): a step whose
        // first piece already ends after the duration cannot burn its target (step_time_min).
        const ParamRef source = g.params.at(row, col);
        float first_min[kMaxStencilSize];
        for (int d = 0; d < kMaxStencilSize; ++d) {
            first_min[d] = fraction0[d] * g.params.segment_min(source, d, east_m[d], north_m[d]);
        }
        // The step in direction d toward (next_row, next_col), whose arrival so far is t_next_now.
        auto visit = [&](const auto& grid, int d, const StepPlan& plan, int next_row, int next_col,
                         float& t_next_now) __attribute__((always_inline)) {
            if (t_next_now <= t_cell) return;
            // The step is at least its first piece (the other pieces add times >= 0, and float
            // addition is monotone), so a first piece that already arrives after the target's
            // arrival so far can neither improve it nor tie it: exact, and the step is not
            // computed (on large fires most cells are reached from many sources).
            if (t_cell + first_min[d] > t_next_now) return;
            const float t_next = t_cell + steps.step(slot, grid, first_min[d], row, col, d, plan, t_cell, duration_min);
            if (t_next < t_next_now && t_next <= duration_min) {
                t_next_now = t_next;
                pred.improve(next_row, next_col, d, t_cell, t_next);
                s.heap.push(t_next, next_row * width + next_col);
            } else if constexpr (Pred::kOn) {
                if (t_next == t_next_now && t_next <= duration_min) pred.tie(next_row, next_col, d, t_cell, t_next);
            }
        };
        const int in_row = row & (kPageSide - 1), in_col = col & (kPageSide - 1);
        const bool interior = in_row >= radius && in_row < kPageSide - radius && in_col >= radius &&
                              in_col < kPageSide - radius && row >= radius && row < g.height - radius &&
                              col >= radius && col < width - radius;
        if (interior) {
            const auto one_page = page_params(g.params, row, col);
            const auto grid = g.template with_params<std::decay_t<decltype(one_page)>, true>(one_page);
            for (int d = 0; d < directions; ++d) {
                if (t_cell + first_min[d] > duration_min) continue;
                const StepPlan& plan = plans.plan[d];
                visit(grid, d, plan, row + plan.d_row, col + plan.d_col,
                      page->t[local + (plan.d_row << kPageShift) + plan.d_col]);
            }
        } else {
            for (int d = 0; d < directions; ++d) {
                if (t_cell + first_min[d] > duration_min) continue;
                const StepPlan& plan = plans.plan[d];
                const int next_row = row + plan.d_row, next_col = col + plan.d_col;
                if (!g.inside(next_row, next_col)) continue;
                visit(g, d, plan, next_row, next_col,
                      s.arrival.get(next_row, next_col)->t[page_local(next_row, next_col)]);
            }
        }
    }
    return int64_t(s.burned.size());
}

// Additions to the outputs that threads share (burn-count and DPV rows); the Atomics of
// csrc/qagent/dpv.h.
struct OmpAtomics {
    void add_count(int32_t* at) const {
#pragma omp atomic
        *at += 1;
    }
    void add_value(double* at, float v) const {
#pragma omp atomic
        *at += double(v);
    }
};

void count_burned(const SpreadBatch& b, int64_t sim, int32_t cell) {
    OmpAtomics{}.add_count(b.burn_count + b.count_index[sim] * b.cells() + cell);
}

void accumulate_dijkstra(const SpreadBatch& b, int64_t sim, const std::vector<Burned>& burned) {
    b.burned_cells[sim] = int32_t(burned.size());
    if (b.burn_count != nullptr && b.count_index[sim] >= 0) {
        for (const Burned& x : burned) count_burned(b, sim, x.cell);
    }
    if (b.arrival_min != nullptr) {
        float* out = b.arrival_min + sim * b.cells();
        std::fill(out, out + b.cells(), kInf);
        for (const Burned& x : burned) out[x.cell] = x.arrival_min;
    }
}

// Burned value and downstream protection value of a Dijkstra fire (csrc/qagent/dpv.h):
// subtree sums start at each cell's value, and in reverse settle order (children settle
// after their predecessor) each burned cell adds its subtree sum to its DPV row and to its
// predecessor's sum. O(burned cells).
void accumulate_dijkstra_values(const SpreadBatch& b, int64_t sim, ThreadScratch& s) {
    const float* value = b.values_of(sim);
    const std::vector<Burned>& burned = s.burned;
    const bool dpv = b.wants_dpv(sim);
    const int width = b.width;
    double total = 0.0;
    for (const Burned& x : burned) {
        const float v = value != nullptr ? value[x.cell] : 1.0f;
        total += v;
        if (dpv) {
            const int row = x.cell / width, col = x.cell - row * width;
            s.dpv.get(row, col)->sub[page_local(row, col)] = v;
        }
    }
    if (b.burned_value != nullptr) b.burned_value[sim] = float(total);
    if (!dpv) return;
    double* out = b.dpv + b.count_index[sim] * b.cells();
    const StepPlans& plans = kHostStepPlans;
    for (size_t i = burned.size(); i-- > 0;) {
        const int32_t cell = burned[i].cell;
        const int row = cell / width, col = cell - row * width;
        DpvPage* page = s.dpv.get(row, col);
        const int local = page_local(row, col);
        const float sub = page->sub[local];
        if (sub == 0.0f) continue;  // adds nothing here or upstream
        OmpAtomics{}.add_value(out + cell, sub);
        if (i == 0) continue;  // the ignition, the root
        const uint8_t d = page->pred[local];
        if (d == kNoPredecessor) continue;
        const int from_row = row - plans.plan[d].d_row, from_col = col - plans.plan[d].d_col;
        s.dpv.get(from_row, from_col)->sub[page_local(from_row, from_col)] += sub;
    }
}

void run_dijkstra(const SpreadBatch& b, int64_t sim, ThreadScratch& s, bool allow_cache) {
    const int64_t source = b.param_index[sim];
    // A source shared with a neighbouring simulation (in batch order) is worth caching.
    const bool shared = (sim > 0 && b.param_index[sim - 1] == source) ||
                        (sim + 1 < b.num_sims && b.param_index[sim + 1] == source);
    CachedSteps cached{&s.steps, kMaxStepCacheBytes / sizeof(StepPage), &s.step_asks, &s.step_hits};
    DirectSteps direct;
    bool use_cache = allow_cache && shared;
    if (use_cache) {
        s.use_steps(source, b.layout_index[sim]);
        use_cache = s.step_cache_pays();
    }
    // The propagation tree only when this fire's DPV is asked for.
    const bool tree = b.wants_dpv(sim);
    if (tree) {
        s.dpv.bind(b.height, b.width);
        s.dpv.reset();
    }
    auto search = [&](const auto& g, auto& steps) {
        return tree ? dijkstra_simulation(g, b.ignition[sim], b.duration_min[sim], s, steps, PagedPred{&s.dpv})
                    : dijkstra_simulation(g, b.ignition[sim], b.duration_min[sim], s, steps);
    };
    int64_t burned;
    if (b.is_lazy(sim)) {
        s.use_source(b.weather_row(sim));
        const auto g = b.grid(sim, PagedParams{&s, &b.lazy, b.weather_row(sim), b.width, s.params.generation()});
        burned = use_cache ? search(g, cached) : search(g, direct);
    } else {
        const auto g = b.grid(sim, b.grid_params(sim));
        burned = use_cache ? search(g, cached) : search(g, direct);
    }
    (void)burned;
    accumulate_dijkstra(b, sim, s.burned);
    if (b.burned_value != nullptr || tree) accumulate_dijkstra_values(b, sim, s);
}

// The CUDA algorithm itself, run by one lane (tests check it against Dijkstra): the same
// windows, lazy parameters and overflow-and-rerun as the kernel (csrc/cuda/spread_cuda.cu), and
// the same fire (relax_fire, relax_add_fire: csrc/qagent/dpv.h).
void run_relax(const SpreadBatch& b, int64_t sim, ThreadScratch& s) {
    const int64_t ignition = b.ignition[sim];
    const int ign_row = int(ignition / b.width), ign_col = int(ignition % b.width);
    // The propagation tree (return_dpv): predecessors of the window's burned cells.
    const bool tree = b.wants_dpv(sim);
    SerialTeam team;
    int region[4];
    for (int side = b.relax_window;; side = next_relax_window(side)) {
        const int64_t cells = int64_t(imin(side, b.height)) * imin(side, b.width);
        if (int64_t(s.window_arrival.size()) < cells) s.window_arrival.resize(cells);
        const RelaxWindow w = place_relax_window(s.window_arrival.data(), side, b.height, b.width, ign_row, ign_col);
        if (tree && int64_t(s.window_pred.size()) < cells) s.window_pred.resize(cells);
        if (b.is_lazy(sim) && int64_t(s.window_params.size()) < cells * kNumSpreadParams) {
            s.window_params.resize(cells * kNumSpreadParams);
        }
        uint8_t* pred = tree ? s.window_pred.data() : nullptr;
        const int64_t burned = relax_fire(b, sim, kHostStepPlans, w, s.window_params.data(), pred, team, region);
        if (burned == kRelaxOverflow) {
            TORCH_CHECK(!relax_window_covers(side, b.height, b.width), "qagent: relaxation overflowed the whole grid");
            continue;
        }
        b.burned_cells[sim] = int32_t(burned);
        if (b.arrival_min != nullptr) {
            float* out = b.arrival_min + sim * b.cells();
            std::fill(out, out + b.cells(), kInf);
        }
        const double total_value = relax_add_fire(b, sim, kHostStepPlans, w, region, pred, team, OmpAtomics{});
        if (b.burned_value != nullptr) b.burned_value[sim] = float(total_value);
        return;
    }
}

}  // namespace

void CpuOps::spread(const SpreadBatch& b, int64_t algorithm, const at::Tensor&, const SpreadOutputs&) {
    const int64_t n = b.num_sims;
#pragma omp parallel if (n > 1)
    {
        ThreadScratch& s = thread_scratch();
        s.begin_call(b.height, b.width, b.cell_size_m);
#pragma omp for schedule(dynamic, 1)
        for (int64_t sim = 0; sim < n; ++sim) {
            if (algorithm == kSpreadRelax) {
                run_relax(b, sim, s);
            } else {
                run_dijkstra(b, sim, s, algorithm != kSpreadDijkstraUncached);
            }
        }
        s.end_call();
    }
}

// Bytes of spread scratch retained by all threads between calls (qagent._C.spread_scratch_bytes).
int64_t spread_scratch_bytes() { return g_retained_bytes.load(); }

// Drops every thread's scratch at its next call (qagent._C.release_spread_scratch): the next
// fires start from fresh pools, as tests compare.
void release_spread_scratch() { ++g_scratch_epoch; }

}  // namespace qagent
