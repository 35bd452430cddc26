/** Reads one sample from a Prometheus text exposition: `name{labels}` exactly as written (labels in the metric's label order). */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
