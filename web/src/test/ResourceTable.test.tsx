import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ResourceTable, type ResourceTableProps } from "../components/ResourceTable";
import { ApiError } from "../api/client";

interface Item { id: string; name: string; size: number }

function table(overrides: Partial<ResourceTableProps<Item>> = {}, items: Item[] | null = []) {
  const run = vi.fn();
  render(<ResourceTable<Item> caption="Things" what="things" empty="Nothing yet."
    list={{ isLoading: items === null, error: null, data: items ? { items } : undefined }}
    rowKey={(i) => i.id} rowData={(i) => ({ "data-id": i.id })}
    columns={[{ header: "Name", cell: (i) => i.name }, { header: "Size", cell: (i) => `${i.size} B`, className: "small" }]}
    remove={{ label: "Delete", name: (i) => `Delete ${i.name}`, run, pending: false, error: null }}
    {...overrides} />);
  return run;
}

describe("ResourceTable", () => {
  it("says it is loading until the list arrives", () => {
    table({}, null); // loading
    expect(screen.getByRole("status").textContent).toBe("Loading things…");
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("shows the empty state across every column, the actions' too", () => {
    table();
    const cell = screen.getByRole("cell", { name: "Nothing yet." });
    expect(cell.getAttribute("colspan")).toBe("3");
  });

  it("lists each item with its name as the row header and removes the one asked for", async () => {
    const run = table({}, [{ id: "a", name: "alpha", size: 1 }, { id: "b", name: "beta", size: 2 }]);
    const row = screen.getByRole("row", { name: /beta/ });
    expect(row.getAttribute("data-id")).toBe("b");
    expect(within(row).getByRole("rowheader").textContent).toBe("beta");
    expect(within(row).getByRole("cell", { name: "2 B" }).className).toBe("small");
    expect(screen.queryByText("Nothing yet.")).toBeNull();
    await userEvent.setup().click(screen.getByRole("button", { name: "Delete beta" }));
    expect(run).toHaveBeenCalledOnce();
    expect(run).toHaveBeenCalledWith({ id: "b", name: "beta", size: 2 });
  });

  it("disables removing while a removal runs and shows its error", () => {
    table({ remove: { label: "Delete", name: (i) => `Delete ${i.name}`, run: vi.fn(), pending: true,
      error: new ApiError(409, "in_use", "It is in use") } }, [{ id: "a", name: "alpha", size: 1 }]);
    expect((screen.getByRole("button", { name: "Delete alpha" }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByRole("alert").textContent).toContain("It is in use");
  });

  it("puts the extra actions before the remove button", () => {
    table({ actions: (i) => <button type="button">Replace {i.name}</button> }, [{ id: "a", name: "alpha", size: 1 }]);
    const buttons = within(screen.getByRole("row", { name: /alpha/ })).getAllByRole("button").map((b) => b.textContent);
    expect(buttons).toEqual(["Replace alpha", "Delete"]);
  });
});
