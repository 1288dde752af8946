// A list of the user's resources (API keys, webhook endpoints, provider keys): loading and error
// states, an empty row, one row per item with its remove action (disabled while one runs).
import type { ReactNode } from "react";
import { ErrorMessage, Loading } from "./ui";

export interface Column<T> {
  header: string;
  cell: (item: T) => ReactNode;
  className?: string;
}

export interface RemoveAction<T> {
  /** The button's text, e.g. "Revoke". */
  label: string;
  /** The button's accessible name for one item, e.g. "Revoke laptop". */
  name: (item: T) => string;
  run: (item: T) => void;
  pending: boolean;
  error: unknown;
}

export interface ResourceTableProps<T> {
  caption: string;
  /** For the loading line: "Loading {what}…". */
  what: string;
  list: { isLoading: boolean; error: unknown; data?: { items: T[] } };
  /** The first column is the row's header cell. */
  columns: Column<T>[];
  rowKey: (item: T) => string;
  /** Data attributes for a row, e.g. {"data-key-id": id}. */
  rowData?: (item: T) => Record<`data-${string}`, string>;
  empty: string;
  remove: RemoveAction<T>;
  /** Other buttons before the remove button. */
  actions?: (item: T) => ReactNode;
}

export function ResourceTable<T>({ caption, what, list, columns, rowKey, rowData, empty, remove, actions }: ResourceTableProps<T>) {
  const [first, ...rest] = columns;
  return (
    <>
      {list.isLoading ? <Loading what={what} /> : null}
      <ErrorMessage error={list.error ?? remove.error} />
      {list.data ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">{caption}</caption>
            <thead>
              <tr>
                {columns.map((c) => <th key={c.header} scope="col">{c.header}</th>)}
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.length === 0 ? <tr><td colSpan={columns.length + 1}>{empty}</td></tr> : null}
              {list.data.items.map((item) => (
                <tr key={rowKey(item)} {...rowData?.(item)}>
                  <th scope="row" className={first.className}>{first.cell(item)}</th>
                  {rest.map((c) => <td key={c.header} className={c.className}>{c.cell(item)}</td>)}
                  <td>
                    {actions ? <>{actions(item)}{" "}</> : null}
                    <button type="button" className="danger" onClick={() => remove.run(item)} disabled={remove.pending}
                      aria-label={remove.name(item)}>{remove.label}</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
