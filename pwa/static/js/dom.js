// Small DOM helpers shared by the pages. Text always goes in as text, never
// as HTML, because most of it is user data.

import { t } from "./config.js";

/** The element with this id; throws if the template lacks it (a bug). */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`jingdi: element #${id} is missing`);
  return element;
}

/** A new element with attributes and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") element.className = value;
    else element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/** Shows a message in a status element (an empty text hides it). */
export function setStatus(element, text, tone = "info") {
  element.textContent = text;
  element.dataset.tone = tone;
  element.hidden = !text;
}

/** "12秒" / "3 min" / "2 h": a compact age for a number of seconds. */
export function formatAge(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return t("time.seconds", { n: whole });
  if (whole < 3600) return t("time.minutes", { n: Math.round(whole / 60) });
  return t("time.hours", { n: Math.round(whole / 3600) });
}
