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
  show(allowed: boolean): void;
}

/** `onChange` saves the new setting; the switch is locked meanwhile and reverts when it fails. */
export function createSharingPanel(onChange: (allowed: boolean) => Promise<void>): SharingPanel {
  const toggle = byId<HTMLInputElement>("export-allowed");
  toggle.addEventListener("change", () => {
    const allowed = toggle.checked;
    toggle.disabled = true;
    onChange(allowed)
      .catch(() => toggle.checked = !allowed)
      .finally(() => toggle.disabled = false);
  });
  return {
    show(allowed) {
      byId("sharing").hidden = false;
      toggle.checked = allowed;
    },
  };
}
