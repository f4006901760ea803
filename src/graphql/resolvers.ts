/**
 * The resolvers of `schema/openseg.graphql`, one entry per SDL field (no silent default
 * resolvers): `resolverDrift` compares this map with the SDL, the server refuses to start on a
 * difference and a test fails on one. Enum maps translate SDL names to the gateway's own values,
 * so resolvers return store values unchanged (`connected`, `valid`, 15 minutes).
 *
 * @module
 */

import { type AppInfo, findApp, listApps, type RegisteredApp } from "../auth/apps.ts";
import { type AuthorizationRecord, listAuthorizations } from "../auth/authorizations.ts";
import { grantedData } from "../auth/granted_data.ts";
import { describeScope, parseScope } from "../auth/scope.ts";
import { accessTokenExpiryMs } from "../auth/tokens.ts";
import type { RadioStats } from "../radio/adapter.ts";
import type { LinkSupervisor } from "../radio/supervisor.ts";
import type { BucketMinutes, DemandBucket, LatestReadings } from "../store/queries.ts";
import {
  findHousehold,
  type Household,
  householdCount,
  listHouseholds,
  meterOwnership,
} from "../store/households.ts";
import { portWarnings, type RadioDeviceInfo, radioDeviceInfo } from "../store/radio_devices.ts";
import type { Access } from "./access.ts";
import type { GraphqlContext } from "./context.ts";
import { DateTimeScalar } from "./date_time.ts";
import { GRANTED_DATA_ENUM } from "./granted_data.ts";
import {
  type DemandReading,
  type DemandUpdate,
  demandUpdates,
  type IntervalUpdate,
  intervalUpdates,
  type LinkUpdate,
  linkUpdates,
  type MessageUpdate,
  messageUpdates,
} from "./live.ts";
import { isConfirmable, type MeterMessage, withCurrent } from "./messages.ts";
import { canRead, meterById, meterKeyFor, type MeterModel, visibleMeters } from "./meters.ts";
import {
  approveApp,
  confirmMessage,
  type MessageConfirmation,
  registerNewApp,
  renameMeter,
  revokeAppAuthorization,
  setHouseholdExport,
} from "./mutations.ts";
import {
  currencyName,
  demandBuckets,
  intervalReadings,
  type PricedReading,
  type UsagePeriod,
  type UsageSummary,
  usageSummary,
} from "./series.ts";

// deno-lint-ignore no-explicit-any
type Args = any;
type Resolver<TParent> = (parent: TParent, args: Args, context: GraphqlContext) => unknown;
/** A type's field resolvers, each taking that type's model. */
type FieldsOf<TParent> = Record<string, Resolver<TParent>>;
type Root = Record<string, never>;
type JoinModel = NonNullable<LatestReadings["connection"]>;
type SummationModel = NonNullable<LatestReadings["summation"]>;
type PriceModel = NonNullable<LatestReadings["price"]>;
type BucketModel = DemandBucket & { durationS: number };
interface RangeArgs {
  from: number;
  to: number;
}

const sinceS = (context: GraphqlContext, atMs: number) => (context.services.nowMs() - atMs) / 1000;

const Query: FieldsOf<Root> = {
  viewer: (_root, _args, context) => context.access,
  gateway: () => ({}),
  meters: (_root, _args, context) => visibleMeters(context.services.db, context.access),
  meter: (_root, args: { id: string }, context) =>
    meterById(context.services.db, context.access, args.id),
  // The administrator of a building (no household) has none.
  authorizations: (_root, _args, context) =>
    context.access.householdId === null
      ? []
      : listAuthorizations(context.services.db, { householdId: context.access.householdId }),
  apps: (_root, _args, context) => listApps(context.services.db),
  households: (_root, _args, context) => listHouseholds(context.services.db),
};

const Viewer: FieldsOf<Access> = {
  kind: (access) => access.kind,
  appName: (access) => access.appName,
  scopeDescription: (access) => access.scopeDescription,
  historyLimitS: (access) => access.historyLimitS,
  finestResolutionS: (access) => access.finestResolutionS,
  // Only apps have a grant; the owner reads everything.
  grantedData: (access) => access.grant === null ? null : [...grantedData(access.grant.scope)],
  roles: (access) =>
    access.kind !== "owner" ? [] : [
      ...(access.administrator ? ["administrator"] : []),
      ...(access.householdId !== null ? ["household"] : []),
    ],
  // An app's granting household stays private: the app learns only what its grant lets it read.
  household: (access, _args, context) =>
    access.kind !== "owner" || access.householdId === null
      ? null
      : findHousehold(context.services.db, access.householdId),
};

