// The page's configuration, rendered by the server into a JSON block, and the
// translation function built on its messages.

let cached = null;

/** The client_config object of this page (read and parsed once). */
export function config() {
  if (cached === null) {
    const block = document.getElementById("jingdi-config");
    cached = block ? JSON.parse(block.textContent) : {};
  }
  return cached;
}

/** The signed-in user ({id, name, roles, kind, tenant_id}) or null. */
export function currentUser() {
  return config().user || null;
}

const warnedKeys = new Set();

/** True when the page's language has a message for `key`. */
export function hasMessage(key) {
  const messages = config().i18n || {};
  return Object.prototype.hasOwnProperty.call(messages, key);
}

/**
 * The message for `key` in the page's language, with `{name}` placeholders
 * filled from `params`. A missing key returns the key itself (and warns once),
 * so a gap shows up on screen instead of breaking the page.
 */
export function t(key, params) {
  if (!hasMessage(key)) {
    if (!warnedKeys.has(key)) {
      warnedKeys.add(key);
      console.warn("jingdi: no message for key", key);
    }
    return key;
  }
  const text = config().i18n[key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name)
      ? String(params[name])
      : whole,
  );
}

/** A station's or agency's name in the page's language (Chinese by default). */
export function localName(item) {
  return (config().lang === "en" && item.name_en) || item.name;
}

/** Joins short items the way the page's language lists them. */
export function joinList(items) {
  return items.join(config().lang === "zh" ? "、" : ", ");
}
