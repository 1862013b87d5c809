/* The colour theme: light or dark, following `prefers-color-scheme` until the user picks
 * one with the header's toggle (remembered in localStorage). Loaded in <head> WITHOUT
 * `defer`, so <html data-theme> is set before the first paint (no dark flash on a light
 * system). Pages that draw charts listen for the "foresight:theme" event on document
 * (detail: {theme}) and recolour; `foresightTheme.current()` reads the theme now.
 */
(() => {
  "use strict";

  const KEY = "foresight.theme";
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: light)") : null;
  const stored = () => { try { return localStorage.getItem(KEY); } catch (_) { return null; } };
  const system = () => (media && media.matches ? "light" : "dark");
  const current = () => document.documentElement.dataset.theme || "dark";

  function apply(theme) {
    document.documentElement.dataset.theme = theme;
    const button = document.getElementById("theme-toggle");
    if (button) {
      const other = theme === "light" ? "dark" : "light";
      button.textContent = theme === "light" ? "☾ Dark" : "☀ Light";
      button.title = `Switch to the ${other} theme (remembered in this browser)`;
      button.setAttribute("aria-label", `Switch to the ${other} theme`);
    }
    document.dispatchEvent(new CustomEvent("foresight:theme", { detail: { theme } }));
  }

  apply(stored() === "light" || stored() === "dark" ? stored() : system());
  if (media && media.addEventListener) {
    media.addEventListener("change", () => { if (!stored()) apply(system()); });
  }
  function wire() {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const next = current() === "light" ? "dark" : "light";
      try { localStorage.setItem(KEY, next); } catch (_) { /* private mode: this page only */ }
      apply(next);
    });
    apply(current()); // label the button
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();

  window.foresightTheme = { current, apply };
})();