const HouseholdFields: FieldsOf<Household> = {
  id: (household) => household.householdId,
  name: (household) => household.name,
  meters: (household, _args, context) => {
    const { db } = context.services;
    const owned = new Set(
      meterOwnership(db).filter((meter) => meter.householdId === household.householdId)
        .map((meter) => meter.usagePointId),
    );
    return visibleMeters(db, context.access).filter((meter) => owned.has(meter.id));
  },
  exportAllowed: (household, _args, context) =>
    householdCount(context.services.db) <= 1 || household.exportAllowed,
  exportAllowedSince: (household, _args, context) =>
    householdCount(context.services.db) <= 1 ? null : household.exportAllowedSinceMs,
};

const Gateway: FieldsOf<Root> = {
  version: (_root, _args, context) => context.gateway.version,
  startedAt: (_root, _args, context) => context.gateway.startedMs,
  uptimeS: (_root, _args, context) => sinceS(context, context.gateway.startedMs),
  singleHome: (_root, _args, context) => householdCount(context.services.db) <= 1,
  radios: (_root, _args, context) => context.gateway.supervisors,
};

const Radio: FieldsOf<LinkSupervisor> = {
  port: (radio) => radio.port,
  linkState: (radio) => radio.state,
  device: (radio, _args, context): RadioDeviceInfo | null =>
    radio.device === null ? null : radioDeviceInfo(context.services.db, radio.device) ?? {
      deviceMac: radio.device,
      manufacturer: null,
      modelId: null,
      firmwareVersion: null,
      hardwareVersion: null,
      dateCodeDate: null,
    },
  lastFragmentAt: (radio) => radio.lastFragmentMs,
  lastFragmentAgeS: (radio, _args, context) =>
    radio.lastFragmentMs === null ? null : Math.max(0, sinceS(context, radio.lastFragmentMs)),
  reconnects: (radio) => radio.reconnects,
  warnings: (radio, _args, context) =>
    Object.entries(portWarnings(context.services.db, radio.port))
      .map(([kind, count]) => ({ kind, count })),
  decoder: (radio) => radio.adapterStats,
};

const RadioDevice: FieldsOf<RadioDeviceInfo> = {
  mac: (device) => device.deviceMac,
  manufacturer: (device) => device.manufacturer,
  model: (device) => device.modelId,
  firmwareVersion: (device) => device.firmwareVersion,
  hardwareVersion: (device) => device.hardwareVersion,
  manufacturedOn: (device) => device.dateCodeDate,
};

const WarningCount: FieldsOf<{ kind: string; count: number }> = {
  kind: (warning) => warning.kind,
  count: (warning) => warning.count,
};

const DecoderStats: FieldsOf<RadioStats> = {
  bytesRead: (stats) => stats.bytesRead,
  fragments: (stats) => stats.fragments,
  decodeErrors: (stats) => stats.decodeErrors,
  fieldWarnings: (stats) => stats.fieldWarnings,
  unknownFragments: (stats) => stats.unknownFragments,
  droppedBytes: (stats) => stats.droppedBytes,
};

const Meter: FieldsOf<MeterModel> = {
  id: (meter) => meter.id,
  name: (meter) => meter.summary.name ?? null,
  lastSeenAt: (meter) => meter.summary.lastSeenMs,
  join: (meter) => meter.latest("connection") ?? null,
  demand: (meter): DemandReading | null => {
    const demand = meter.latest("demand");
    return demand === undefined ? null : { demandW: demand.demandW, timeMs: demand.timeMs };
  },
  summation: (meter) => meter.latest("summation") ?? null,
  price: (meter) => meter.latest("price") ?? null,
  messages: (meter) => withCurrent(meter.latest("messages")),
  demandSeries: (
    meter,
    args: RangeArgs & { bucket: BucketMinutes },
    context,
  ): BucketModel[] =>
    demandBuckets(context.services.db, {
      meterKey: meter.meterKey,
      fromMs: args.from,
      toMs: args.to,
      bucketMinutes: args.bucket,
      access: context.access,
      nowMs: context.services.nowMs(),
    }).map((bucket) => ({ ...bucket, durationS: args.bucket * 60 })),
  intervals: (meter, args: RangeArgs, context) =>
    intervalReadings(context.services.db, {
      meterKey: meter.meterKey,
      fromMs: args.from,
      toMs: args.to,
      access: context.access,
      nowMs: context.services.nowMs(),
    }),
  usage: (meter, args: { period: UsagePeriod }, context) =>
    usageSummary(context.services.db, {
      meterKey: meter.meterKey,
      period: args.period,
      access: context.access,
      nowMs: context.services.nowMs(),
      timeZone: context.services.timeZone,
    }),
};

