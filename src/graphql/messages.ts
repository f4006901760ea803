/**
 * Which utility message can still be confirmed. The radio holds one message per meter, the current
 * one (RAVEn `MessageCluster`, ZigBee Messaging `DisplayMessage`); `confirm_message` acts on that
 * one, and `get_message` only ever reports that one back. An older message's confirmation would
 * be written to the radio and never show as confirmed, so only the current message is offered,
 * and the mutation refuses the others.
 *
 * @module
 */

import type { StoredMessage } from "../store/queries.ts";

/** A stored message and whether it is its meter's current (newest) one. */
export interface MeterMessage extends StoredMessage {
  current: boolean;
}

/** Messages newest first (as the store lists them), the first one current. */
export function withCurrent(newestFirst: readonly StoredMessage[]): MeterMessage[] {
  return newestFirst.map((message, index) => ({ ...message, current: index === 0 }));
}

/** True when confirming the message would reach the meter and be reported back. */
export function isConfirmable(message: MeterMessage): boolean {
  return message.current && message.confirmationRequired && !message.confirmed;
}
