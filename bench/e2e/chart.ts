/**
 * The benchmark's charts as hand-written SVG text: grouped bars of notifications/s per payload
 * size per client (a whisker for the spread over rounds, libpq as a dashed reference line in
 * each group), and the flood's resident memory over time. Pure: imports the client names only.
 */
import { clientLabels, type ClientName, type Sample } from './workloads.ts'

export interface BarGroup {
  label: string
  bars: { client: ClientName; value: number; low: number; high: number }[]
  /** libpq's figure for this group, drawn as a line across it. */
  reference?: number
}

export interface Panel {
  title: string
  groups: BarGroup[]
}

const colors: Record<ClientName, string> = {
  pglisten: '#1f5fa8',
  'pglisten-iter': '#7fb0e0',
  pg: '#e07b1f',
  'postgres.js': '#3a9a3a',
  libpq: '#333333',
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
const text = (x: number, y: number, s: string, attrs = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(s)}</text>`

/** 1234567 → "1.23M", 81234 → "81k". */
export function si(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`
  return n.toFixed(0)
}

/** A round upper bound for an axis, and its step: 1, 2 or 5 times a power of ten. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  const raw = max / ticks
  const power = 10 ** Math.floor(Math.log10(raw || 1))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)!
  return { top: Math.ceil(max / step) * step, step }
}

/** `subtitle` lines go under the title; a long one is the caller's to split. */
export function barChart(title: string, subtitle: string[], panels: Panel[], clients: ClientName[]): string {
  const width = 960
  const panelHeight = 270
  const parts: string[] = [text(20, 26, title, 'font-size="17" font-weight="bold"')]
  subtitle.forEach((line, i) => parts.push(text(20, 46 + 16 * i, line, 'font-size="12" fill="#555"')))
  // Legend: the bar clients, then libpq's line.
  const ly = 46 + 16 * subtitle.length + 6
  let lx = 20
  for (const client of clients.filter((c) => c !== 'libpq')) {
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[client]}"/>`, text(lx + 17, ly, label(client), 'font-size="12"'))
    lx += 34 + label(client).length * 6.6
  }
  if (clients.includes('libpq')) {
    parts.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${colors.libpq}" stroke-width="2" stroke-dasharray="5,3"/>`, text(lx + 27, ly, 'libpq (C), reference', 'font-size="12"'))
  }
  const top = ly + 26
  panels.forEach((panel, i) => parts.push(drawPanel(panel, 70, top + i * (panelHeight + 40), width - 90, panelHeight)))
  const height = top + panels.length * (panelHeight + 40) + 10
  return svg(width, height, parts)
}

function drawPanel(panel: Panel, x0: number, y0: number, width: number, height: number): string {
  const parts = [text(x0, y0 + 4, panel.title, 'font-size="13" font-weight="bold"')]
  const plotTop = y0 + 22
  const plotHeight = height - 60
  const base = plotTop + plotHeight
  const max = Math.max(1, ...panel.groups.flatMap((g) => [...g.bars.map((b) => Math.max(b.value, b.high)), g.reference ?? 0]))
  const { top, step } = niceScale(max)
  const y = (v: number) => base - (v / top) * plotHeight
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line x1="${x0}" y1="${y(v).toFixed(1)}" x2="${x0 + width}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`)
    parts.push(text(x0 - 6, y(v) + 4, si(v), 'font-size="10" text-anchor="end" fill="#555"'))
  }
  parts.push(text(x0 - 52, plotTop + plotHeight / 2, 'notifications/s', `font-size="11" fill="#555" transform="rotate(-90 ${x0 - 52} ${plotTop + plotHeight / 2})" text-anchor="middle"`))
  const groupWidth = width / Math.max(1, panel.groups.length)
  panel.groups.forEach((group, g) => {
    const gx = x0 + g * groupWidth
    const barWidth = Math.min(48, (groupWidth - 70) / Math.max(1, group.bars.length))
    const barsStart = gx + (groupWidth - barWidth * group.bars.length) / 2
    group.bars.forEach((bar, b) => {
      const bx = barsStart + b * barWidth
      const cx = bx + barWidth / 2
      parts.push(`<rect x="${(bx + 1).toFixed(1)}" y="${y(bar.value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(base - y(bar.value)).toFixed(1)}" fill="${colors[bar.client]}"><title>${escape(`${label(bar.client)}: ${si(bar.value)}/s (rounds ${si(bar.low)}-${si(bar.high)})`)}</title></rect>`)
      parts.push(`<line x1="${cx.toFixed(1)}" y1="${y(bar.low).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${y(bar.high).toFixed(1)}" stroke="#222" stroke-width="1"/>`)
      parts.push(text(cx, Math.min(y(bar.value), y(bar.high)) - 4, si(bar.value), 'font-size="9" text-anchor="middle"'))
    })
    if (group.reference !== undefined) {
      const ry = y(group.reference).toFixed(1)
      const end = barsStart + barWidth * group.bars.length + 6
      parts.push(`<line x1="${(barsStart - 6).toFixed(1)}" y1="${ry}" x2="${end.toFixed(1)}" y2="${ry}" stroke="${colors.libpq}" stroke-width="2" stroke-dasharray="5,3"><title>${escape(`libpq: ${si(group.reference)}/s`)}</title></line>`)
      parts.push(text(end + 3, Number(ry) + 3, `libpq ${si(group.reference)}`, 'font-size="9" fill="#333"'))
    }
    parts.push(text(gx + groupWidth / 2, base + 16, group.label, 'font-size="11" text-anchor="middle"'))
  })
  parts.push(`<line x1="${x0}" y1="${base}" x2="${x0 + width}" y2="${base}" stroke="#888"/>`)
  return parts.join('\n')
}

