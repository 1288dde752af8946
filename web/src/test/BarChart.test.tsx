import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { BarChart } from "../components/BarChart";

const series = [{ key: "succeeded", color: "#15803d" }, { key: "failed", color: "#b91c1c" }];

describe("BarChart", () => {
  it("is an image whose name says every bar's total", () => {
    render(<BarChart title="Jobs per day" x="day" series={series}
      rows={[{ day: "2026-12-03", succeeded: 3, failed: 1 }, { day: "2026-12-04", succeeded: 0, failed: 0 }]} />);
    expect(screen.getByRole("img", { name: "Jobs per day: 2026-12-03 4, 2026-12-04 0" })).toBeTruthy();
  });

  it("stacks one rectangle per series and bar, taller for more", () => {
    const { container } = render(<BarChart title="t" x="day" series={series} height={120}
      rows={[{ day: "a", succeeded: 1, failed: 1 }, { day: "b", succeeded: 4, failed: 0 }]} />);
    const rects = [...container.querySelectorAll("rect")];
    expect(rects).toHaveLength(4);
    const height = (fill: string, i: number) => Number(rects.filter((r) => r.getAttribute("fill") === fill)[i].getAttribute("height"));
    expect(height("#15803d", 1)).toBeGreaterThan(height("#15803d", 0));
    expect(height("#b91c1c", 1)).toBe(0);
  });

  it("labels at most seven bars, today's (the last) always", () => {
    const rows = Array.from({ length: 14 }, (_, i) => ({ day: `2026-12-${String(i + 1).padStart(2, "0")}`, succeeded: 1 }));
    const { container } = render(<BarChart title="t" x="day" series={series} rows={rows} />);
    const labels = [...container.querySelectorAll("text")].map((t) => t.textContent).filter((t) => t?.startsWith("12-"));
    expect(labels.length).toBeLessThanOrEqual(7);
    expect(labels).toContain("12-14");
  });

  it("names the series in a legend", () => {
    render(<BarChart title="t" x="day" series={series} rows={[]} />);
    expect(screen.getByText("succeeded")).toBeTruthy();
    expect(screen.getByText("failed")).toBeTruthy();
  });
});
