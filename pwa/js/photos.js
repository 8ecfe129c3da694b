// Photos on the phone: shrunk through a canvas to the advertised long edge and JPEG quality,
// hashed (SHA-256, Web Crypto) over the exact bytes that will be uploaded, and kept as a Blob
// in IndexedDB with the visit until the server has them (js/sync-core.js sends them).
//
// Re-encoding drops the camera's EXIF (GPS included): the fix comes from the Geolocation API
// and travels as the upload's metadata instead (DESIGN.md, "Pitfalls").

export class PhotoError extends Error {
  constructor(reason) {
    super(reason);
    this.reason = reason; // "undecodable" | "too_large": the screens say it in words
  }
}

const DEFAULTS = { photo_long_edge_px: 2048, photo_jpeg_quality: 0.85, photo_max_bytes: 8 * 1024 * 1024 };
// What the server takes as it is when the browser cannot decode it (an iPhone's HEIC in Chromium).
const KEPT_AS_IS = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];

export async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// A Blob of exactly these bytes, with its hash: what is stored is what was hashed.
async function sealed(blob, type) {
  const buffer = await blob.arrayBuffer();
  return { blob: new Blob([buffer], { type }), type, size: buffer.byteLength, sha256: await sha256Hex(buffer) };
}

function canvasBlob(canvas, type, quality) {
  if (canvas.convertToBlob) return canvas.convertToBlob({ type, quality });
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new PhotoError("undecodable"))), type, quality));
}

function surface(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

// A camera file in, { blob, type, size, sha256, width, height } out. limits: today's `limits`.
export async function preparePhoto(file, limits = {}) {
  const { photo_long_edge_px: longEdge, photo_jpeg_quality: quality, photo_max_bytes: maxBytes } = { ...DEFAULTS, ...limits };
  let bitmap;
  try {
    // Upright as the camera meant it (EXIF orientation), before the EXIF is dropped.
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    if (KEPT_AS_IS.includes(file.type) && file.size <= maxBytes) {
      return { ...(await sealed(file, file.type)), width: null, height: null };
    }
    throw new PhotoError(file.size > maxBytes ? "too_large" : "undecodable");
  }
  const scale = Math.min(1, longEdge / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = surface(width, height);
  const g = canvas.getContext("2d");
  g.imageSmoothingQuality = "high";
  g.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  // Lower the quality step by step rather than refuse a photo a busy scene made heavy.
  for (const q of [quality, 0.7, 0.55, 0.4]) {
    if (q > quality) continue;
    const blob = await canvasBlob(canvas, "image/jpeg", q);
    if (blob.size <= maxBytes) return { ...(await sealed(blob, "image/jpeg")), width, height };
  }
  throw new PhotoError("too_large");
}

// The party's signature drawn on a canvas, as a PNG (sharp lines, small file).
export async function prepareSignature(canvas) {
  const blob = await canvasBlob(canvas, "image/png");
  return { ...(await sealed(blob, "image/png")), width: canvas.width, height: canvas.height };
}
