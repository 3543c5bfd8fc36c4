// Standard fire behavior fuel models.
//
// Sources:
// - Anderson, H.E. 1982. Aids to determining fuel models for estimating fire behavior.
//   USDA For. Serv. GTR INT-122. (The 13 "original" models, codes 1-13.)
// - Scott, J.H.; Burgan, R.E. 2005. Standard fire behavior fuel models: a comprehensive set
//   for use with Rothermel's surface fire spread model. USDA For. Serv. RMRS-GTR-153, Table 7.
//   (The 40 models, codes 101-204; non-burnable codes 91-99.)
// - Andrews, P.L. 2018. The Rothermel surface fire spread model and associated developments:
//   a comprehensive explanation. USDA For. Serv. RMRS-GTR-371. (Units and the placement of
//   Anderson's live loads in the woody class for models 4, 5, 7 and 10, as BehavePlus does.)
//
// Loads are in lb/ft^2 (the publications' t/ac x 0.0459137, rounded to 4 decimals as in the
// BehavePlus tables), surface-area-to-volume ratios in 1/ft, fuel bed depth in ft, dead
// moisture of extinction as a fraction, heat content in Btu/lb. The 10-h and 100-h dead
// classes have the standard ratios 109 and 30 1/ft.
#pragma once

#include "common.h"

