// Every user-visible string lives in these tables: zh-CN first, English second.
const STRINGS = {
  "zh-CN": {
    "app.title": "现场检查",
    "lang.switch": "English",
    "lang.switch.label": "切换到英文",
    "badge.offline": "离线",
    "badge.offline.title": "没有网络：显示的是手机上保存的数据",
    "login.heading": "登录",
    "login.intro": "综合执法现场检查",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.busy": "正在登录…",
    "login.missing": "请填写用户名和密码",
    "login.wrong": "用户名或密码错误，或账号已停用。请重新输入。",
    "login.throttled": "登录失败次数过多，请 {wait}后再试。",
    "login.expired": "登录已失效，请重新登录。",
    "wait.seconds": "{n} 秒",
    "wait.minutes": "{n} 分钟",
    "error.offline": "无法连接服务器，请检查网络后重试。",
    "error.forbidden": "没有权限：{message}",
    "error.server": "操作未成功：{message}",
    "home.hello": "{name}，您好",
    "home.parks": "我的园区",
    "home.parks.none": "尚未分配园区",
    "home.sites": "检查对象",
    "home.sites.count": "共 {n} 家",
    "home.sites.none": "没有检查对象",
    "home.sites.nomatch": "没有符合条件的检查对象",
    "home.sites.nodata": "手机上还没有数据，请联网后点“刷新数据”。",
    "home.search": "搜索名称或地址",
    "home.address.none": "未登记地址",
    "home.key": "重点",
    "home.key.title": "重点监管对象：每季度至少检查一次",
    "home.map": "园区地图",
    "home.map.unavailable": "地图暂不可用，请使用下方列表。",
    "map.zoom.in": "放大",
    "map.zoom.out": "缩小",
    "map.popup.close": "关闭",
    "home.updated": "数据更新于 {when}",
    "home.cached": "离线：显示 {when} 保存的数据",
    "home.refresh": "刷新数据",
    "home.refreshing": "正在更新…",
    "home.logout": "退出登录",
    "home.storage.refused": "浏览器未允许长期保存数据：长时间不用时，手机上的离线数据可能被清除。请把本应用添加到主屏幕。",
    "role.inspector": "执法检查员",
    "role.supervisor": "中队审核",
    "role.legal_reviewer": "法制审核员",
    "role.scheduler": "计划调度员",
    "role.admin": "系统管理员",
    "risk.low": "低风险",
    "risk.medium": "一般风险",
    "risk.high": "较大风险",
    "risk.very_high": "重大风险",
    "date.format": "{month}月{day}日 {weekday}",
    "datetime.format": "{date} {hh}:{mm}",
    "weekdays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
    "months": ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"],
  },
  en: {
    "app.title": "Field check",
    "lang.switch": "中文",
    "lang.switch.label": "Switch to Chinese",
    "badge.offline": "Offline",
    "badge.offline.title": "No network: showing the data kept on this phone",
    "login.heading": "Log in",
    "login.intro": "Enforcement bureau field inspections",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.busy": "Logging in…",
    "login.missing": "Enter your username and password",
    "login.wrong": "Wrong username or password, or the account is disabled. Please try again.",
    "login.throttled": "Too many failed logins. Try again in {wait}.",
    "login.expired": "Your session has ended. Please log in again.",
    "wait.seconds": "{n} s",
    "wait.minutes": "{n} min",
    "error.offline": "Cannot reach the server. Check the network and try again.",
    "error.forbidden": "Not allowed: {message}",
    "error.server": "That did not work: {message}",
    "home.hello": "Hello, {name}",
    "home.parks": "My parks",
    "home.parks.none": "No park assigned yet",
    "home.sites": "Sites",
    "home.sites.count": "{n} in all",
    "home.sites.none": "No sites",
    "home.sites.nomatch": "No site matches",
    "home.sites.nodata": "No data on this phone yet: go online and tap “Refresh data”.",
    "home.search": "Search by name or address",
    "home.address.none": "No address on record",
    "home.key": "Key",
    "home.key.title": "Key object: visited at least once a quarter",
    "home.map": "Park map",
    "home.map.unavailable": "The map is not available; use the list below.",
    "map.zoom.in": "Zoom in",
    "map.zoom.out": "Zoom out",
    "map.popup.close": "Close",
    "home.updated": "Data updated {when}",
    "home.cached": "Offline: showing data saved {when}",
    "home.refresh": "Refresh data",
    "home.refreshing": "Updating…",
    "home.logout": "Log out",
    "home.storage.refused": "The browser did not allow lasting storage: the offline data may be erased if the app goes unused. Add the app to the home screen.",
    "role.inspector": "Inspector",
    "role.supervisor": "Supervisor",
    "role.legal_reviewer": "Legal reviewer",
    "role.scheduler": "Scheduler",
    "role.admin": "Administrator",
    "risk.low": "Low risk",
    "risk.medium": "Medium risk",
    "risk.high": "High risk",
    "risk.very_high": "Very high risk",
    "date.format": "{weekday} {day} {month}",
    "datetime.format": "{date}, {hh}:{mm}",
    "weekdays": ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
    "months": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
  },
};

export const LANGS = Object.keys(STRINGS);
const DEFAULT = "zh-CN";
// localStorage, not IndexedDB: the language is needed synchronously before the first paint.
const KEY = "fieldcheck.lang";

let current = LANGS.includes(localStorage.getItem(KEY)) ? localStorage.getItem(KEY) : DEFAULT;
const listeners = new Set();

export function lang() {
  return current;
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === current) return;
  current = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function t(key, params = {}) {
  const value = STRINGS[current][key] ?? STRINGS[DEFAULT][key] ?? key;
  if (typeof value !== "string") return value;
  return value.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

// "11月26日 周四" in zh-CN, "Thu 26 Nov" in English; the phone's local time.
export function formatDate(when) {
  const d = when instanceof Date ? when : new Date(when);
  return t("date.format", { month: t("months")[d.getMonth()], day: d.getDate(), weekday: t("weekdays")[d.getDay()] });
}

export function formatDateTime(when) {
  const d = when instanceof Date ? when : new Date(when);
  const pad = (n) => String(n).padStart(2, "0");
  return t("datetime.format", { date: formatDate(d), hh: pad(d.getHours()), mm: pad(d.getMinutes()) });
}

// A wait in words: seconds under two minutes, whole minutes (rounded up) above.
export function formatWait(seconds) {
  const s = Math.max(1, Math.ceil(seconds));
  return s < 120 ? t("wait.seconds", { n: s }) : t("wait.minutes", { n: Math.ceil(s / 60) });
}

document.documentElement.lang = current;
