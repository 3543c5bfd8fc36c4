// Fire behavior of one cell: surface fire (surface_fire.h) with wind and slope combined as
// vectors on the slope plane, crown fire (crown_fire.h), and their combination. This is the
// one function every kernel (CPU and CUDA, behavior and spread) calls per cell.
#pragma once

#include "common.h"
#include "crown_fire.h"
#include "fuel_models.h"
#include "surface_fire.h"
#include "units.h"

namespace qagent {

// A cell's fuel and terrain, SI units.
struct CellFuelTerrain {
    int fuel_model_code;
    float slope_rise_per_run;
    float aspect_deg;                // downslope direction, clockwise from north
    float canopy_cover_fraction;
    float canopy_height_m;
    float canopy_base_height_m;
    float canopy_bulk_density_kg_per_m3;
};

// The weather at a cell.
struct CellWeather {
    float wind_speed_10m_km_per_h;
    float upwind_direction_deg;      // where the wind comes from, clockwise from north
    FuelMoisture fuel_moisture;      // fractions
    float foliar_moisture;           // fraction (1.0 = 100 %)
    float downwind_east, downwind_north;  // horizontal unit vector the wind blows toward: set by
                                          // set_downwind where a burnable cell needs it
                                          // (cell_fire_behavior; once per uniform weather row)
};

// The downwind unit vector of w's upwind direction.
QAGENT_HD void set_downwind(CellWeather* w) {
    azimuth_to_xy(w->upwind_direction_deg + 180.0f, &w->downwind_east, &w->downwind_north);
}

struct BehaviorOptions {
    int length_to_breadth_model;     // kLwBehave or kLwRothermel
    bool use_wind_limit;
    float crown_max_length_to_breadth;
};

// Fire behavior at a cell in one direction of spread (the head, or a given azimuth).
struct CellFireBehavior {
    uint8_t fire_type;               // FireType
    float spread_rate_m_per_min;     // along the slope surface
    Vec3 spread_direction;           // unit vector on the slope plane (east, north, up)
    float fireline_intensity_kw_per_m;
    float flame_length_m;
    float length_to_breadth;         // of the fire ellipse that spreads fastest (surface or crown)
    float eccentricity;
    float dz_dx, dz_dy;              // the cell's elevation gradient (elevation_gradient), kept so
                                     // pack_spread_params need not compute it again
};

// Surface fire at the head, and the parts needed to evaluate it in other directions.
struct SurfaceFireHead {
    float spread_rate_m_per_min;
    float fireline_intensity_kw_per_m;
    Vec3 direction;
    float length_to_breadth;
    float eccentricity;
};

// Wind and slope combined as vectors (Rothermel 1972 treats them as adding factors on the
// no-wind, no-slope rate: R = R0 (1 + phi_W + phi_S); Andrews 2018 section 4 combines them as
// vectors when the wind is not upslope). Both vectors are lifted onto the slope plane of the
// cell: the midflame wind blowing along the surface, the slope factor pointing upslope.
// phi_E = |phi_W w_hat + phi_S s_hat|, R_head = R0 (1 + phi_E), and the effective wind speed
// is the wind that alone gives phi_E; the wind limit caps it at 0.9 I_R (Rothermel 1972).
QAGENT_HD SurfaceFireHead surface_fire_head(const SurfaceFireBase& base, float midflame_wind_m_per_min,
                                            float downwind_east, float downwind_north, float dz_dx, float dz_dy,
                                            float slope_rise_per_run, const BehaviorOptions& opt) {
    Vec3 wind = to_slope_plane(midflame_wind_m_per_min * downwind_east, midflame_wind_m_per_min * downwind_north,
                               dz_dx, dz_dy);
    Vec3 upslope = to_slope_plane(dz_dx, dz_dy, dz_dx, dz_dy);
    float phi_w = wind_factor(base, units::m_per_min_to_ft_per_min(norm(wind)));
    float phi_s = base.slope_factor_coefficient * slope_rise_per_run * slope_rise_per_run;
    Vec3 phi = add(scale(phi_w, unit_or_zero(wind)), scale(phi_s, unit_or_zero(upslope)));
    float phi_e = norm(phi);

    SurfaceFireHead out;
    if (phi_e > 0.0f) {
        out.direction = scale(1.0f / phi_e, phi);
    } else if (phi_s > 0.0f) {
        out.direction = unit_or_zero(upslope);
    } else {
        out.direction = vec3(0.0f, 1.0f, 0.0f);  // no wind, no slope: circular; report north
    }
    float effective_wind_ft_min = effective_wind_ft_per_min(base, phi_e);
    if (opt.use_wind_limit && effective_wind_ft_min > base.max_effective_wind_ft_per_min) {
        effective_wind_ft_min = base.max_effective_wind_ft_per_min;
        phi_e = wind_factor(base, effective_wind_ft_min);
    }
    out.spread_rate_m_per_min = units::ft_per_min_to_m_per_min(base.spread_rate_ft_per_min) * (1.0f + phi_e);
    out.fireline_intensity_kw_per_m =
        units::btu_per_ft_s_to_kw_per_m(base.fireline_intensity_btu_per_ft_s) * (1.0f + phi_e);
    out.length_to_breadth =
        surface_length_to_breadth(units::ft_per_min_to_mph(effective_wind_ft_min), opt.length_to_breadth_model);
    out.eccentricity = ellipse_eccentricity(out.length_to_breadth);
    return out;
}

// Fire behavior of one cell, given its fuel model and the no-wind, no-slope surface fire of
// that fuel model in this weather (rothermel_no_wind_no_slope; callers with uniform weather
// compute it once per fuel model), and the weather's downwind vector set (set_downwind) for a
// burnable fuel model. With has_azimuth false the result is the head fire (the
// direction of maximum spread); otherwise the fire front whose normal points toward
// azimuth_deg (horizontal, clockwise from north), with crown fire initiation judged on the
// surface intensity in that direction. With with_flame_length false the flame length (a
// powf no spread parameter reads) is left 0; every other field is the same to the bit.
QAGENT_HD CellFireBehavior cell_fire_behavior_given_base(const CellFuelTerrain& cell, const CellWeather& weather,
                                                         const FuelModelSpec& fm, const SurfaceFireBase& base,
                                                         const BehaviorOptions& opt, bool has_azimuth,
                                                         float azimuth_deg, bool with_flame_length = true) {
    float dz_dx, dz_dy;
    elevation_gradient(cell.slope_rise_per_run, cell.aspect_deg, &dz_dx, &dz_dy);
    CellFireBehavior out;
    out.dz_dx = dz_dx;
    out.dz_dy = dz_dy;
    out.length_to_breadth = 1.0f;
    out.eccentricity = 0.0f;
    if (!fm.burnable) {
        out.fire_type = kUnburnable;
        out.spread_rate_m_per_min = 0.0f;
        out.fireline_intensity_kw_per_m = 0.0f;
        out.flame_length_m = 0.0f;
        if (has_azimuth) {
            float ax, ay;
            azimuth_to_xy(azimuth_deg, &ax, &ay);
            out.spread_direction = unit_or_zero(to_slope_plane(ax, ay, dz_dx, dz_dy));
        } else {
            out.spread_direction = cell.slope_rise_per_run > 0.0f
                                       ? unit_or_zero(to_slope_plane(dz_dx, dz_dy, dz_dx, dz_dy))
                                       : vec3(0.0f, 1.0f, 0.0f);
        }
        return out;
    }

    // Surface fire: the midflame wind from the 10-m wind, via the 20-ft wind and the wind
    // adjustment factor.
    float wind_20ft_m_per_min = units::km_per_h_to_m_per_min(units::wind_10m_to_20ft(weather.wind_speed_10m_km_per_h));
    float waf = wind_adjustment_factor(fm.fuel_bed_depth_ft, units::m_to_ft(cell.canopy_height_m), cell.canopy_cover_fraction);
    SurfaceFireHead surface = surface_fire_head(base, wind_20ft_m_per_min * waf, weather.downwind_east,
                                                weather.downwind_north, dz_dx, dz_dy, cell.slope_rise_per_run, opt);

    // The direction evaluated and the surface fire along it.
    Vec3 direction = surface.direction;
    float surface_fraction = 1.0f;
    if (has_azimuth) {
        float ax, ay;
        azimuth_to_xy(azimuth_deg, &ax, &ay);
        direction = unit_or_zero(to_slope_plane(ax, ay, dz_dx, dz_dy));
        surface_fraction = front_normal_rate_fraction(surface.eccentricity, dot(surface.direction, direction));
    }
    float surface_rate = surface.spread_rate_m_per_min * surface_fraction;
    float surface_intensity = surface.fireline_intensity_kw_per_m * surface_fraction;

    out.fire_type = kSurfaceFire;
    out.spread_rate_m_per_min = surface_rate;
    out.spread_direction = has_azimuth ? direction : surface.direction;
    out.fireline_intensity_kw_per_m = surface_intensity;
    out.length_to_breadth = surface.length_to_breadth;
    out.eccentricity = surface.eccentricity;

    if (!van_wagner_crown_fire_initiates(surface_intensity, cell.canopy_cover_fraction, cell.canopy_base_height_m,
                                         cell.canopy_bulk_density_kg_per_m3, weather.foliar_moisture)) {
        out.flame_length_m = with_flame_length ? byram_flame_length_m(surface_intensity) : 0.0f;
        return out;
    }

    // Crown fire: driven by the 10-m wind along the slope plane (its magnitude there feeds
    // Cruz's model), heading downwind, or upslope without wind.
    const float wx = weather.downwind_east, wy = weather.downwind_north;
    Vec3 wind_10m = to_slope_plane(weather.wind_speed_10m_km_per_h * wx, weather.wind_speed_10m_km_per_h * wy, dz_dx, dz_dy);
    float wind_10m_on_slope = norm(wind_10m);
    Vec3 crown_direction = wind_10m_on_slope > 0.0f
                               ? unit_or_zero(wind_10m)
                               : (cell.slope_rise_per_run > 0.0f ? unit_or_zero(to_slope_plane(dz_dx, dz_dy, dz_dx, dz_dy))
                                                                 : vec3(0.0f, 1.0f, 0.0f));
    CrownFireHead crown = crown_fire_head(wind_10m_on_slope, cell.canopy_height_m, cell.canopy_base_height_m,
                                          cell.canopy_bulk_density_kg_per_m3,
                                          units::btu_per_lb_to_kj_per_kg(fm.heat_content_btu_per_lb),
                                          weather.fuel_moisture.dead_1hr, opt.crown_max_length_to_breadth);
    float crown_eccentricity = ellipse_eccentricity(crown.length_to_breadth);
    float crown_fraction = has_azimuth ? front_normal_rate_fraction(crown_eccentricity, dot(crown_direction, direction)) : 1.0f;
    float crown_rate = crown.spread_rate_m_per_min * crown_fraction;
    float crown_intensity = crown.fireline_intensity_kw_per_m * crown_fraction;

    // Combined: the fire spreads at the faster of the two rates, in that one's direction and
    // ellipse; its intensity is the heat per unit area of surface and canopy fuels together
    // released at that rate (Byram 1959: I = H w R), I = R (I_s / R_s + I_c / R_c).
    out.fire_type = crown.fire_type;
    if (crown_rate > 0.0f) {
        bool crown_faster = crown_rate >= surface_rate;
        float rate = crown_faster ? crown_rate : surface_rate;
        out.fireline_intensity_kw_per_m = rate * (surface_intensity / surface_rate + crown_intensity / crown_rate);
        out.spread_rate_m_per_min = rate;
        if (crown_faster) {
            if (!has_azimuth) out.spread_direction = crown_direction;
            out.length_to_breadth = crown.length_to_breadth;
            out.eccentricity = crown_eccentricity;
        }
    }
    out.flame_length_m = with_flame_length ? byram_flame_length_m(out.fireline_intensity_kw_per_m) : 0.0f;
    return out;
}

// Fire behavior of one cell (see cell_fire_behavior_given_base).
QAGENT_HD CellFireBehavior cell_fire_behavior(const CellFuelTerrain& cell, const CellWeather& weather,
                                              const BehaviorOptions& opt, bool has_azimuth, float azimuth_deg,
                                              bool with_flame_length = true) {
    FuelModelSpec fm;
    lookup_fuel_model(cell.fuel_model_code, &fm);
    SurfaceFireBase base{};
    CellWeather w = weather;
    if (fm.burnable) {
        base = rothermel_no_wind_no_slope(fm, weather.fuel_moisture);
        set_downwind(&w);
    }
    return cell_fire_behavior_given_base(cell, w, fm, base, opt, has_azimuth, azimuth_deg, with_flame_length);
}

}  // namespace qagent
