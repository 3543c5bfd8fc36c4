// Shared definitions for code that compiles both for the host (C++) and the device (CUDA).
//
// Every physics function in csrc/qagent/ is marked QAGENT_HD so the CPU loops in csrc/cpu/
// and the CUDA kernels in csrc/cuda/ call the very same code. Physics runs in float32.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define QAGENT_HD __host__ __device__ inline
#define QAGENT_HD_HOT __host__ __device__ __forceinline__
#else
#define QAGENT_HD inline
// Small functions on the spread kernels' innermost paths: always inlined.
#define QAGENT_HD_HOT inline __attribute__((always_inline))
#endif

namespace qagent {

constexpr float kPi = 3.14159265358979323846f;
constexpr float kInf = INFINITY;

QAGENT_HD float deg_to_rad(float degrees) { return degrees * (kPi / 180.0f); }
QAGENT_HD float rad_to_deg(float radians) { return radians * (180.0f / kPi); }
QAGENT_HD float clampf(float x, float lo, float hi) { return fminf(fmaxf(x, lo), hi); }
QAGENT_HD int imin(int a, int b) { return a < b ? a : b; }
QAGENT_HD int imax(int a, int b) { return a > b ? a : b; }

// A vector in a local east-north-up frame: x east, y north, z up (all horizontal grids in
// this project are stored north-up: row 0 is the north edge, rows grow southward).
struct Vec3 {
    float x, y, z;
};

QAGENT_HD Vec3 vec3(float x, float y, float z) { return Vec3{x, y, z}; }
QAGENT_HD float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
QAGENT_HD float norm(Vec3 a) { return sqrtf(dot(a, a)); }
QAGENT_HD Vec3 scale(float s, Vec3 a) { return Vec3{s * a.x, s * a.y, s * a.z}; }
QAGENT_HD Vec3 add(Vec3 a, Vec3 b) { return Vec3{a.x + b.x, a.y + b.y, a.z + b.z}; }
QAGENT_HD Vec3 unit_or_zero(Vec3 a) {
    float n = norm(a);
    return n > 0.0f ? scale(1.0f / n, a) : a;
}

// Horizontal unit vector toward an azimuth (degrees clockwise from north).
QAGENT_HD void azimuth_to_xy(float azimuth_deg, float* x_east, float* y_north) {
    float a = deg_to_rad(azimuth_deg);
    *x_east = sinf(a);
    *y_north = cosf(a);
}

// Azimuth (degrees clockwise from north, in [0, 360)) of the horizontal part of a vector.
QAGENT_HD float xy_to_azimuth_deg(float x_east, float y_north) {
    float az = rad_to_deg(atan2f(x_east, y_north));
    return az < 0.0f ? az + 360.0f : (az >= 360.0f ? az - 360.0f : az);
}

// Elevation gradient (dz/dx east, dz/dy north; rise/run) of a planar cell from its slope
// (rise/run) and aspect (the downslope azimuth, degrees clockwise from north). The gradient
// points upslope, opposite the aspect.
QAGENT_HD void elevation_gradient(float slope_rise_run, float aspect_deg, float* dz_dx, float* dz_dy) {
    float ux, uy;
    azimuth_to_xy(aspect_deg + 180.0f, &ux, &uy);
    *dz_dx = slope_rise_run * ux;
    *dz_dy = slope_rise_run * uy;
}

// Lift a horizontal vector onto the plane of a cell with the given elevation gradient: the
// z component is the rise along the vector.
QAGENT_HD Vec3 to_slope_plane(float x_east, float y_north, float dz_dx, float dz_dy) {
    return Vec3{x_east, y_north, x_east * dz_dx + y_north * dz_dy};
}

}  // namespace qagent