/** Resident memory against notifications received during the flood, one line per client. */
export function floodChart(title: string, subtitle: string[], series: { client: ClientName; samples: Sample[] }[]): string {
  const width = 960
  const height = 470
  const x0 = 70
  const legendY = 46 + 16 * subtitle.length + 6
  const plotTop = legendY + 26
  const plotWidth = width - x0 - 30
  const plotHeight = height - plotTop - 50
  const maxN = Math.max(1, ...series.flatMap((s) => s.samples.map(([, , n]) => n)))
  const maxMB = Math.max(1, ...series.flatMap((s) => s.samples.map(([, kb]) => kb / 1024)))
  const ys = niceScale(maxMB)
  const xs = niceScale(maxN)
  const x = (n: number) => x0 + (n / xs.top) * plotWidth
  const y = (mb: number) => plotTop + plotHeight - (mb / ys.top) * plotHeight
  const parts = [text(20, 26, title, 'font-size="17" font-weight="bold"'), ...subtitle.map((line, i) => text(20, 46 + 16 * i, line, 'font-size="12" fill="#555"'))]
  for (let v = 0; v <= ys.top + ys.step / 2; v += ys.step) {
    parts.push(`<line x1="${x0}" y1="${y(v).toFixed(1)}" x2="${x0 + plotWidth}" y2="${y(v).toFixed(1)}" stroke="#e4e4e4"/>`, text(x0 - 6, y(v) + 4, `${v} MB`, 'font-size="10" text-anchor="end" fill="#555"'))
  }
  for (let n = 0; n <= xs.top + xs.step / 2; n += xs.step) parts.push(text(x(n), plotTop + plotHeight + 16, si(n), 'font-size="10" text-anchor="middle" fill="#555"'))
  parts.push(text(x0 + plotWidth / 2, plotTop + plotHeight + 34, 'notifications received', 'font-size="11" text-anchor="middle" fill="#555"'))
  let lx = 20
  for (const { client, samples } of series) {
    const points = samples.map(([, kb, n]) => `${x(n).toFixed(1)},${y(kb / 1024).toFixed(1)}`).join(' ')
    parts.push(`<polyline points="${points}" fill="none" stroke="${colors[client]}" stroke-width="2"${client === 'libpq' ? ' stroke-dasharray="5,3"' : ''}/>`)
    parts.push(client === 'libpq'
      ? `<line x1="${lx}" y1="${legendY - 4}" x2="${lx + 12}" y2="${legendY - 4}" stroke="${colors.libpq}" stroke-width="2" stroke-dasharray="4,2"/>`
      : `<rect x="${lx}" y="${legendY - 10}" width="12" height="12" fill="${colors[client]}"/>`, text(lx + 17, legendY, label(client), 'font-size="12"'))
    lx += 34 + label(client).length * 6.6
  }
  parts.push(`<line x1="${x0}" y1="${plotTop + plotHeight}" x2="${x0 + plotWidth}" y2="${plotTop + plotHeight}" stroke="#888"/>`)
  return svg(width, height, parts)
}

const label = (client: ClientName) => clientLabels[client]

function svg(width: number, height: number, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#ffffff"/>\n${parts.join('\n')}\n</svg>\n`
}
