/**
 * A household's export switch in a building: "Share my meters' data with this building's
 * exports". Off by default; the page shows it only when the gateway has several households (a
 * single home always exports, so the switch would change nothing there).
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { byId } from "./dom.ts";

export interface SharingPanel {
  /** Shows the setting as read by a request sent at `askedAtMs` (`performance.now()`). */
  show(allowed: boolean, askedAtMs: number): void;
}

/** `onChange` saves the new setting; the switch is locked meanwhile and reverts when it fails. */
export function createSharingPanel(onChange: (allowed: boolean) => Promise<void>): SharingPanel {
  const toggle = byId<HTMLInputElement>("export-allowed");
  let changedAtMs = -Infinity;
  toggle.addEventListener("change", () => {
    changedAtMs = performance.now();
    const allowed = toggle.checked;
    toggle.disabled = true;
    onChange(allowed)
      .catch(() => toggle.checked = !allowed)
      .finally(() => toggle.disabled = false);
  });
  return {
    show(allowed, askedAtMs) {
      byId("sharing").hidden = false;
      // A reload asked before the household's last change must not flip the switch back.
      if (askedAtMs > changedAtMs) toggle.checked = allowed;
    },
  };
}