namespace qagent {

struct FuelModelSpec {
    int code;
    float fuel_bed_depth_ft;
    float moisture_of_extinction_dead;  // fraction
    float heat_content_btu_per_lb;      // dead and live
    float load_dead_1hr_lb_per_ft2;
    float load_dead_10hr_lb_per_ft2;
    float load_dead_100hr_lb_per_ft2;
    float load_live_herbaceous_lb_per_ft2;
    float load_live_woody_lb_per_ft2;
    float sav_dead_1hr_per_ft;
    float sav_live_herbaceous_per_ft;
    float sav_live_woody_per_ft;
    bool burnable;
    bool dynamic;  // herbaceous load transfers to dead with curing (Scott & Burgan 2005, p. 10)
};

constexpr float kSavDead10hrPerFt = 109.0f;
constexpr float kSavDead100hrPerFt = 30.0f;

// Non-burnable codes (Scott & Burgan 2005, Table 5): NB1 urban 91, NB2 snow/ice 92,
// NB3 agriculture 93, NB8 open water 98, NB9 bare ground 99; 94-97 are reserved and are
// treated as non-burnable too.
QAGENT_HD bool is_nonburnable_code(int code) { return code >= 91 && code <= 99; }

// Looks a fuel model up by its code. Returns false for an unknown code (out is then a
// non-burnable placeholder). A switch, not a table in memory, so that host and device code
// share it without copying data around.
QAGENT_HD bool lookup_fuel_model(int code, FuelModelSpec* out) {
    // depth, Mx_dead, h, w_1h, w_10h, w_100h, w_herb, w_woody, sav_1h, sav_herb, sav_woody, dynamic
#define QAGENT_FM(CODE, DEPTH, MX, H, W1, W10, W100, WH, WW, S1, SH, SW, DYN) \
    case CODE:                                                               \
        *out = FuelModelSpec{CODE, DEPTH, MX, H, W1, W10, W100, WH, WW, S1, SH, SW, true, DYN}; \
        return true;
    switch (code) {
        // Anderson (1982) 13: grass
        QAGENT_FM(1, 1.0f, 0.12f, 8000.0f, 0.0340f, 0.0000f, 0.0000f, 0.0000f, 0.0000f, 3500.0f, 0.0f, 0.0f, false)
        QAGENT_FM(2, 1.0f, 0.15f, 8000.0f, 0.0920f, 0.0460f, 0.0230f, 0.0230f, 0.0000f, 3000.0f, 1500.0f, 0.0f, false)
        QAGENT_FM(3, 2.5f, 0.25f, 8000.0f, 0.1380f, 0.0000f, 0.0000f, 0.0000f, 0.0000f, 1500.0f, 0.0f, 0.0f, false)
        // shrub (live loads are woody, as in BehavePlus)
        QAGENT_FM(4, 6.0f, 0.20f, 8000.0f, 0.2300f, 0.1840f, 0.0920f, 0.0000f, 0.2300f, 2000.0f, 0.0f, 1500.0f, false)
        QAGENT_FM(5, 2.0f, 0.20f, 8000.0f, 0.0460f, 0.0230f, 0.0000f, 0.0000f, 0.0920f, 2000.0f, 0.0f, 1500.0f, false)
        QAGENT_FM(6, 2.5f, 0.25f, 8000.0f, 0.0690f, 0.1150f, 0.0920f, 0.0000f, 0.0000f, 1750.0f, 0.0f, 0.0f, false)
        QAGENT_FM(7, 2.5f, 0.40f, 8000.0f, 0.0520f, 0.0860f, 0.0690f, 0.0000f, 0.0170f, 1750.0f, 0.0f, 1550.0f, false)
        // timber litter
        QAGENT_FM(8, 0.2f, 0.30f, 8000.0f, 0.0690f, 0.0460f, 0.1150f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(9, 0.2f, 0.25f, 8000.0f, 0.1340f, 0.0190f, 0.0070f, 0.0000f, 0.0000f, 2500.0f, 0.0f, 0.0f, false)
        QAGENT_FM(10, 1.0f, 0.25f, 8000.0f, 0.1380f, 0.0920f, 0.2300f, 0.0000f, 0.0920f, 2000.0f, 0.0f, 1500.0f, false)
        // slash
        QAGENT_FM(11, 1.0f, 0.15f, 8000.0f, 0.0690f, 0.2070f, 0.2530f, 0.0000f, 0.0000f, 1500.0f, 0.0f, 0.0f, false)
        QAGENT_FM(12, 2.3f, 0.20f, 8000.0f, 0.1840f, 0.6440f, 0.7590f, 0.0000f, 0.0000f, 1500.0f, 0.0f, 0.0f, false)
        QAGENT_FM(13, 3.0f, 0.25f, 8000.0f, 0.3220f, 1.0580f, 1.2880f, 0.0000f, 0.0000f, 1500.0f, 0.0f, 0.0f, false)
        // Scott & Burgan (2005) 40: grass (GR1-GR9), all dynamic
        QAGENT_FM(101, 0.4f, 0.15f, 8000.0f, 0.0046f, 0.0000f, 0.0000f, 0.0138f, 0.0000f, 2200.0f, 2000.0f, 0.0f, true)
        QAGENT_FM(102, 1.0f, 0.15f, 8000.0f, 0.0046f, 0.0000f, 0.0000f, 0.0459f, 0.0000f, 2000.0f, 1800.0f, 0.0f, true)
        QAGENT_FM(103, 2.0f, 0.30f, 8000.0f, 0.0046f, 0.0184f, 0.0000f, 0.0689f, 0.0000f, 1500.0f, 1300.0f, 0.0f, true)
        QAGENT_FM(104, 2.0f, 0.15f, 8000.0f, 0.0115f, 0.0000f, 0.0000f, 0.0872f, 0.0000f, 2000.0f, 1800.0f, 0.0f, true)
        QAGENT_FM(105, 1.5f, 0.40f, 8000.0f, 0.0184f, 0.0000f, 0.0000f, 0.1148f, 0.0000f, 1800.0f, 1600.0f, 0.0f, true)
        QAGENT_FM(106, 1.5f, 0.40f, 9000.0f, 0.0046f, 0.0000f, 0.0000f, 0.1561f, 0.0000f, 2200.0f, 2000.0f, 0.0f, true)
        QAGENT_FM(107, 3.0f, 0.15f, 8000.0f, 0.0459f, 0.0000f, 0.0000f, 0.2479f, 0.0000f, 2000.0f, 1800.0f, 0.0f, true)
        QAGENT_FM(108, 4.0f, 0.30f, 8000.0f, 0.0230f, 0.0459f, 0.0000f, 0.3352f, 0.0000f, 1500.0f, 1300.0f, 0.0f, true)
        QAGENT_FM(109, 5.0f, 0.40f, 8000.0f, 0.0459f, 0.0459f, 0.0000f, 0.4132f, 0.0000f, 1800.0f, 1600.0f, 0.0f, true)
        // grass-shrub (GS1-GS4), dynamic
        QAGENT_FM(121, 0.9f, 0.15f, 8000.0f, 0.0092f, 0.0000f, 0.0000f, 0.0230f, 0.0298f, 2000.0f, 1800.0f, 1800.0f, true)
        QAGENT_FM(122, 1.5f, 0.15f, 8000.0f, 0.0230f, 0.0230f, 0.0000f, 0.0275f, 0.0459f, 2000.0f, 1800.0f, 1800.0f, true)
        QAGENT_FM(123, 1.8f, 0.40f, 8000.0f, 0.0138f, 0.0115f, 0.0000f, 0.0666f, 0.0574f, 1800.0f, 1600.0f, 1600.0f, true)
        QAGENT_FM(124, 2.1f, 0.40f, 8000.0f, 0.0872f, 0.0138f, 0.0046f, 0.1561f, 0.3260f, 1800.0f, 1600.0f, 1600.0f, true)
        // shrub (SH1-SH9); dynamic where they carry herbaceous load (SH1, SH9)
        QAGENT_FM(141, 1.0f, 0.15f, 8000.0f, 0.0115f, 0.0115f, 0.0000f, 0.0069f, 0.0597f, 2000.0f, 1800.0f, 1600.0f, true)
        QAGENT_FM(142, 1.0f, 0.15f, 8000.0f, 0.0620f, 0.1102f, 0.0344f, 0.0000f, 0.1768f, 2000.0f, 0.0f, 1600.0f, false)
        QAGENT_FM(143, 2.4f, 0.40f, 8000.0f, 0.0207f, 0.1377f, 0.0000f, 0.0000f, 0.2847f, 1600.0f, 0.0f, 1400.0f, false)
        QAGENT_FM(144, 3.0f, 0.30f, 8000.0f, 0.0390f, 0.0528f, 0.0092f, 0.0000f, 0.1171f, 2000.0f, 1800.0f, 1600.0f, false)
        QAGENT_FM(145, 6.0f, 0.15f, 8000.0f, 0.1653f, 0.0964f, 0.0000f, 0.0000f, 0.1331f, 750.0f, 0.0f, 1600.0f, false)
        QAGENT_FM(146, 2.0f, 0.30f, 8000.0f, 0.1331f, 0.0666f, 0.0000f, 0.0000f, 0.0643f, 750.0f, 0.0f, 1600.0f, false)
        QAGENT_FM(147, 6.0f, 0.15f, 8000.0f, 0.1607f, 0.2433f, 0.1010f, 0.0000f, 0.1561f, 750.0f, 0.0f, 1600.0f, false)
        QAGENT_FM(148, 3.0f, 0.40f, 8000.0f, 0.0941f, 0.1561f, 0.0390f, 0.0000f, 0.1997f, 750.0f, 0.0f, 1600.0f, false)
        QAGENT_FM(149, 4.4f, 0.40f, 8000.0f, 0.2066f, 0.1125f, 0.0000f, 0.0712f, 0.3214f, 750.0f, 1800.0f, 1500.0f, true)
        // timber-understory (TU1-TU5); dynamic where they carry herbaceous load (TU1, TU3)
        QAGENT_FM(161, 0.6f, 0.20f, 8000.0f, 0.0092f, 0.0413f, 0.0689f, 0.0092f, 0.0413f, 2000.0f, 1800.0f, 1600.0f, true)
        QAGENT_FM(162, 1.0f, 0.30f, 8000.0f, 0.0436f, 0.0826f, 0.0574f, 0.0000f, 0.0092f, 2000.0f, 0.0f, 1600.0f, false)
        QAGENT_FM(163, 1.3f, 0.30f, 8000.0f, 0.0505f, 0.0069f, 0.0115f, 0.0298f, 0.0505f, 1800.0f, 1600.0f, 1400.0f, true)
        QAGENT_FM(164, 0.5f, 0.12f, 8000.0f, 0.2066f, 0.0000f, 0.0000f, 0.0000f, 0.0918f, 2300.0f, 0.0f, 2000.0f, false)
        QAGENT_FM(165, 1.0f, 0.25f, 8000.0f, 0.1837f, 0.1837f, 0.1377f, 0.0000f, 0.1377f, 1500.0f, 0.0f, 750.0f, false)
        // timber litter (TL1-TL9)
        QAGENT_FM(181, 0.2f, 0.30f, 8000.0f, 0.0459f, 0.1010f, 0.1653f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(182, 0.2f, 0.25f, 8000.0f, 0.0643f, 0.1056f, 0.1010f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(183, 0.3f, 0.20f, 8000.0f, 0.0230f, 0.1010f, 0.1286f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(184, 0.4f, 0.25f, 8000.0f, 0.0230f, 0.0689f, 0.1928f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(185, 0.6f, 0.25f, 8000.0f, 0.0528f, 0.1148f, 0.2020f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(186, 0.3f, 0.25f, 8000.0f, 0.1102f, 0.0551f, 0.0551f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(187, 0.4f, 0.25f, 8000.0f, 0.0138f, 0.0643f, 0.3719f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(188, 0.3f, 0.35f, 8000.0f, 0.2663f, 0.0643f, 0.0505f, 0.0000f, 0.0000f, 1800.0f, 0.0f, 0.0f, false)
        QAGENT_FM(189, 0.6f, 0.35f, 8000.0f, 0.3053f, 0.1515f, 0.1905f, 0.0000f, 0.0000f, 1800.0f, 0.0f, 0.0f, false)
        // slash-blowdown (SB1-SB4)
        QAGENT_FM(201, 1.0f, 0.25f, 8000.0f, 0.0689f, 0.1377f, 0.5051f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(202, 1.0f, 0.25f, 8000.0f, 0.2066f, 0.1951f, 0.1837f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(203, 1.2f, 0.25f, 8000.0f, 0.2525f, 0.1263f, 0.1377f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        QAGENT_FM(204, 2.7f, 0.25f, 8000.0f, 0.2410f, 0.1607f, 0.2410f, 0.0000f, 0.0000f, 2000.0f, 0.0f, 0.0f, false)
        default:
            break;
    }
#undef QAGENT_FM
    *out = FuelModelSpec{code, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, false, false};
    return is_nonburnable_code(code);
}

// Every code lookup_fuel_model knows, for enumeration from host code (validation, docs).
constexpr int kKnownFuelModelCodes[] = {
    1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  91,  92,  93,  94,  95,
    96,  97,  98,  99,  101, 102, 103, 104, 105, 106, 107, 108, 109, 121, 122, 123, 124, 141,
    142, 143, 144, 145, 146, 147, 148, 149, 161, 162, 163, 164, 165, 181, 182, 183, 184, 185,
    186, 187, 188, 189, 201, 202, 203, 204};
constexpr int kNumKnownFuelModelCodes = sizeof(kKnownFuelModelCodes) / sizeof(int);

}  // namespace qagent
