// Small stacked bar charts for the operator's pages, drawn as SVG by @visx (scales and bar
// shapes only: React renders every element, so the chart is plain, testable DOM). Each chart is
// an image with a text alternative, and the same numbers are in a table below it.
import { Group } from "@visx/group";
import { scaleBand, scaleLinear } from "@visx/scale";
import { BarStack } from "@visx/shape";

export interface BarChartProps {
  title: string;
  /** One bar per row, e.g. a day; `x` labels it. */
  rows: Record<string, number | string>[];
  x: string;
  /** The stacked series, bottom first, each with its colour. */
  series: { key: string; color: string }[];
  width?: number;
  height?: number;
}

const MARGIN = { top: 8, right: 8, bottom: 24, left: 36 };

export function BarChart({ title, rows, x, series, width = 560, height = 180 }: BarChartProps) {
  const keys = series.map((s) => s.key);
  const total = (row: Record<string, number | string>) => keys.reduce((sum, k) => sum + Number(row[k] ?? 0), 0);
  const max = Math.max(1, ...rows.map(total));
  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = height - MARGIN.top - MARGIN.bottom;
  const xScale = scaleBand<string>({ domain: rows.map((r) => String(r[x])), range: [0, innerW], padding: 0.2 });
  const yScale = scaleLinear<number>({ domain: [0, max], range: [innerH, 0], nice: true });
  const color = (key: string) => series.find((s) => s.key === key)?.color ?? "#6b7280";
  const summary = `${title}: ${rows.map((r) => `${r[x]} ${total(r)}`).join(", ")}`;
  const every = Math.max(1, Math.ceil(rows.length / 7)); // at most 7 labels, the last bar's always
  return (
    <figure className="chart">
      <svg width="100%" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary}>
        <Group left={MARGIN.left} top={MARGIN.top}>
          {yScale.ticks(4).map((t) => (
            <g key={t}>
              <line x1={0} x2={innerW} y1={yScale(t)} y2={yScale(t)} stroke="#e5e7eb" />
              <text x={-6} y={yScale(t)} dy="0.32em" textAnchor="end" fontSize={11} fill="#374151">{t}</text>
            </g>
          ))}
          <BarStack data={rows} keys={keys} x={(r) => String(r[x])} xScale={xScale} yScale={yScale} color={color}
            value={(r, k) => Number(r[k] ?? 0)}>
            {(stacks) => stacks.map((stack) => stack.bars.map((bar) => (
              <rect key={`${stack.index}-${bar.index}`} x={bar.x} y={bar.y} width={bar.width}
                height={Math.max(0, bar.height)} fill={bar.color} />
            )))}
          </BarStack>
          {rows.map((r, i) => ((rows.length - 1 - i) % every === 0 ? (
            <text key={String(r[x])} x={(xScale(String(r[x])) ?? 0) + xScale.bandwidth() / 2} y={innerH + 16}
              textAnchor="middle" fontSize={11} fill="#374151">{String(r[x]).slice(5)}</text>
          ) : null))}
        </Group>
      </svg>
      <figcaption className="legend">
        {series.map((s) => (
          <span key={s.key}><span className="swatch" style={{ background: s.color }} aria-hidden="true" />{s.key}</span>
        ))}
      </figcaption>
    </figure>
  );
}
