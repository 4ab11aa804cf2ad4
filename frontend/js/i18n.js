/**
 * i18n.js — the page's language: one JSON catalog per language in
 * locales/, picked from the saved choice or navigator.languages.
 *
 * t(key, vars) looks a key up in the current catalog. An entry is a string
 * with {name} placeholders, or an object of Intl.PluralRules categories
 * (one, few, many, other) chosen by vars.count. translate(root) fills every
 * [data-i18n] element's text and every [data-i18n-attr] ("attr:key;...")
 * attribute. A change of language sends "i18n:changed" on document, so the
 * parts can redraw what they show.
 */

export const LANGUAGES = { en: 'English', fr: 'Français', de: 'Deutsch', es: 'Español' };
const DEFAULT = 'en';
const STORE_KEY = 'anon-hosting.language';

let current = DEFAULT;
let catalog = {};
let plurals = new Intl.PluralRules(DEFAULT);
let numbers = new Intl.NumberFormat(DEFAULT);

/**
 * The tag for Intl formatters: the browser's own regional variant of the
 * page's language when it has one (en-GB dates for a British browser on the
 * English page), else the page's language itself.
 */
export function locale() {
  const tags = navigator.languages ?? [];
  return tags.find((tag) => String(tag).toLowerCase().split('-')[0] === current) ?? current;
}

/** The first supported language in `wanted` (BCP 47 tags), else English. */
export function pickLanguage(wanted) {
  for (const tag of wanted) {
    const base = String(tag || '').toLowerCase().split('-')[0];
    if (Object.hasOwn(LANGUAGES, base)) return base;
  }
  return DEFAULT;
}

function saved() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage blocked: the browser's languages decide
  }
}

function save(code) {
  try {
    localStorage.setItem(STORE_KEY, code);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
}

async function fetchCatalog(code) {
  const response = await fetch(`/locales/${code}.json`, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`catalog ${code}: ${response.status}`);
  return response.json();
}

function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!Object.hasOwn(vars, name)) return whole;
    const value = vars[name];
    return typeof value === 'number' ? numbers.format(value) : String(value);
  });
}

/** The sentence for `key` in the page's language; the key itself when the catalog lacks it. */
export function t(key, vars = {}) {
  let entry = catalog[key];
  if (entry === undefined) return key;
  if (typeof entry === 'object') entry = entry[plurals.select(vars.count ?? 0)] ?? entry.other;
  return fill(entry, vars);
}

/** Fill the static text and attributes under `root` from the catalog. */
export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** Load `code`'s catalog and make it the page's language (falls back to English). */
export async function useLanguage(code, { remember = false } = {}) {
  const wanted = Object.hasOwn(LANGUAGES, code) ? code : DEFAULT;
  let loaded;
  try {
    loaded = await fetchCatalog(wanted);
  } catch {
    if (wanted === DEFAULT) throw new Error('no catalog');
    return useLanguage(DEFAULT);
  }
  [current, catalog] = [wanted, loaded];
  plurals = new Intl.PluralRules(current);
  numbers = new Intl.NumberFormat(locale());
  if (remember) save(current);
  document.documentElement.lang = current;
  translate();
  document.dispatchEvent(new CustomEvent('i18n:changed', { detail: { language: current } }));
  return current;
}

/** The language to start with: the saved choice, else the browser's preference. */
export function startLanguage() {
  const chosen = saved();
  return chosen && Object.hasOwn(LANGUAGES, chosen) ? chosen : pickLanguage(navigator.languages ?? []);
}

/** The <select> that switches language; the choice is remembered in localStorage. */
export function bindSwitcher(select) {
  select.replaceChildren(
    ...Object.entries(LANGUAGES).map(([code, name]) => {
      const option = new Option(name, code, code === current, code === current);
      option.lang = code;
      return option;
    }),
  );
  select.addEventListener('change', () => useLanguage(select.value, { remember: true }));
  document.addEventListener('i18n:changed', () => {
    select.value = current;
  });
}
