/**
 * ISO 4217 currencies: the numeric codes meters send (ZigBee SE `Currency`, ESPI `currency`) and
 * their alphabetic codes, in one table for the decoder and the API alike.
 *
 * @module
 */

/** ISO 4217 numeric → alphabetic codes for currencies a SE 1.x meter is likely to report. */
const CURRENCY_ALPHA: ReadonlyMap<number, string> = new Map([
  [36, "AUD"],
  [124, "CAD"],
  [156, "CNY"],
  [208, "DKK"],
  [344, "HKD"],
  [356, "INR"],
  [392, "JPY"],
  [484, "MXN"],
  [554, "NZD"],
  [578, "NOK"],
  [702, "SGD"],
  [710, "ZAR"],
  [752, "SEK"],
  [756, "CHF"],
  [826, "GBP"],
  [840, "USD"],
  [978, "EUR"],
  [985, "PLN"],
  [986, "BRL"],
]);

/** The alphabetic code of numeric ISO 4217 `code` (840 → "USD"), or null when not in the table. */
export function currencyAlpha(code: number): string | null {
  return CURRENCY_ALPHA.get(code) ?? null;
}
