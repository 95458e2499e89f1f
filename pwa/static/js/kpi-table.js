// The assessment board's table: which columns it has (the row fields of
// server/kpi.py), how each cell reads, and sortable column headers.
//
// Offers that never reached the phone (a bad connection) and offers that
// reached it but were never opened sit in their own column group, apart from
// offers the officer saw and let pass: only the latter is a choice.

import { hasMessage, t } from "./config.js";
import { el } from "./dom.js";

const DASH = "—";

/** Seconds as "45秒" / "3分12秒"; a dash when there is nothing to measure. */
export function durationText(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  const whole = Math.round(seconds);
  if (whole < 60) return t("time.seconds", { n: whole });
  return t("kpi.duration", { m: Math.floor(whole / 60), s: whole % 60 });
}

function count(field) {
  return (row) => String(row[field] ?? 0);
}

function declined(row) {
  const cell = [String(row.offers_declined ?? 0)];
  const reasons = Object.entries(row.decline_reasons || {});
  if (reasons.length) {
    reasons.sort((a, b) => b[1] - a[1]);
    cell.push(
      el(
        "ul",
        { class: "kpi-reasons" },
        ...reasons.map(([reason, n]) =>
          el(
            "li",
            {},
            t("kpi.reason", { reason: reason || t("kpi.reason_none"), n }),
          ),
        ),
      ),
    );
  }
  return cell;
}

function rating(row) {
  if (row.avg_rating === null || row.avg_rating === undefined) return DASH;
  return t("kpi.rating", { stars: row.avg_rating.toFixed(1), n: row.ratings });
}

// Column groups in order; each column is {field, label key, cell}. The
// field is also the server's sort key. "apart" marks the group kept visibly
// separate from the officer's own choices.
export const GROUPS = [
  {
    key: "who",
    columns: [{ field: "name", cell: null }],
  },
  {
    key: "offers",
    columns: [
      { field: "offers_received", cell: count("offers_received") },
      { field: "offers_delivered", cell: count("offers_delivered") },
      { field: "offers_seen", cell: count("offers_seen") },
    ],
  },
  {
    key: "answers",
    columns: [
      { field: "offers_claimed", cell: count("offers_claimed") },
      { field: "offers_declined", cell: declined },
      { field: "offers_missed_seen", cell: count("offers_missed_seen") },
    ],
  },
  {
    key: "apart",
    apart: true,
    columns: [
      { field: "offers_unseen", cell: count("offers_unseen") },
      { field: "offers_undelivered", cell: count("offers_undelivered") },
    ],
  },
  {
    key: "times",
    columns: [
      {
        field: "median_claim_s",
        cell: (row) => durationText(row.median_claim_s),
      },
      {
        field: "median_arrive_s",
        cell: (row) => durationText(row.median_arrive_s),
      },
    ],
  },
  {
    key: "results",
    columns: [
      { field: "resolutions", cell: count("resolutions") },
      { field: "avg_rating", cell: rating },
    ],
  },
];

// Names read best A→Z; every figure is most useful largest first.
export function defaultOrder(field) {
  return ["id", "name", "station_id"].includes(field) ? "asc" : "desc";
}

/** The table head and body of one board answer. */
export class KpiTable {
  /** `onSort(field)` hears a click on a column header. */
  constructor({ head, body }, onSort) {
    this.head = head;
    this.body = body;
    this.onSort = onSort;
  }

  /** Draws `board` (the /api/kpi answer); `stationName(id)` names stations. */
  draw(board, stationName) {
    const byOfficer = board.group === "officer";
    this.drawHead(board, byOfficer);
    const rows = board.rows.map((row) => this.row(row, byOfficer, stationName));
    if (!rows.length) {
      const span = this.head.querySelectorAll("tr:last-child th").length;
      rows.push(
        el(
          "tr",
          {},
          el(
            "td",
            { colspan: String(span), class: "muted" },
            t("common.empty"),
          ),
        ),
      );
    }
    this.body.replaceChildren(...rows);
  }

  drawHead(board, byOfficer) {
    const top = el("tr", { class: "kpi-groups" });
    const bottom = el("tr", {});
    for (const group of GROUPS) {
      const columns =
        group.columns.length + (group.key === "who" && byOfficer ? 1 : 0);
      const label = group.key === "who" ? "" : t(`kpi.group.${group.key}`);
      top.append(
        el(
          "th",
          {
            scope: "colgroup",
            colspan: String(columns),
            class: group.apart ? "kpi-apart" : "",
          },
          label,
        ),
      );
      for (const column of group.columns) {
        bottom.append(this.header(column, board, byOfficer, group.apart));
        if (column.field === "name" && byOfficer) {
          bottom.append(
            this.header({ field: "station_id" }, board, byOfficer, false),
          );
        }
      }
    }
    this.head.replaceChildren(top, bottom);
  }

  header({ field }, board, byOfficer, apart) {
    const key =
      field === "name" ? `kpi.col.name_${board.group}` : `kpi.col.${field}`;
    const sorted = board.sort === field;
    const th = el("th", { scope: "col", class: apart ? "kpi-apart" : "" });
    if (sorted)
      th.setAttribute(
        "aria-sort",
        board.order === "asc" ? "ascending" : "descending",
      );
    const button = el(
      "button",
      { type: "button", class: "kpi-sort", "data-sort": field },
      t(key),
      el(
        "span",
        { class: "kpi-arrow", "aria-hidden": "true" },
        sorted ? (board.order === "asc" ? "▲" : "▼") : "",
      ),
    );
    const hint = `kpi.hint.${field}`;
    if (hasMessage(hint)) button.title = t(hint);
    button.addEventListener("click", () => this.onSort(field));
    th.append(button);
    return th;
  }

  row(row, byOfficer, stationName) {
    const name = row.name || (byOfficer ? row.id : t("kpi.no_station"));
    const cells = [el("th", { scope: "row" }, name || DASH)];
    if (byOfficer) {
      cells.push(
        el("td", {}, row.station_id ? stationName(row.station_id) : DASH),
      );
    }
    for (const group of GROUPS) {
      for (const column of group.columns) {
        if (!column.cell) continue;
        const content = column.cell(row);
        const td = el("td", {
          class: "kpi-num" + (group.apart ? " kpi-apart" : ""),
        });
        td.dataset.field = column.field;
        td.append(...(Array.isArray(content) ? content : [content]));
        cells.push(td);
      }
    }
    return el("tr", { "data-row-id": row.id ?? "" }, ...cells);
  }
}
