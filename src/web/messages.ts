/**
 * The "Messages from your utility" panel: the meters' text messages, newest first, with a Confirm
 * button on the meter's current message when the utility asks for confirmation. A confirmation goes
 * to the meter through the radio; the panel shows it as confirmed when the meter reports the
 * message back as confirmed. The radio holds only the newest message, so an older one that asked
 * for confirmation says it can no longer be confirmed instead of offering a button that cannot work.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { byId, h, replaceChildren } from "./dom.ts";
import { formatDateTime } from "./format.ts";
import type { UtilityMessage } from "./queries.ts";

export interface MessagesPanel {
  /** Replaces the messages of every meter (from a full load). */
  show(byMeter: ReadonlyMap<string, readonly UtilityMessage[]>): void;
  /** A new or changed message from the live stream. */
  update(meterId: string, message: UtilityMessage): void;
}

/** How many messages the panel lists (the gateway keeps 48 hours of them; a phone shows few). */
const SHOWN_MESSAGES = 5;

interface Entry {
  meterId: string;
  message: UtilityMessage;
}

export function createMessagesPanel(
  onConfirm: (meterId: string, messageId: string) => Promise<void>,
): MessagesPanel {
  const list = byId("message-list");
  const entries = new Map<string, Entry>();
  // Sent but not yet reported back as confirmed by the meter.
  const sent = new Set<string>();

  function key(meterId: string, messageId: string): string {
    return `${meterId}/${messageId}`;
  }

  function render(): void {
    const newest = [...entries.values()]
      .sort((a, b) => Date.parse(b.message.at) - Date.parse(a.message.at))
      .slice(0, SHOWN_MESSAGES);
    replaceChildren(list, ...newest.map(row));
    if (newest.length === 0) replaceChildren(list, h("li", { class: "muted" }, "No messages."));
  }

  function row({ meterId, message }: Entry): HTMLElement {
    const id = key(meterId, message.id);
    return h(
      "li",
      { class: "row message", "data-message": message.id },
      h("p", { class: "message-text" }, message.text),
      h(
        "span",
        { class: "muted" },
        formatDateTime(Date.parse(message.at)),
        message.priority ? ` · ${message.priority} priority` : "",
      ),
      message.confirmed
        ? h("span", { class: "badge ok" }, "Confirmed")
        : message.confirmable
        ? confirmButton(meterId, message, sent.has(id))
        : message.confirmationRequired &&
          h("span", { class: "muted superseded" }, "Not confirmed; a newer message replaced it"),
    );
  }

  function confirmButton(
    meterId: string,
    message: UtilityMessage,
    isSent: boolean,
  ): HTMLElement {
    const button = h(
      "button",
      { type: "button", class: "confirm", disabled: isSent },
      isSent ? "Sent to the meter…" : "Confirm",
    ) as HTMLButtonElement;
    button.addEventListener("click", () => {
      button.disabled = true;
      onConfirm(meterId, message.id).then(
        () => {
          sent.add(key(meterId, message.id));
          render();
        },
        () => button.disabled = false,
      );
    });
    return button;
  }

  return {
    show(byMeter) {
      entries.clear();
      for (const [meterId, messages] of byMeter) {
        for (const message of messages) entries.set(key(meterId, message.id), { meterId, message });
      }
      render();
    },
    update(meterId, message) {
      // A newer message replaces the meter's current one: the older ones can no longer be confirmed.
      for (const entry of entries.values()) {
        if (entry.meterId === meterId && Date.parse(entry.message.at) < Date.parse(message.at)) {
          entry.message = { ...entry.message, confirmable: false };
        }
      }
      entries.set(key(meterId, message.id), { meterId, message });
      if (message.confirmed) sent.delete(key(meterId, message.id));
      render();
    },
  };
}
