// The per-cell body of the fire_behavior op, shared by the CPU loop (csrc/cpu) and the CUDA
// kernel (csrc/cuda). Raw pointers only: no torch here, so device code can include it.
#pragma once

#include "common.h"
#include "fire_behavior.h"
#include "spread.h"

namespace qagent {

// Terrain and canopy channels of the terrain tensor [E, kNumTerrainChannels, N].
enum TerrainChannel : int {
    kTerrainSlope = 0,              // rise/run
    kTerrainAspect = 1,             // degrees clockwise from north (downslope)
    kTerrainCanopyCover = 2,        // fraction
    kTerrainCanopyHeight = 3,       // m
    kTerrainCanopyBaseHeight = 4,   // m
    kTerrainCanopyBulkDensity = 5,  // kg/m^3
    kNumTerrainChannels = 6,
};

// Weather channels of the weather tensor [B, kNumWeatherChannels, K], K = 1 (uniform) or N.
enum WeatherChannel : int {
    kWeatherWindSpeed10m = 0,       // km/h
    kWeatherUpwindDirection = 1,    // degrees clockwise from north
    kWeatherMoistureDead1hr = 2,    // fractions of ovendry weight from here on
    kWeatherMoistureDead10hr = 3,
    kWeatherMoistureDead100hr = 4,
    kWeatherMoistureLiveHerbaceous = 5,
    kWeatherMoistureLiveWoody = 6,
    kWeatherFoliarMoisture = 7,
    kNumWeatherChannels = 8,
};

// Fuel model codes below this may have their no-wind, no-slope surface fire tabled per
// uniform weather row by the CPU loops (fire_behavior_cpu.cpp, spread_cpu.cpp).
constexpr int kMaxTabledCode = 256;

// Whether a CPU loop tables the base of this code (burnable, known, below kMaxTabledCode);
// both loops decide alike, so their parameters agree (to the bit either way, see
// element_fire_behavior).
inline bool tabled_fuel_model(int code, FuelModelSpec* fm) {
    return code >= 0 && code < kMaxTabledCode && lookup_fuel_model(code, fm) && fm->burnable;
}

// The inputs of the fire_behavior and spread_params ops (and of the spread op's lazy
// parameter sources): what every cell's fire behavior is computed from.
struct FireBehaviorArgs {
    const float* terrain;             // [E, 6, N]
    const int32_t* fuel_model;        // [E, N]
    const float* weather;             // [B, 8, K]
    const int64_t* landscape_index;   // [B]
    int64_t num_cells;                // N
    int64_t weather_cells;            // K: 1 or N
    BehaviorOptions options;
    bool has_azimuth;                 // false for the head fire (always so for spread parameters)
    float azimuth_deg;
};

// The outputs of the fire_behavior op, [B, N] each.
struct FireBehaviorOut {
    uint8_t* fire_type;
    float* spread_rate_m_per_min;
    float* spread_direction_deg;
    float* fireline_intensity_kw_per_m;
    float* flame_length_m;
    float* length_to_breadth;
};

QAGENT_HD CellFuelTerrain load_cell_fuel_terrain(const float* terrain, const int32_t* fuel_model, int64_t num_cells,
                                                 int64_t landscape, int64_t cell) {
    const float* t = terrain + landscape * kNumTerrainChannels * num_cells + cell;
    CellFuelTerrain c;
    c.fuel_model_code = fuel_model[landscape * num_cells + cell];
    c.slope_rise_per_run = t[kTerrainSlope * num_cells];
    c.aspect_deg = t[kTerrainAspect * num_cells];
    c.canopy_cover_fraction = t[kTerrainCanopyCover * num_cells];
    c.canopy_height_m = t[kTerrainCanopyHeight * num_cells];
    c.canopy_base_height_m = t[kTerrainCanopyBaseHeight * num_cells];
    c.canopy_bulk_density_kg_per_m3 = t[kTerrainCanopyBulkDensity * num_cells];
    return c;
}

QAGENT_HD CellWeather load_cell_weather(const float* weather, int64_t weather_cells, int64_t row, int64_t cell) {
    int64_t k = weather_cells == 1 ? 0 : cell;
    const float* w = weather + row * kNumWeatherChannels * weather_cells + k;
    CellWeather out;
    out.wind_speed_10m_km_per_h = w[kWeatherWindSpeed10m * weather_cells];
    out.upwind_direction_deg = w[kWeatherUpwindDirection * weather_cells];
    out.fuel_moisture.dead_1hr = w[kWeatherMoistureDead1hr * weather_cells];
    out.fuel_moisture.dead_10hr = w[kWeatherMoistureDead10hr * weather_cells];
    out.fuel_moisture.dead_100hr = w[kWeatherMoistureDead100hr * weather_cells];
    out.fuel_moisture.live_herbaceous = w[kWeatherMoistureLiveHerbaceous * weather_cells];
    out.fuel_moisture.live_woody = w[kWeatherMoistureLiveWoody * weather_cells];
    out.foliar_moisture = w[kWeatherFoliarMoisture * weather_cells];
    out.downwind_east = out.downwind_north = 0.0f;  // set_downwind where needed
    return out;
}

// What the CPU loops table per (uniform weather row, fuel model code): the row's weather,
// loaded once, the fuel model, and its no-wind, no-slope surface fire in that weather. A cell
// given its entry needs neither its weather loaded nor its fuel model looked up again.
struct UniformRowFuel {
    CellWeather weather;
    FuelModelSpec fm;
    SurfaceFireBase base;
};

// The entry of weather row `row` of a and fuel model fm (a tabled_fuel_model).
inline UniformRowFuel uniform_row_fuel(const FireBehaviorArgs& a, int64_t row, const FuelModelSpec& fm) {
    UniformRowFuel t;
    t.weather = load_cell_weather(a.weather, 1, row, 0);
    set_downwind(&t.weather);
    t.fm = fm;
    t.base = rothermel_no_wind_no_slope(fm, t.weather.fuel_moisture);
    return t;
}

// The spread kernel's description of a cell's fire ellipse (spread.h): 1 / (R (1 - e)), e u,
// and the elevation gradient. Cells where fire does not spread get 1 / (R (1 - e)) = +inf.
QAGENT_HD void pack_spread_params(const CellFireBehavior& b, float* out, int64_t stride) {
    const float dz_dx = b.dz_dx, dz_dy = b.dz_dy;  // elevation_gradient of the cell's slope and aspect
    const float e = b.eccentricity;
    out[kParamInvBackRate * stride] = b.spread_rate_m_per_min > 0.0f ? 1.0f / (b.spread_rate_m_per_min * (1.0f - e)) : kInf;
    out[kParamEccUEast * stride] = e * b.spread_direction.x;
    out[kParamEccUNorth * stride] = e * b.spread_direction.y;
    out[kParamEccUUp * stride] = e * b.spread_direction.z;
    out[kParamGradEast * stride] = dz_dx;
    out[kParamGradNorth * stride] = dz_dy;
}

// Fire behavior of element (row, cell) of the fire_behavior or spread_params op (the cell's
// fuel and terrain come back in *c). With uniform weather rows a caller may pass the entry of
// this row and the cell's fuel model (tabled, else null); the result is the same to the bit
// (cell_fire_behavior loads the same weather, looks up the same fuel model, computes the same
// base and calls the same function). with_flame_length: see cell_fire_behavior_given_base.
QAGENT_HD CellFireBehavior element_fire_behavior(const FireBehaviorArgs& a, int64_t row, int64_t cell,
                                                 const UniformRowFuel* tabled, CellFuelTerrain* c,
                                                 bool with_flame_length = true) {
    int64_t landscape = a.landscape_index[row];
    *c = load_cell_fuel_terrain(a.terrain, a.fuel_model, a.num_cells, landscape, cell);
    if (tabled != nullptr) {
        return cell_fire_behavior_given_base(*c, tabled->weather, tabled->fm, tabled->base, a.options, a.has_azimuth,
                                             a.azimuth_deg, with_flame_length);
    }
    const CellWeather w = load_cell_weather(a.weather, a.weather_cells, row, cell);
    return cell_fire_behavior(*c, w, a.options, a.has_azimuth, a.azimuth_deg, with_flame_length);
}

// The six spread parameters of element (row, cell) (head fire: a.has_azimuth must be false),
// written to out[k * stride], k < kNumSpreadParams. The one function behind every spread
// parameter: the spread_params op (eager, whole grids) and the spread op's lazy parameter
// sources (csrc/qagent/spread_sources.h, csrc/cpu/spread_cpu.cpp), so both agree to the bit.
QAGENT_HD void spread_params_element(const FireBehaviorArgs& a, int64_t row, int64_t cell,
                                     const UniformRowFuel* tabled, float* out, int64_t stride) {
    CellFuelTerrain c;
    const CellFireBehavior b = element_fire_behavior(a, row, cell, tabled, &c, /*with_flame_length=*/false);
    pack_spread_params(b, out, stride);
}

// The per-element bodies of the two ops, run by the CPU loop (csrc/cpu/fire_behavior_cpu.cpp)
// and the CUDA kernel (csrc/cuda/fire_behavior_cuda.cu) alike: element(row, cell, tabled)
// computes output element (row, cell) (see element_fire_behavior for tabled).

// The fire_behavior op: the six [B, N] outputs.
struct FireBehaviorElement {
    FireBehaviorArgs a;
    FireBehaviorOut out;

    QAGENT_HD void operator()(int64_t row, int64_t cell, const UniformRowFuel* tabled = nullptr) const {
        CellFuelTerrain c;
        const CellFireBehavior b = element_fire_behavior(a, row, cell, tabled, &c);
        const int64_t o = row * a.num_cells + cell;
        out.fire_type[o] = b.fire_type;
        out.spread_rate_m_per_min[o] = b.spread_rate_m_per_min;
        out.spread_direction_deg[o] = xy_to_azimuth_deg(b.spread_direction.x, b.spread_direction.y);
        out.fireline_intensity_kw_per_m[o] = b.fireline_intensity_kw_per_m;
        out.flame_length_m[o] = b.flame_length_m;
        out.length_to_breadth[o] = b.length_to_breadth;
    }
};

// The spread_params op: [B, kNumSpreadParams, N] at out (head fire: a.has_azimuth is false).
struct SpreadParamsElement {
    FireBehaviorArgs a;
    float* out;

    QAGENT_HD void operator()(int64_t row, int64_t cell, const UniformRowFuel* tabled = nullptr) const {
        spread_params_element(a, row, cell, tabled, out + row * kNumSpreadParams * a.num_cells + cell, a.num_cells);
    }
};

}  // namespace qagent
