// Crown fire: initiation after Van Wagner (1977), active spread rate after Cruz, Alexander
// and Wakimoto (2005), Van Wagner's criterion for active spread, and the crown fire ellipse
// after Rothermel (1991). SI units throughout.
#pragma once

#include "common.h"
#include "units.h"

namespace qagent {

// Fire types, coded as FlamMap codes crown fire activity.
enum FireType : uint8_t { kUnburnable = 0, kSurfaceFire = 1, kPassiveCrownFire = 2, kActiveCrownFire = 3 };

// Crown fire needs a canopy dense enough to carry it: no crown fire where canopy cover is at
// or below 40 % (the convention of pyretechnics and FSim-style landscape runs).
constexpr float kMinCanopyCoverForCrownFire = 0.40f;

// Van Wagner (1977) eq. 4: the surface fireline intensity (kW/m) needed to ignite the
// crowns, I_0 = (C z h)^1.5 with C = 0.010, z the canopy base height (m) and
// h = 460 + 25.9 FMC the heat of ignition (kJ/kg), FMC foliar moisture in percent.
constexpr float kVanWagnerHeatOfIgnitionPerFmcPercent = 25.9f;

QAGENT_HD float van_wagner_critical_fireline_intensity_kw_per_m(float canopy_base_height_m, float foliar_moisture) {
    float heat_of_ignition_kj_per_kg = 460.0f + kVanWagnerHeatOfIgnitionPerFmcPercent * (100.0f * foliar_moisture);
    float v = 0.010f * fmaxf(0.0f, canopy_base_height_m) * heat_of_ignition_kj_per_kg;
    return v * sqrtf(v);
}

QAGENT_HD bool van_wagner_crown_fire_initiates(float surface_fireline_intensity_kw_per_m, float canopy_cover_fraction,
                                               float canopy_base_height_m, float canopy_bulk_density_kg_per_m3,
                                               float foliar_moisture) {
    return surface_fireline_intensity_kw_per_m > 0.0f && canopy_cover_fraction > kMinCanopyCoverForCrownFire &&
           canopy_bulk_density_kg_per_m3 > 0.0f &&
           surface_fireline_intensity_kw_per_m >=
               van_wagner_critical_fireline_intensity_kw_per_m(canopy_base_height_m, foliar_moisture);
}

// Cruz et al. (2005) eq. 9: active crown fire spread rate (m/min)
//   CROS_A = 11.02 U10^0.90 CBD^0.19 exp(-0.17 EFFM),
// U10 the 10-m open wind (km/h), CBD canopy bulk density (kg/m^3), EFFM the estimated fine
// fuel moisture in percent (the 1-h dead moisture here).
QAGENT_HD float cruz_active_crown_spread_rate_m_per_min(float wind_speed_10m_km_per_h, float canopy_bulk_density_kg_per_m3,
                                                        float fine_dead_moisture) {
    if (!(wind_speed_10m_km_per_h > 0.0f) || !(canopy_bulk_density_kg_per_m3 > 0.0f)) return 0.0f;
    return 11.02f * powf(wind_speed_10m_km_per_h, 0.90f) * powf(canopy_bulk_density_kg_per_m3, 0.19f) *
           expf(-17.0f * fine_dead_moisture);
}

// Van Wagner (1977) eq. 5: the spread rate (m/min) above which a crown fire is active,
// R'_0 = S_0 / CBD with the critical mass flow rate S_0 = 3.0 kg/m^2/min.
QAGENT_HD float van_wagner_critical_active_spread_rate_m_per_min(float canopy_bulk_density_kg_per_m3) {
    return 3.0f / canopy_bulk_density_kg_per_m3;
}

struct CrownFireHead {
    uint8_t fire_type;  // kPassiveCrownFire or kActiveCrownFire
    float spread_rate_m_per_min;
    float fireline_intensity_kw_per_m;
    float length_to_breadth;
};

// Crown fire at the head, once initiated. Active when Cruz's active rate exceeds Van
// Wagner's critical rate; otherwise passive with Cruz et al. (2005) eq. 10:
// CROS_P = CROS_A exp(-CROS_A / R'_0). Crown fireline intensity (Byram 1959, kW/m):
// I_c = R CBD (CH - CBH) H / 60 with H the fuel's heat content (kJ/kg). Crown fire ellipse
// after Rothermel (1991) eq. 10: L/B = 1 + 0.125 U20 (mi/h).
QAGENT_HD CrownFireHead crown_fire_head(float wind_speed_10m_km_per_h, float canopy_height_m, float canopy_base_height_m,
                                        float canopy_bulk_density_kg_per_m3, float heat_content_kj_per_kg,
                                        float fine_dead_moisture, float crown_max_length_to_breadth) {
    CrownFireHead out;
    float active = cruz_active_crown_spread_rate_m_per_min(wind_speed_10m_km_per_h, canopy_bulk_density_kg_per_m3,
                                                           fine_dead_moisture);
    float critical = van_wagner_critical_active_spread_rate_m_per_min(canopy_bulk_density_kg_per_m3);
    if (active > critical) {
        out.fire_type = kActiveCrownFire;
        out.spread_rate_m_per_min = active;
    } else {
        out.fire_type = kPassiveCrownFire;
        out.spread_rate_m_per_min = active * expf(-active / critical);
    }
    float crown_depth_m = fmaxf(0.0f, canopy_height_m - canopy_base_height_m);
    out.fireline_intensity_kw_per_m =
        out.spread_rate_m_per_min * canopy_bulk_density_kg_per_m3 * crown_depth_m * heat_content_kj_per_kg / 60.0f;
    float wind_20ft_mph = units::km_per_h_to_mph(units::wind_10m_to_20ft(wind_speed_10m_km_per_h));
    out.length_to_breadth = fminf(1.0f + 0.125f * wind_20ft_mph, crown_max_length_to_breadth);
    return out;
}

}  // namespace qagent
