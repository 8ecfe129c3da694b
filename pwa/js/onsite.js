// On-site proof on the phone: the distance from the fix to the site's point and the verdict,
// by the same rules as the server (server/domain/geofence.py), so that what the inspector sees
// at the gate is what the supervisor sees later. The server's verdict is the one stored.

// WGS 84
const A = 6378137.0;
const F = 1 / 298.257223563;
const B = A * (1 - F);
const MEAN_RADIUS = 6371008.8;
const rad = (deg) => (deg * Math.PI) / 180;

function haversineM(lon1, lat1, lon2, lat2) {
  const p1 = rad(lat1);
  const p2 = rad(lat2);
  const h = Math.sin((p2 - p1) / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(rad(lon2 - lon1) / 2) ** 2;
  return 2 * MEAN_RADIUS * Math.asin(Math.min(1, Math.sqrt(h)));
}

// Distance on the WGS 84 ellipsoid (Vincenty's inverse formula, as server/domain/geo.py).
export function geodesicM(lon1, lat1, lon2, lat2) {
  if (lon1 === lon2 && lat1 === lat2) return 0;
  const L = rad(lon2 - lon1);
  const U1 = Math.atan((1 - F) * Math.tan(rad(lat1)));
  const U2 = Math.atan((1 - F) * Math.tan(rad(lat2)));
  const sinU1 = Math.sin(U1);
  const cosU1 = Math.cos(U1);
  const sinU2 = Math.sin(U2);
  const cosU2 = Math.cos(U2);
  let lam = L;
  let sinSigma; let cosSigma; let sigma; let cos2Alpha; let cos2sm;
  let converged = false;
  for (let i = 0; i < 200; i += 1) {
    const sinLam = Math.sin(lam);
    const cosLam = Math.cos(lam);
    sinSigma = Math.hypot(cosU2 * sinLam, cosU1 * sinU2 - sinU1 * cosU2 * cosLam);
    if (sinSigma === 0) return 0;
    cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosLam;
    sigma = Math.atan2(sinSigma, cosSigma);
    const sinAlpha = (cosU1 * cosU2 * sinLam) / sinSigma;
    cos2Alpha = 1 - sinAlpha ** 2;
    cos2sm = cos2Alpha ? cosSigma - (2 * sinU1 * sinU2) / cos2Alpha : 0;
    const C = (F / 16) * cos2Alpha * (4 + F * (4 - 3 * cos2Alpha));
    const prev = lam;
    lam = L + (1 - C) * F * sinAlpha * (sigma + C * sinSigma * (cos2sm + C * cosSigma * (-1 + 2 * cos2sm ** 2)));
    if (Math.abs(lam - prev) < 1e-12) {
      converged = true;
      break;
    }
  }
  if (!converged) return haversineM(lon1, lat1, lon2, lat2);
  const u2 = (cos2Alpha * (A ** 2 - B ** 2)) / B ** 2;
  const bigA = 1 + (u2 / 16384) * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
  const bigB = (u2 / 1024) * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
  const dSigma = bigB * sinSigma * (cos2sm + (bigB / 4) * (cosSigma * (-1 + 2 * cos2sm ** 2)
    - (bigB / 6) * cos2sm * (-3 + 4 * sinSigma ** 2) * (-3 + 4 * cos2sm ** 2)));
  return B * bigA * (sigma - dSigma);
}

// no_fix, poor_fix, on_site, near, off_site: tried in that order, each boundary belonging to
// the better verdict. nearFactor comes with the radius in /api/me/today.
export function verdict(distanceM, accuracyM, radiusM, accuracyThresholdM, nearFactor = 2) {
  if (distanceM === null || distanceM === undefined) return "no_fix";
  if (accuracyM === null || accuracyM === undefined || !Number.isFinite(accuracyM) || accuracyM > accuracyThresholdM) {
    return "poor_fix";
  }
  if (distanceM <= radiusM) return "on_site";
  if (distanceM <= nearFactor * radiusM) return "near";
  return "off_site";
}

// Python's round(x, 1): halves to even, as the server rounds the stored distance.
function roundTenth(x) {
  const scaled = x * 10;
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  let n;
  if (diff > 0.5) n = floor + 1;
  else if (diff < 0.5) n = floor;
  else n = floor % 2 === 0 ? floor : floor + 1;
  return n / 10;
}

// fix: { lon, lat, accuracy_m } or null; site: { lon, lat }; geofence: today's
// { radius_m, accuracy_threshold_m, near_factor }.
export function prove(fix, site, geofence) {
  const { radius_m: radius, accuracy_threshold_m: threshold, near_factor: nearFactor = 2 } = geofence;
  if (!fix) return { verdict: "no_fix", distance_m: null, accuracy_m: null };
  const distance = roundTenth(geodesicM(fix.lon, fix.lat, site.lon, site.lat));
  return { verdict: verdict(distance, fix.accuracy_m, radius, threshold, nearFactor), distance_m: distance,
    accuracy_m: fix.accuracy_m };
}
