/**
 * Who is calling: the contract between the authorization server (`src/auth`) and the resource
 * servers (`src/espi`, `src/graphql`). Resource handlers receive a resolved `Caller` and decide
 * from its kind and grant what to return; only `src/auth` mints or checks tokens.
 *
 * @module
 */

/** A parsed ESPI scope string (`FB=1_3_4_5_13_14_39;IntervalDuration=900;…`). */
export interface EspiScope {
  /** The raw scope string as granted. */
  text: string;
  /** Function blocks (FB=…), e.g. [1, 3, 4, 5, 13, 14, 39]. */
  functionBlocks: number[];
  /** Finest interval the app may see, seconds; null = any the gateway has. */
  intervalDurationS: number | null;
  /** `daily`, `monthly`, …; null when absent. */
  blockDuration: string | null;
  /** How far back the app may read, seconds; null = everything the gateway keeps. */
  historyLengthS: number | null;
}

/** What one customer authorization grants a third party. */
export interface Grant {
  authorizationId: string;
  subscriptionId: string;
  applicationId: string;
  scope: EspiScope;
  /** Opaque ids of the usage points (meters) granted. */
  usagePointIds: string[];
  /** The household (RetailCustomer) that granted it. */
  householdId: number;
}

export type Caller =
  /**
   * No credentials, or (`reason: "invalid_token"`) a bearer token that is unknown, expired, revoked
   * or of a kind that reads nothing (a refresh token): answer 401 with `bearerChallenge`.
   */
  | { kind: "anonymous"; reason?: "invalid_token" }
  /**
   * A signed-in person: a household (`householdId`) or the administrator (null). In a single home
   * the administrator is also its one household (`read_policy.ts` decides).
   */
  | { kind: "owner"; sessionId: string; householdId: number | null }
  /** A customer-granted access token (reads the granted Subscription). */
  | { kind: "access"; grant: Grant; tokenId: string }
  /** A client_credentials token (Authorization and ReadServiceStatus). */
  | { kind: "client"; applicationId: string; tokenId: string }
  /** The app's registration_access_token (its ApplicationInformation). */
  | { kind: "registration"; applicationId: string; tokenId: string };
