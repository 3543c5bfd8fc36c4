// Surface fire: Rothermel (1972) with Albini (1976) corrections, as explained by Andrews
// (2018, RMRS-GTR-371). Equation numbers "R72 (n)" refer to Rothermel 1972, "A18 (n)" to
// Andrews 2018 where they differ or add to it.
//
// The model's coefficients are fitted in US customary units, so inside this file loads are
// lb/ft^2, lengths ft, surface-area-to-volume ratios 1/ft, heat Btu, time min. Every
// quantity carries its unit in its name; results convert to SI in fire_behavior.h.
#pragma once

#include "common.h"
#include "fuel_models.h"
#include "units.h"

namespace qagent {

// Fuel particle constants of the standard fuel models (R72 Table 2; Scott & Burgan 2005).
constexpr float kParticleDensityLbPerFt3 = 32.0f;    // rho_p
constexpr float kTotalMineralContent = 0.0555f;      // S_T, lb minerals / lb ovendry fuel
constexpr float kEffectiveMineralContent = 0.010f;   // S_e, silica-free

// Fuel moisture contents, fractions of ovendry weight (kg water / kg fuel).
struct FuelMoisture {
    float dead_1hr;
    float dead_10hr;
    float dead_100hr;
    float live_herbaceous;
    float live_woody;
};

// Everything about a cell's surface fire that does not depend on wind or slope.
struct SurfaceFireBase {
    float spread_rate_ft_per_min;               // R0, no wind, no slope
    float reaction_intensity_btu_per_ft2_min;   // I_R
    float fireline_intensity_btu_per_ft_s;      // Byram's I at R0
    float wind_factor_C;                        // R72 (48)
    float wind_factor_B;                        // R72 (49)
    float packing_ratio_relative_pow_E;         // (beta/beta_op)^E, R72 (47) and (50)
    float slope_factor_coefficient;             // 5.275 beta^-0.3, R72 (51)
    float max_effective_wind_ft_per_min;        // wind limit 0.9 I_R, R72 (86)
};

// Six fuel size classes: dead 1-h, 10-h, 100-h, dead herbaceous (cured part of dynamic
// models), live herbaceous, live woody. Classes 0-3 form the dead category, 4-5 the live.
constexpr int kNumSizeClasses = 6;
constexpr int kFirstLiveClass = 4;

// Albini (1976) FIREMOD size-class bins by surface-area-to-volume ratio (1/ft), used to
// weight net fuel loads (g_ij; A18 Table 9).
QAGENT_HD int firemod_size_bin(float sav_per_ft) {
    return sav_per_ft >= 1200.0f ? 1
         : sav_per_ft >= 192.0f  ? 2
         : sav_per_ft >= 96.0f   ? 3
         : sav_per_ft >= 48.0f   ? 4
         : sav_per_ft >= 16.0f   ? 5
                                 : 6;
}

// Heat of preignition (Btu/lb), R72 (12): Q_ig = 250 + 1116 M_f.
QAGENT_HD float heat_of_preignition_btu_per_lb(float moisture) { return 250.0f + 1116.0f * moisture; }

// Moisture damping coefficient, R72 (29): 1 - 2.59 r + 5.11 r^2 - 3.52 r^3, r = M_f/M_x.
// The cubic is zero at r = 1; at and beyond extinction we return exactly 0 rather than its
// float residue, so that "no spread" is exact.
QAGENT_HD float moisture_damping(float moisture, float moisture_of_extinction) {
    if (!(moisture_of_extinction > 0.0f)) return 0.0f;
    float r = moisture / moisture_of_extinction;
    if (r >= 1.0f) return 0.0f;
    return 1.0f - 2.59f * r + 5.11f * r * r - 3.52f * r * r * r;
}

// Dynamic herbaceous load transfer (Scott & Burgan 2005, p. 10): the herbaceous load is
// fully cured (dead) at live herbaceous moisture <= 30 %, fully green at >= 120 %, linear in
// between. The cured part becomes a dead class with the 1-h moisture and the herbaceous
// surface-area-to-volume ratio.
QAGENT_HD float herbaceous_fraction_green(float live_herbaceous_moisture) {
    return clampf((live_herbaceous_moisture - 0.30f) / 0.90f, 0.0f, 1.0f);
}

QAGENT_HD SurfaceFireBase rothermel_no_wind_no_slope(const FuelModelSpec& fm, const FuelMoisture& m) {
    float load_lb_per_ft2[kNumSizeClasses];
    float sav_per_ft[kNumSizeClasses];
    float moisture[kNumSizeClasses];
    float green = fm.dynamic ? herbaceous_fraction_green(m.live_herbaceous) : 1.0f;
    load_lb_per_ft2[0] = fm.load_dead_1hr_lb_per_ft2;
    load_lb_per_ft2[1] = fm.load_dead_10hr_lb_per_ft2;
    load_lb_per_ft2[2] = fm.load_dead_100hr_lb_per_ft2;
    load_lb_per_ft2[3] = fm.load_live_herbaceous_lb_per_ft2 * (1.0f - green);
    load_lb_per_ft2[4] = fm.load_live_herbaceous_lb_per_ft2 * green;
    load_lb_per_ft2[5] = fm.load_live_woody_lb_per_ft2;
    sav_per_ft[0] = fm.sav_dead_1hr_per_ft;
    sav_per_ft[1] = kSavDead10hrPerFt;
    sav_per_ft[2] = kSavDead100hrPerFt;
    sav_per_ft[3] = fm.sav_live_herbaceous_per_ft;
    sav_per_ft[4] = fm.sav_live_herbaceous_per_ft;
    sav_per_ft[5] = fm.sav_live_woody_per_ft;
    moisture[0] = m.dead_1hr;
    moisture[1] = m.dead_10hr;
    moisture[2] = m.dead_100hr;
    moisture[3] = m.dead_1hr;
    moisture[4] = m.live_herbaceous;
    moisture[5] = m.live_woody;

    // Weighting factors by surface area, R72 (53)-(57): A_ij = sigma_ij w_ij / rho_p,
    // f_ij = A_ij / A_i, f_i = A_i / A_T.
    float area[kNumSizeClasses];
    float area_category[2] = {0.0f, 0.0f};
    for (int j = 0; j < kNumSizeClasses; ++j) {
        area[j] = sav_per_ft[j] * load_lb_per_ft2[j] / kParticleDensityLbPerFt3;
        area_category[j < kFirstLiveClass ? 0 : 1] += area[j];
    }
    float area_total = area_category[0] + area_category[1];
    float f_ij[kNumSizeClasses];
    for (int j = 0; j < kNumSizeClasses; ++j) {
        float a_i = area_category[j < kFirstLiveClass ? 0 : 1];
        f_ij[j] = a_i > 0.0f ? area[j] / a_i : 0.0f;
    }
    float f_i[2] = {area_total > 0.0f ? area_category[0] / area_total : 0.0f,
                    area_total > 0.0f ? area_category[1] / area_total : 0.0f};

    // Net-load weights g_ij: the summed f of the classes in the same category and the same
    // Albini size bin (A18 eq. 59 and Table 9).
    float g_ij[kNumSizeClasses];
    for (int j = 0; j < kNumSizeClasses; ++j) {
        int bin = firemod_size_bin(sav_per_ft[j]);
        bool dead = j < kFirstLiveClass;
        float g = 0.0f;
        for (int k = 0; k < kNumSizeClasses; ++k) {
            if ((k < kFirstLiveClass) == dead && firemod_size_bin(sav_per_ft[k]) == bin) g += f_ij[k];
        }
        g_ij[j] = g;
    }

    // Live fuel moisture of extinction, R72 (88) as revised by Albini (1976):
    // M_x,live = 2.9 W' (1 - M_f,dead / M_x,dead) - 0.226, at least M_x,dead, where
    // W' = sum_dead w exp(-138/sigma) / sum_live w exp(-500/sigma) and M_f,dead is the fine
    // dead moisture weighted the same way.
    float dead_fine_load = 0.0f, dead_fine_water = 0.0f, live_fine_load = 0.0f;
    for (int j = 0; j < kNumSizeClasses; ++j) {
        if (!(sav_per_ft[j] > 0.0f)) continue;
        if (j < kFirstLiveClass) {
            float wf = load_lb_per_ft2[j] * expf(-138.0f / sav_per_ft[j]);
            dead_fine_load += wf;
            dead_fine_water += wf * moisture[j];
        } else {
            live_fine_load += load_lb_per_ft2[j] * expf(-500.0f / sav_per_ft[j]);
        }
    }
    float mx_dead = fm.moisture_of_extinction_dead;
    float mx_live = mx_dead;
    if (dead_fine_load > 0.0f && live_fine_load > 0.0f) {
        float dead_fine_moisture = dead_fine_water / dead_fine_load;
        float dead_to_live = dead_fine_load / live_fine_load;
        mx_live = fmaxf(mx_dead, 2.9f * dead_to_live * (1.0f - dead_fine_moisture / mx_dead) - 0.226f);
    }

    // Characteristic surface-area-to-volume ratio, R72 (71)-(72).
    float sigma = 0.0f;
    for (int j = 0; j < kNumSizeClasses; ++j) sigma += f_i[j < kFirstLiveClass ? 0 : 1] * f_ij[j] * sav_per_ft[j];

    // Packing ratio beta = rho_b / rho_p, R72 (31), (74); optimum, Albini (1976): 3.348 sigma^-0.8189.
    float total_load = 0.0f;
    for (int j = 0; j < kNumSizeClasses; ++j) total_load += load_lb_per_ft2[j];
    float depth_ft = fm.fuel_bed_depth_ft;
    float bulk_density_lb_per_ft3 = depth_ft > 0.0f ? total_load / depth_ft : 0.0f;
    float beta = bulk_density_lb_per_ft3 / kParticleDensityLbPerFt3;
    float beta_op = sigma > 0.0f ? 3.348f * powf(sigma, -0.8189f) : 1.0f;
    float beta_relative = beta / beta_op;

    // Optimum reaction velocity (1/min), R72 (36)-(38) with Albini's (1976) A = 133 sigma^-0.7913.
    float sigma_15 = sigma * sqrtf(sigma);
    float gamma_max = sigma_15 / (495.0f + 0.0594f * sigma_15);
    float a_exp = sigma > 0.0f ? 133.0f * powf(sigma, -0.7913f) : 0.0f;
    float gamma = gamma_max * powf(beta_relative, a_exp) * expf(a_exp * (1.0f - beta_relative));

    // Reaction intensity (Btu/ft^2/min), R72 (27): I_R = Gamma' sum_i W_n,i h_i eta_M,i eta_S,i,
    // with net loads W_n,i = sum_j g_ij w_ij (1 - S_T) (A18 eq. 60), mineral damping
    // eta_S = 0.174 S_e^-0.19 (R72 (30)) and moisture damping per category from the
    // f_ij-weighted moistures and extinction moistures.
    float reaction_intensity = 0.0f;
    for (int cat = 0; cat < 2; ++cat) {
        int j0 = cat == 0 ? 0 : kFirstLiveClass;
        int j1 = cat == 0 ? kFirstLiveClass : kNumSizeClasses;
        float net_load = 0.0f, heat = 0.0f, m_f = 0.0f, m_x = 0.0f, s_e = 0.0f;
        for (int j = j0; j < j1; ++j) {
            net_load += g_ij[j] * load_lb_per_ft2[j] * (1.0f - kTotalMineralContent);
            heat += f_ij[j] * fm.heat_content_btu_per_lb;
            m_f += f_ij[j] * moisture[j];
            m_x += f_ij[j] * (cat == 0 ? mx_dead : mx_live);
            s_e += f_ij[j] * kEffectiveMineralContent;
        }
        float eta_s = s_e > 0.0f ? 0.174f * powf(s_e, -0.19f) : 1.0f;
        float eta_m = moisture_damping(m_f, m_x);
        reaction_intensity += net_load * heat * eta_m * eta_s;
    }
    reaction_intensity *= gamma;

    // Propagating flux ratio, R72 (42).
    float xi = expf((0.792f + 0.681f * sqrtf(sigma)) * (beta + 0.1f)) / (192.0f + 0.2595f * sigma);

    // Heat sink (Btu/ft^3), R72 (77): rho_b sum_i f_i sum_j f_ij exp(-138/sigma_ij) Q_ig,ij.
    float heat_sink = 0.0f;
    for (int j = 0; j < kNumSizeClasses; ++j) {
        if (!(sav_per_ft[j] > 0.0f) || !(f_ij[j] > 0.0f)) continue;
        float epsilon = expf(-138.0f / sav_per_ft[j]);
        heat_sink += f_i[j < kFirstLiveClass ? 0 : 1] * f_ij[j] * epsilon * heat_of_preignition_btu_per_lb(moisture[j]);
    }
    heat_sink *= bulk_density_lb_per_ft3;

    SurfaceFireBase out;
    // Rate of spread with no wind and no slope, R72 (52): R0 = I_R xi / heat sink.
    out.spread_rate_ft_per_min = heat_sink > 0.0f ? reaction_intensity * xi / heat_sink : 0.0f;
    out.reaction_intensity_btu_per_ft2_min = reaction_intensity;
    // Byram's fireline intensity from the flame depth R t_r, residence time t_r = 384/sigma
    // min (Anderson 1969): I = I_R R t_r / 60 (Btu/ft/s), A18 eq. 71.
    float residence_time_min = sigma > 0.0f ? 384.0f / sigma : 0.0f;
    out.fireline_intensity_btu_per_ft_s = reaction_intensity * out.spread_rate_ft_per_min * residence_time_min / 60.0f;
    // Wind factor phi_W = C U^B (beta/beta_op)^-E, U in ft/min, R72 (47)-(50).
    out.wind_factor_C = 7.47f * expf(-0.133f * powf(sigma, 0.55f));
    out.wind_factor_B = 0.02526f * powf(sigma, 0.54f);
    float wind_factor_E = 0.715f * expf(-3.59e-4f * sigma);
    out.packing_ratio_relative_pow_E = powf(beta_relative, wind_factor_E);
    // Slope factor phi_S = 5.275 beta^-0.3 tan^2(slope), R72 (51).
    out.slope_factor_coefficient = beta > 0.0f ? 5.275f * powf(beta, -0.3f) : 0.0f;
    // Wind limit U_max = 0.9 I_R (ft/min), R72 (86).
    out.max_effective_wind_ft_per_min = 0.9f * reaction_intensity;
    return out;
}

QAGENT_HD float wind_factor(const SurfaceFireBase& base, float wind_ft_per_min) {
    if (!(base.packing_ratio_relative_pow_E > 0.0f) || !(wind_ft_per_min > 0.0f)) return 0.0f;
    return base.wind_factor_C * powf(wind_ft_per_min, base.wind_factor_B) / base.packing_ratio_relative_pow_E;
}

// The wind speed (ft/min) that alone would produce the factor phi: inverse of wind_factor
// (the "effective wind speed", R72 (87)).
QAGENT_HD float effective_wind_ft_per_min(const SurfaceFireBase& base, float phi) {
    if (!(phi > 0.0f) || !(base.wind_factor_B > 0.0f) || !(base.wind_factor_C > 0.0f)) return 0.0f;
    return powf(phi * base.packing_ratio_relative_pow_E / base.wind_factor_C, 1.0f / base.wind_factor_B);
}

// Wind adjustment factor from the 20-ft wind to the midflame wind (Albini & Baughman 1979;
// Andrews 2012, RMRS-GTR-266, eqs. 6 and 9). Fuel is sheltered by the canopy when the crown
// fill portion f = canopy_cover / 3 (crown ratio taken as 1) is at least 0.05 and the canopy
// is at least 6 ft tall:
//   sheltered:   WAF = 0.555 / (sqrt(f H) ln((20 + 0.36 H) / (0.13 H))), H canopy height (ft)
//   unsheltered: WAF = 1.83 / ln((20 + 0.36 d) / (0.13 d)),               d fuel bed depth (ft)
QAGENT_HD float wind_adjustment_factor(float fuel_bed_depth_ft, float canopy_height_ft, float canopy_cover_fraction) {
    float crown_fill = canopy_cover_fraction / 3.0f;
    if (crown_fill >= 0.05f && canopy_height_ft >= 6.0f) {
        return 0.555f / (sqrtf(crown_fill * canopy_height_ft) *
                         logf((20.0f + 0.36f * canopy_height_ft) / (0.13f * canopy_height_ft)));
    }
    if (fuel_bed_depth_ft > 0.0f) {
        return 1.83f / logf((20.0f + 0.36f * fuel_bed_depth_ft) / (0.13f * fuel_bed_depth_ft));
    }
    return 0.0f;
}

// Length-to-breadth ratio of the surface fire ellipse from the effective wind speed (mi/h).
enum LengthToBreadthModel : int { kLwBehave = 0, kLwRothermel = 1 };

QAGENT_HD float surface_length_to_breadth(float effective_wind_mph, int model) {
    if (model == kLwRothermel) {
        // Rothermel (1991, RP INT-438, eq. 9 form, for surface fire): 1 + 0.25 U.
        return 1.0f + 0.25f * effective_wind_mph;
    }
    // BehavePlus (Andrews 2018, eq. 79; Anderson 1983): 0.936 e^(0.1147 U) + 0.461 e^(-0.0692 U) - 0.397, at most 8.
    return fminf(8.0f, 0.936f * expf(0.1147f * effective_wind_mph) + 0.461f * expf(-0.0692f * effective_wind_mph) - 0.397f);
}

// Eccentricity of an ellipse of length-to-breadth ratio L/W (Albini & Chase 1980, eq. 8).
QAGENT_HD float ellipse_eccentricity(float length_to_breadth) {
    float lb = fmaxf(1.0f, length_to_breadth);
    return sqrtf(lb * lb - 1.0f) / lb;
}

// Spread rate of a fire front whose outward normal makes angle w with the head direction,
// as a fraction of the head rate, for an elliptical fire with its ignition at the rear
// focus: the support function of that ellipse,
//   R(w)/R_head = (e cos w + sqrt(1 - e^2 sin^2 w)) / (1 + e).
QAGENT_HD float front_normal_rate_fraction(float eccentricity, float cos_w) {
    float e = eccentricity;
    float sin2 = fmaxf(0.0f, 1.0f - cos_w * cos_w);
    return (e * cos_w + sqrtf(fmaxf(0.0f, 1.0f - e * e * sin2))) / (1.0f + e);
}

// Byram's (1959) flame length (m) from fireline intensity (kW/m): L = 0.0775 I^0.46
// (0.45 I^0.46 in ft and Btu/ft/s).
QAGENT_HD float byram_flame_length_m(float fireline_intensity_kw_per_m) {
    return fireline_intensity_kw_per_m > 0.0f ? 0.0775f * powf(fireline_intensity_kw_per_m, 0.46f) : 0.0f;
}

}  // namespace qagent
