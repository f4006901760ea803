/**
 * The "Connected apps" panel: which apps may read which meters, to what extent and since when,
 * each with a one-tap Revoke (the app's tokens stop working at once); apps that registered but
 * were never granted access, with Approve; and, folded away, access already revoked.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="esnext" />

import { byId, h, replaceChildren } from "./dom.ts";
import { formatDateTime } from "./format.ts";
import type { App, Authorization } from "./queries.ts";

export interface AppActions {
  revoke(authorization: Authorization): Promise<void>;
  approve(app: App): Promise<void>;
}

export interface AppsPanel {
  show(authorizations: readonly Authorization[], apps: readonly App[]): void;
}

export function createAppsPanel(actions: AppActions): AppsPanel {
  const container = byId("app-list");

  function actionButton(
    label: string,
    accessibleName: string,
    className: string,
    run: () => Promise<void>,
  ): HTMLElement {
    const button = h(
      "button",
      { type: "button", class: className, "aria-label": accessibleName },
      label,
    ) as HTMLButtonElement;
    button.addEventListener("click", () => {
      button.disabled = true;
      run().catch(() => button.disabled = false);
    });
    return button;
  }

  function activeRow(authorization: Authorization): HTMLElement {
    const name = authorization.app?.name ?? "A removed app";
    return h(
      "li",
      { class: "row app", "data-authorization": authorization.id },
      h("span", { class: "row-title" }, name),
      h("span", { class: "muted" }, `Since ${formatDateTime(Date.parse(authorization.grantedAt))}`),
      h(
        "ul",
        { class: "scope" },
        ...authorization.scopeDescription.map((line) => h("li", {}, line)),
      ),
      actionButton(
        "Revoke",
        `Revoke access of ${name}`,
        "danger",
        () => actions.revoke(authorization),
      ),
    );
  }

  function pendingRow(app: App): HTMLElement {
    return h(
      "li",
      { class: "row app pending", "data-app": app.id },
      h("span", { class: "row-title" }, app.name),
      h("span", { class: "muted" }, `Registered ${formatDateTime(Date.parse(app.registeredAt))}`),
      actionButton("Approve", `Approve ${app.name}`, "primary", () => actions.approve(app)),
    );
  }

  function revokedRow(authorization: Authorization): HTMLElement {
    const revokedAt = authorization.revokedAt ? Date.parse(authorization.revokedAt) : null;
    return h(
      "li",
      { class: "row app revoked" },
      h("span", { class: "row-title" }, authorization.app?.name ?? "A removed app"),
      revokedAt !== null && h("span", { class: "muted" }, `Revoked ${formatDateTime(revokedAt)}`),
    );
  }

  return {
    show(authorizations, apps) {
      const active = authorizations.filter((a) => a.status === "ACTIVE");
      const revoked = authorizations.filter((a) => a.status === "REVOKED");
      const granted = new Set(authorizations.map((a) => a.app?.id));
      const pending = apps.filter((app) => !granted.has(app.id));
      replaceChildren(
        container,
        active.length === 0
          ? h("p", { class: "muted" }, "No app can read your data.")
          : h("ul", { class: "rows", "aria-label": "Apps with access" }, ...active.map(activeRow)),
        pending.length > 0 && h("h3", {}, "Waiting for your approval"),
        pending.length > 0 && h("ul", { class: "rows" }, ...pending.map(pendingRow)),
        revoked.length > 0 &&
          h(
            "details",
            {},
            h("summary", {}, `Revoked (${revoked.length})`),
            h("ul", { class: "rows" }, ...revoked.map(revokedRow)),
          ),
      );
    },
  };
}
