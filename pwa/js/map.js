// The park map: Leaflet (served by the app, loaded only when a map is shown), park boundaries
// and site points. No tile layer unless one is configured: the shapes draw on a plain background.
import { h } from "./dom.js";
import { t } from "./i18n.js";

// <meta name="fieldcheck-tiles" content="https://host/{z}/{x}/{y}.png"> in index.html turns tiles on
// (the Content-Security-Policy's img-src must then allow that host).
const tilesMeta = document.querySelector('meta[name="fieldcheck-tiles"]');
const TILES = tilesMeta ? tilesMeta.content : null;
const TILES_ATTRIBUTION = (document.querySelector('meta[name="fieldcheck-tiles-attribution"]') || {}).content || "";

export const RISK_COLOURS = { low: "#1565c0", medium: "#f9a825", high: "#e65100", very_high: "#b71c1c" };

let loading = null;

function add(tag, attrs) {
  return new Promise((resolve, reject) => {
    const el = Object.assign(document.createElement(tag), attrs);
    el.onload = resolve;
    el.onerror = () => reject(new Error(`${attrs.src || attrs.href} did not load`));
    document.head.append(el);
  });
}

// Leaflet's script and stylesheet, once; the desk's finding map uses it too.
export function loadLeaflet() {
  if (!loading) {
    loading = Promise.all([
      add("link", { rel: "stylesheet", href: "/vendor/leaflet/leaflet.css" }),
      add("script", { src: "/vendor/leaflet/leaflet.js" }),
    ]).then(() => window.L, (err) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}

function popup(site) {
  return h("div", { class: "map-popup" },
    h("strong", { text: site.name }),
    h("div", { text: [t(`risk.${site.risk}`), site.key ? t("home.key") : null].filter(Boolean).join(" · ") }));
}

// Draws into el; answers { focus(id), destroy() }. parks: GeoJSON; sites: [{ id, name, lon, lat, risk, key }].
export async function drawMap(el, parks, sites) {
  const L = await loadLeaflet();
  const map = L.map(el, { attributionControl: Boolean(TILES), zoomControl: false, zoomSnap: 0.25 });
  L.control.zoom({ zoomInTitle: t("map.zoom.in"), zoomOutTitle: t("map.zoom.out") }).addTo(map);
  // Leaflet names its popup's close button in English; say it in the app's language.
  map.on("popupopen", (e) => {
    const close = e.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) close.setAttribute("aria-label", t("map.popup.close"));
  });
  if (TILES) L.tileLayer(TILES, { attribution: TILES_ATTRIBUTION, maxZoom: 19 }).addTo(map);
  const parkLayer = L.geoJSON(parks, {
    style: { color: "#0b3d91", weight: 2, fillColor: "#0b3d91", fillOpacity: 0.08 },
    interactive: false,
  }).addTo(map);
  const markers = new Map();
  const siteLayer = L.featureGroup().addTo(map);
  for (const site of sites) {
    const marker = L.circleMarker([site.lat, site.lon], {
      radius: site.key ? 10 : 8, color: "#111", weight: site.key ? 3 : 1.5,
      fillColor: RISK_COLOURS[site.risk] || "#555", fillOpacity: 0.95,
    }).bindPopup(() => popup(site));
    marker.addTo(siteLayer);
    markers.set(site.id, marker);
  }
  const bounds = parkLayer.getBounds();
  if (siteLayer.getLayers().length) bounds.extend(siteLayer.getBounds());
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12] });
  else map.setView([0, 0], 1);
  return {
    // animate: false where the map may be taken down at once (a screen left right after it drew).
    focus(id, { animate = true } = {}) {
      const marker = markers.get(id);
      if (!marker) return;
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), 15), { animate });
      marker.openPopup();
    },
    destroy() {
      map.remove();
    },
  };
}
