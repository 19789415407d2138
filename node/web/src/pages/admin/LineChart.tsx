// A small line chart drawn as inline SVG (no chart library). The drawing stretches to the width of
// its card (preserveAspectRatio="none", strokes keep their width); labels and values are HTML text.
import { useId, useMemo } from 'react'
import { formatBytes, formatClock, formatNumber } from './format'

export type Point = [x: number, y: number]

export interface Series {
  label: string
  points: Point[]
  /** A CSS colour, e.g. "var(--chart-1)". */
  color: string
}

export interface LineChartProps {
  title: string
  series: Series[]
  /** "B" and "B/s" format as bytes; anything else is printed after the number ("req/s", "ms", "%"). */
  unit?: string
  /** The y axis reaches at least this (e.g. 1 for rates, so a quiet node does not look busy). */
  minMax?: number
  /** The x range (unix ms); defaults to the points' range. */
  xDomain?: [number, number]
  /** Override how values are printed. */
  format?: (v: number) => string
}

const W = 1000
const H = 200

/** 1, 2, 2.5, 5 × 10^k at or above v. */
export function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1
  const exp = Math.pow(10, Math.floor(Math.log10(v)))
  const f = v / exp
  const n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
  return n * exp
}

export function formatValue(v: number, unit?: string): string {
  if (unit === 'B') return formatBytes(v)
  if (unit === 'B/s') return `${formatBytes(v)}/s`
  const n = formatNumber(v, Math.abs(v) < 1 && v !== 0 ? 2 : 1)
  return unit ? (unit === '%' ? `${n}%` : `${n} ${unit}`) : n
}

export function LineChart({ title, series, unit, minMax = 0, xDomain, format }: LineChartProps) {
  const uid = useId()
  const fmt = format ?? ((v: number) => formatValue(v, unit))
  const drawn = series.filter((s) => s.points.length > 0)
  const geo = useMemo(() => {
    let x0 = Infinity
    let x1 = -Infinity
    let yMax = 0
    for (const s of series)
      for (const [x, y] of s.points) {
        if (x < x0) x0 = x
        if (x > x1) x1 = x
        if (Number.isFinite(y) && y > yMax) yMax = y
      }
    if (xDomain) [x0, x1] = xDomain
    if (!Number.isFinite(x0) || !Number.isFinite(x1)) {
      x0 = 0
      x1 = 1
    }
    const span = x1 - x0 || 1
    const top = niceMax(Math.max(yMax, minMax))
    const px = (x: number) => (((x - x0) / span) * W).toFixed(1)
    const py = (y: number) => (H - (Math.max(0, Number.isFinite(y) ? y : 0) / top) * H).toFixed(1)
    const lines = series.map((s) => (s.points.length === 1 ? [s.points[0], [s.points[0][0] + span / 1000, s.points[0][1]] as Point] : s.points).map(([x, y]) => `${px(x)},${py(y)}`).join(' '))
    return { x0, x1, top, lines }
  }, [series, xDomain, minMax])

  const latest = series.map((s) => (s.points.length ? s.points[s.points.length - 1][1] : null))
  const summary = series.map((s, i) => `${s.label} ${latest[i] == null ? 'no data' : fmt(latest[i]!)}`).join(', ')
  const titleId = `${uid}-title`
  return (
    <figure className="chart" aria-labelledby={titleId}>
      <figcaption id={titleId} className="chart-title">
        {title}
      </figcaption>
      <div className="chart-body">
        <div className="chart-y" aria-hidden="true">
          <span>{fmt(geo.top)}</span>
          <span>{fmt(geo.top / 2)}</span>
          <span>{fmt(0)}</span>
        </div>
        <div className="chart-plot">
          <svg className="chart-svg" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${title}: ${summary}`}>
            <title>{`${title}: ${summary}`}</title>
            {[0.25, 0.5, 0.75].map((f) => (
              <line key={f} className="chart-grid" x1={0} x2={W} y1={H * f} y2={H * f} vectorEffect="non-scaling-stroke" />
            ))}
            <line className="chart-axis" x1={0} x2={W} y1={H} y2={H} vectorEffect="non-scaling-stroke" />
            {series.map((s, i) =>
              s.points.length > 0 ? (
                <polyline key={s.label} points={geo.lines[i]} fill="none" stroke={s.color} strokeWidth={2} strokeLinejoin="round" vectorEffect="non-scaling-stroke">
                  <title>{s.label}</title>
                </polyline>
              ) : null,
            )}
          </svg>
          {drawn.length === 0 ? (
            <p className="chart-empty muted">No data yet.</p>
          ) : (
            <div className="chart-x muted" aria-hidden="true">
              <span>{formatClock(geo.x0)}</span>
              <span>{formatClock(geo.x1)}</span>
            </div>
          )}
        </div>
      </div>
      <ul className="chart-legend">
        {series.map((s, i) => (
          <li key={s.label}>
            <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label}: <strong className="chart-latest">{latest[i] == null ? '—' : fmt(latest[i]!)}</strong>
          </li>
        ))}
      </ul>
    </figure>
  )
}
