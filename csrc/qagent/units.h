// Unit conversions, each named after what it converts. Rothermel's (1972) surface fire model
// is fitted in US customary units (ft, lb, Btu, min); the public API is SI. Conversions
// happen at the edges of the model, never inside an equation.
#pragma once

#include "common.h"

namespace qagent {
namespace units {

constexpr float kFtPerM = 3.280839895f;          // 1 m = 3.2808 ft (1 ft = 0.3048 m exactly)
constexpr float kMPerFt = 0.3048f;
constexpr float kKmPerHourToMPerMin = 1000.0f / 60.0f;
constexpr float kFtPerMinPerMph = 88.0f;         // 1 mi/h = 5280 ft / 60 min
constexpr float kKwPerMPerBtuPerFtPerS = 3.461469f;  // 1 Btu/ft/s = 1.055056 kJ/s / 0.3048 m
constexpr float kKjPerKgPerBtuPerLb = 2.326f;    // 1 Btu/lb = 2.326 kJ/kg (exact, IT Btu)
constexpr float kMphPerKmPerHour = 0.621371192f;

// The 20-ft (6.1 m) wind used by Rothermel-family models from the 10-m wind of weather
// models: U_20ft = U_10m / 1.15 (Turner & Lawson 1978; Lawson & Armitage 2008; used by
// FARSITE and FlamMap).
constexpr float kWind10mTo20ftDivisor = 1.15f;

QAGENT_HD float m_to_ft(float m) { return m * kFtPerM; }
QAGENT_HD float ft_to_m(float ft) { return ft * kMPerFt; }
QAGENT_HD float km_per_h_to_m_per_min(float km_per_h) { return km_per_h * kKmPerHourToMPerMin; }
QAGENT_HD float m_per_min_to_ft_per_min(float m_per_min) { return m_per_min * kFtPerM; }
QAGENT_HD float ft_per_min_to_m_per_min(float ft_per_min) { return ft_per_min * kMPerFt; }
QAGENT_HD float ft_per_min_to_mph(float ft_per_min) { return ft_per_min / kFtPerMinPerMph; }
QAGENT_HD float km_per_h_to_mph(float km_per_h) { return km_per_h * kMphPerKmPerHour; }
QAGENT_HD float btu_per_ft_s_to_kw_per_m(float btu_per_ft_s) { return btu_per_ft_s * kKwPerMPerBtuPerFtPerS; }
QAGENT_HD float btu_per_lb_to_kj_per_kg(float btu_per_lb) { return btu_per_lb * kKjPerKgPerBtuPerLb; }
QAGENT_HD float wind_10m_to_20ft(float wind_10m) { return wind_10m / kWind10mTo20ftDivisor; }

}  // namespace units
}  // namespace qagent
