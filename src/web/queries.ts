/**
 * The GraphQL documents the dashboard sends and the shapes of their results (the subset of
 * `schema/openseg.graphql` it selects).
 *
 * @module
 */

export type Direction = "IMPORT" | "EXPORT";
export type LinkState = "CONNECTING" | "INITIALIZING" | "CONNECTED" | "DISCONNECTED" | "CLOSED";
export type BucketSize = "ONE_MINUTE" | "FIVE_MINUTES" | "FIFTEEN_MINUTES" | "ONE_HOUR";
export type ViewerRole = "ADMINISTRATOR" | "HOUSEHOLD";

export interface Demand {
  demandW: number | null;
  signedDemandW: number | null;
  direction: Direction | null;
  at: string;
}

export interface Price {
  tier: number | null;
  ratePerKWh: number | null;
  currency: string | null;
  label: string | null;
}

export interface JoinState {
  status: string;
  connected: boolean;
  signalStrengthPercent: number | null;
}

export interface UtilityMessage {
  id: string;
  text: string;
  confirmationRequired: boolean;
  confirmed: boolean;
  /** Only the meter's current message can be confirmed (the radio holds just that one). */
  confirmable: boolean;
  priority: string | null;
  at: string;
}

export interface Meter {
  id: string;
  name: string | null;
  lastSeenAt: string;
  join: JoinState | null;
  demand: Demand | null;
  price: Price | null;
  messages: UtilityMessage[];
}

export interface Radio {
  port: string;
  linkState: LinkState;
  lastFragmentAgeS: number | null;
  reconnects: number;
}

export interface DemandBucket {
  start: string;
  durationS: number;
  avgW: number;
}

export interface IntervalReading {
  start: string;
  durationS: number;
  deliveredWh: number;
  receivedWh: number;
  cost: number | null;
  currency: string | null;
}

export interface UsageSummary {
  deliveredWh: number;
  receivedWh: number;
  cost: number | null;
  currency: string | null;
}

export interface App {
  id: string;
  name: string;
  registeredAt: string;
}

export interface Authorization {
  id: string;
  app: App | null;
  scopeDescription: string[];
  meterIds: string[];
  status: "ACTIVE" | "REVOKED";
  grantedAt: string;
  revokedAt: string | null;
}

const METER_FIELDS = `id name lastSeenAt
  join { status connected signalStrengthPercent }
  demand { demandW signedDemandW direction at }
  price { tier ratePerKWh currency label }
  messages { id text confirmationRequired confirmed confirmable priority at }`;

/** Who is signed in: what the page shows depends on it. */
export const VIEWER_QUERY = `query Viewer {
  viewer { roles household { id name exportAllowed } }
  gateway { version singleHome }
}`;

export interface Household {
  id: string;
  name: string;
  exportAllowed: boolean;
}

export interface ViewerResult {
  viewer: { roles: ViewerRole[]; household: Household | null };
  gateway: { version: string; singleHome: boolean };
}

const RADIO_FIELDS = "port linkState lastFragmentAgeS reconnects";

/** A single home: the one person is household and administrator, and sees everything. */
export const DASHBOARD_QUERY = `query Dashboard {
  meters { ${METER_FIELDS} }
  gateway { version radios { ${RADIO_FIELDS} } }
}`;

/** A household of a building: its own meters' readings; the radios are the administrator's. */
export const HOUSEHOLD_DASHBOARD_QUERY = `query HouseholdDashboard {
  meters { ${METER_FIELDS} }
  viewer { household { id name exportAllowed } }
}`;

/** The administrator of a building: link health and households, no readings. */
export const BUILDING_DASHBOARD_QUERY = `query BuildingDashboard {
  meters { id name lastSeenAt join { status connected signalStrengthPercent } }
  gateway { version radios { ${RADIO_FIELDS} } }
  households { id name exportAllowed meters { id } }
}`;

export interface HouseholdMeters extends Household {
  meters: { id: string }[];
}

/** The three dashboards' results; a part one of them does not select is absent. */
export interface DashboardResult {
  meters: (Pick<Meter, "id" | "name" | "lastSeenAt" | "join"> & Partial<Meter>)[];
  gateway?: { radios: Radio[] };
  viewer?: { household: Household | null };
  households?: HouseholdMeters[];
}

export const METER_QUERY = `query Meter($id: ID!) { meter(id: $id) { ${METER_FIELDS} } }`;

export const HISTORY_QUERY = `query History($id: ID!, $from: DateTime!, $to: DateTime!,
    $bucket: BucketSize!) {
  meter(id: $id) {
    demandSeries(from: $from, to: $to, bucket: $bucket) { start durationS avgW }
    intervals(from: $from, to: $to) { start durationS deliveredWh receivedWh cost currency }
    today: usage(period: TODAY) { deliveredWh receivedWh cost currency }
    last48: usage(period: LAST_48_HOURS) { deliveredWh receivedWh cost currency }
  }
}`;

export interface HistoryResult {
  meter: {
    demandSeries: DemandBucket[];
    intervals: IntervalReading[];
    today: UsageSummary;
    last48: UsageSummary;
  };
}

export const APPS_QUERY = `query Apps {
  authorizations {
    id app { id name registeredAt } scopeDescription meterIds status grantedAt revokedAt
  }
  apps { id name registeredAt }
}`;

export interface AppsResult {
  authorizations: Authorization[];
  apps: App[];
}

export const RENAME_METER = `mutation Rename($id: ID!, $name: String) {
  renameMeter(id: $id, name: $name) { id name }
}`;

export const CONFIRM_MESSAGE = `mutation Confirm($meterId: ID!, $messageId: ID!) {
  confirmMessage(meterId: $meterId, messageId: $messageId) { sentAt }
}`;

export const REVOKE_AUTHORIZATION = `mutation Revoke($id: ID!) {
  revokeAuthorization(id: $id) { id status }
}`;

export const APPROVE_APP = `mutation Approve($appId: ID!, $meterIds: [ID!]!) {
  approveApp(input: { appId: $appId, meterIds: $meterIds }) { id status }
}`;

export const SET_EXPORT_ALLOWED = `mutation SetExportAllowed($allowed: Boolean!) {
  setExportAllowed(allowed: $allowed) { id name exportAllowed }
}`;

export const DEMAND_SUBSCRIPTION =
  `subscription { demand { meterId demand { demandW signedDemandW direction at } } }`;

export interface DemandEvent {
  demand: { meterId: string; demand: Demand };
}

export const INTERVALS_SUBSCRIPTION = `subscription { intervals { meterId
  interval { start durationS deliveredWh receivedWh cost currency } } }`;

export interface IntervalEvent {
  intervals: { meterId: string; interval: IntervalReading };
}

export const MESSAGES_SUBSCRIPTION = `subscription { messages { meterId
  message { id text confirmationRequired confirmed confirmable priority at } } }`;

export interface MessagesEvent {
  messages: { meterId: string; message: UtilityMessage };
}

export const LINK_SUBSCRIPTION = `subscription { linkState { port state detail at } }`;

export interface LinkEvent {
  linkState: { port: string; state: LinkState; detail: string | null; at: string };
}