const JoinState: FieldsOf<JoinModel> = {
  status: (join) => join.status,
  connected: (join) => join.connected,
  signalStrengthPercent: (join) => join.linkStrengthPercent,
  channel: (join) => join.channel,
  updatedAt: (join) => join.receivedAtMs,
};

const Demand: FieldsOf<DemandReading> = {
  demandW: (demand) => demand.demandW === null ? null : Math.abs(demand.demandW),
  signedDemandW: (demand) => demand.demandW,
  direction: (demand) => demand.demandW === null ? null : demand.demandW < 0 ? "EXPORT" : "IMPORT",
  at: (demand) => demand.timeMs,
};

const Summation: FieldsOf<SummationModel> = {
  deliveredWh: (summation) => summation.deliveredWh,
  receivedWh: (summation) => summation.receivedWh,
  at: (summation) => summation.timeMs,
};

const Price: FieldsOf<PriceModel> = {
  tier: (price) => price.tier,
  ratePerKWh: (price) => price.pricePerKWh,
  currency: (price) => price.currency ?? currencyName(price.currencyCode),
  label: (price) => price.label,
  startsAt: (price) => price.startTimeMs,
  durationS: (price) => price.durationS,
  at: (price) => price.timeMs,
};

const UtilityMessage: FieldsOf<MeterMessage> = {
  id: (message) => message.messageId,
  text: (message) => message.text,
  confirmationRequired: (message) => message.confirmationRequired,
  confirmed: (message) => message.confirmed,
  confirmable: (message) => isConfirmable(message),
  priority: (message) => message.priority,
  queue: (message) => message.queue,
  startsAt: (message) => message.startTimeMs,
  durationS: (message) => message.durationS,
  at: (message) => message.timeMs,
};

const DemandBucketFields: FieldsOf<BucketModel> = {
  start: (bucket) => bucket.bucketStartMs,
  durationS: (bucket) => bucket.durationS,
  avgW: (bucket) => bucket.avgW,
  minW: (bucket) => bucket.minW,
  maxW: (bucket) => bucket.maxW,
  samples: (bucket) => bucket.samples,
};

const IntervalReading: FieldsOf<PricedReading> = {
  start: (reading) => reading.startMs,
  durationS: (reading) => reading.durationS,
  deliveredWh: (reading) => reading.deliveredWh,
  receivedWh: (reading) => reading.receivedWh,
  cost: (reading) => reading.cost,
  currency: (reading) => reading.currency,
  quality: (reading) => reading.quality,
};

const UsageSummaryFields: FieldsOf<UsageSummary> = {
  period: (usage) => usage.period,
  from: (usage) => usage.fromMs,
  to: (usage) => usage.toMs,
  deliveredWh: (usage) => usage.deliveredWh,
  receivedWh: (usage) => usage.receivedWh,
  netWh: (usage) => usage.deliveredWh - usage.receivedWh,
  cost: (usage) => usage.cost,
  currency: (usage) => usage.currency,
  unpricedWh: (usage) => usage.unpricedWh,
  peakDemandW: (usage) => usage.peakDemandW,
  peakAt: (usage) => usage.peakAtMs,
};

const Authorization: FieldsOf<AuthorizationRecord> = {
  id: (authorization) => authorization.authorizationId,
  app: (authorization, _args, context) => findApp(context.services.db, authorization.clientId),
  scope: (authorization) => authorization.scope,
  scopeDescription: (authorization) => describeScope(parseScope(authorization.scope)),
  // What the grant still reads: a meter since given to another household is not named.
  meterIds: (authorization, _args, context) =>
    authorization.usagePointIds.filter((id) => canRead(context.access, id)),
  status: (authorization) => authorization.status,
  grantedAt: (authorization) => authorization.createdMs,
  expiresAt: (authorization, _args, context) =>
    accessTokenExpiryMs(context.services.db, authorization.authorizationId),
  revokedAt: (authorization) => authorization.revokedMs,
};

const App: FieldsOf<AppInfo> = {
  id: (app) => app.clientId,
  name: (app) => app.name,
  redirectUris: (app) => app.redirectUris,
  scopes: (app) => app.scopes,
  isPublic: (app) => app.isPublic,
  registeredAt: (app) => app.createdMs,
};

