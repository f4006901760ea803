/**
 * The "Meters and radio" panel: each meter's name (editable in place, its field labelled "Name of
 * <meter>" for screen readers), join state, signal and the age of its last reading; each radio's
 * link state, reconnects and last fragment.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { byId, h, replaceChildren } from "./dom.ts";
import { formatAge } from "./format.ts";
import type { LinkState, Meter, Radio } from "./queries.ts";

export interface MetersPanel {
  show(meters: readonly Meter[], radios: readonly Radio[]): void;
  /** A reading arrived for this meter. */
  seen(meterId: string, atIso: string): void;
  setLink(port: string, state: LinkState): void;
  /** Re-words the ages (called every second). */
  tick(): void;
}

const LINK_WORDS: Record<LinkState, string> = {
  CONNECTING: "connecting",
  INITIALIZING: "starting up",
  CONNECTED: "connected",
  DISCONNECTED: "disconnected",
  CLOSED: "closed",
};

/** A meter's display name: the owner's name for it, else a short form of its id. */
export function meterLabel(meter: Pick<Meter, "id" | "name">): string {
  return meter.name ?? `Meter ${meter.id.slice(0, 8)}`;
}

export function createMetersPanel(
  onRename: (meterId: string, name: string) => Promise<void>,
): MetersPanel {
  const meterList = byId("meter-list");
  const radioList = byId("radio-list");
  const seenWallMs = new Map<string, number>();
  const ages = new Map<string, HTMLElement>();
  let radios: Radio[] = [];

  function renderRadios(): void {
    replaceChildren(
      radioList,
      ...radios.map((radio) =>
        h(
          "li",
          { class: `row link-${radio.linkState.toLowerCase()}`, "data-port": radio.port },
          h("span", { class: "row-title" }, radio.port),
          h("span", { class: "badge" }, `Link ${LINK_WORDS[radio.linkState]}`),
          radio.reconnects > 0 &&
            h("span", { class: "muted" }, `${radio.reconnects} reconnect(s)`),
        )
      ),
    );
    if (radios.length === 0) replaceChildren(radioList, h("li", { class: "muted" }, "No radios."));
  }

  function meterRow(meter: Meter): HTMLElement {
    const inputId = `name-${meter.id}`;
    const input = h("input", {
      id: inputId,
      name: "name",
      value: meter.name ?? "",
      placeholder: meterLabel(meter),
      maxlength: 64,
      autocomplete: "off",
    }) as HTMLInputElement;
    const form = h(
      "form",
      { class: "rename" },
      // "Name" on screen; with several meters, each field's accessible name says whose it is.
      h(
        "label",
        { for: inputId },
        "Name",
        h("span", { class: "visually-hidden" }, ` of ${meterLabel(meter)}`),
      ),
      input,
      h("button", { type: "submit" }, "Save"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      onRename(meter.id, input.value.trim()).catch(() => {});
    });
    const age = h("span", { class: "age" });
    ages.set(meter.id, age);
    const join = meter.join;
    return h(
      "li",
      { class: "row meter", "data-meter": meter.id },
      form,
      h(
        "span",
        { class: `badge ${join?.connected ? "ok" : "warn"}` },
        join === null ? "Join state unknown" : `Joined: ${join.status}`,
      ),
      join?.signalStrengthPercent !== null && join?.signalStrengthPercent !== undefined &&
        h("span", {}, `Signal ${join.signalStrengthPercent}%`),
      h("span", { class: "muted" }, "Last reading ", age),
    );
  }

  function tick(): void {
    for (const [meterId, age] of ages) {
      const wallMs = seenWallMs.get(meterId);
      age.textContent = wallMs === undefined ? "none yet" : formatAge(Date.now() - wallMs);
    }
  }

  return {
    show(meters, nextRadios) {
      ages.clear();
      for (const meter of meters) {
        const atMs = Date.parse(meter.demand?.at ?? meter.lastSeenAt);
        seenWallMs.set(meter.id, Math.min(Date.now(), atMs));
      }
      replaceChildren(meterList, ...meters.map(meterRow));
      if (meters.length === 0) {
        replaceChildren(meterList, h("li", { class: "muted" }, "No meter has reported yet."));
      }
      radios = [...nextRadios];
      renderRadios();
      tick();
    },
    seen(meterId, atIso) {
      seenWallMs.set(meterId, Math.min(Date.now(), Date.parse(atIso)));
    },
    setLink(port, state) {
      const radio = radios.find((r) => r.port === port);
      if (radio === undefined) {
        radios.push({ port, linkState: state, lastFragmentAgeS: null, reconnects: 0 });
      } else radio.linkState = state;
      renderRadios();
    },
    tick,
  };
}