const Mutation: FieldsOf<Root> = {
  renameMeter: (_root, args, context) => renameMeter(context, args),
  confirmMessage: (_root, args, context) => confirmMessage(context, args),
  revokeAuthorization: (_root, args, context) => revokeAppAuthorization(context, args),
  registerApp: (_root, args, context) => registerNewApp(context, args),
  approveApp: (_root, args, context) => approveApp(context, args),
  setExportAllowed: (_root, args, context) => setHouseholdExport(context, args),
};

const MessageConfirmationFields: FieldsOf<MessageConfirmation> = {
  meterId: (confirmation) => confirmation.meterId,
  messageId: (confirmation) => confirmation.messageId,
  sentAt: (confirmation) => confirmation.sentAtMs,
};

const RegisteredAppFields: FieldsOf<RegisteredApp> = {
  app: (registered) => registered.app,
  clientSecret: (registered) => registered.clientSecret,
  registrationAccessToken: (registered) => registered.registrationAccessToken,
};

/** A subscription field: its source, and each update passed through as the field's value. */
function subscription(
  subscribe: (args: Args, context: GraphqlContext) => AsyncIterableIterator<unknown>,
) {
  return {
    subscribe: (_root: Root, args: Args, context: GraphqlContext) => subscribe(args, context),
    resolve: (update: unknown) => update,
  };
}

/** The live source options for an optional `meterId` argument. */
function liveOptions(args: { meterId?: string | null }, context: GraphqlContext) {
  const { db } = context.services;
  return {
    bus: context.gateway.bus,
    db,
    access: context.access,
    meterKey: args.meterId == null ? undefined : meterKeyFor(db, context.access, args.meterId),
  };
}

const Subscription = {
  demand: subscription((args, context) => demandUpdates(liveOptions(args, context))),
  intervals: subscription((args, context) => intervalUpdates(liveOptions(args, context))),
  messages: subscription((args, context) => messageUpdates(liveOptions(args, context))),
  linkState: subscription((_args, context) => linkUpdates(context.gateway.bus)),
};

const DemandUpdateFields: FieldsOf<DemandUpdate> = {
  meterId: (update) => update.meterId,
  demand: (update) => update.demand,
};

const IntervalUpdateFields: FieldsOf<IntervalUpdate> = {
  meterId: (update) => update.meterId,
  interval: (update) => update.interval,
};

const MessageUpdateFields: FieldsOf<MessageUpdate> = {
  meterId: (update) => update.meterId,
  message: (update) => update.message,
};

const LinkUpdateFields: FieldsOf<LinkUpdate> = {
  port: (update) => update.port,
  state: (update) => update.state,
  detail: (update) => update.detail,
  at: (update) => update.atMs,
};

/** The whole resolver map, keyed by SDL type name. */
export const resolvers = {
  DateTime: DateTimeScalar,
  ViewerKind: { OWNER: "owner", APP: "app" },
  ViewerRole: { ADMINISTRATOR: "administrator", HOUSEHOLD: "household" },
  LinkState: {
    CONNECTING: "connecting",
    INITIALIZING: "initializing",
    CONNECTED: "connected",
    DISCONNECTED: "disconnected",
    CLOSED: "closed",
  },
  BucketSize: { ONE_MINUTE: 1, FIVE_MINUTES: 5, FIFTEEN_MINUTES: 15, ONE_HOUR: 60 },
  ReadingQuality: { VALID: "valid", ESTIMATED: "estimated", QUESTIONABLE: "questionable" },
  AuthorizationStatus: { ACTIVE: "active", REVOKED: "revoked" },
  GrantedData: GRANTED_DATA_ENUM,
  Query,
  Viewer,
  Household: HouseholdFields,
  Gateway,
  Radio,
  RadioDevice,
  WarningCount,
  DecoderStats,
  Meter,
  JoinState,
  Demand,
  Summation,
  Price,
  UtilityMessage,
  DemandBucket: DemandBucketFields,
  IntervalReading,
  UsageSummary: UsageSummaryFields,
  Authorization,
  App,
  Mutation,
  MessageConfirmation: MessageConfirmationFields,
  RegisteredApp: RegisteredAppFields,
  Subscription,
  DemandUpdate: DemandUpdateFields,
  IntervalUpdate: IntervalUpdateFields,
  MessageUpdate: MessageUpdateFields,
  LinkUpdate: LinkUpdateFields,
};
