// vrfwall_flow_export_*: the flow export's counters (src/flows/exporter.ts),
// read at scrape time.
import client from 'prom-client';
import type { FlowExportStats } from '../flows/exporter.js';

export function registerExportMetrics(registry: client.Registry, stats: () => FlowExportStats): void {
  const registers = [registry];
  const counter = (name: string, help: string, pick: (s: FlowExportStats) => number) =>
    new client.Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(pick(stats()));
      },
    });
  const gauge = (name: string, help: string, pick: (s: FlowExportStats) => number) =>
    new client.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(pick(stats()));
      },
    });
  counter('vrfwall_flow_export_records_written_total', 'Flow records written to the export file', (s) => s.written);
  counter('vrfwall_flow_export_bytes_written_total', 'Bytes written to the export file', (s) => s.bytesWritten);
  counter('vrfwall_flow_export_records_dropped_total', 'Flow records lost: export queue full (disk slower than the flows) or a failed write', (s) => s.dropped);
  counter('vrfwall_flow_export_records_filtered_total', "Flow records left out by the export's filter", (s) => s.filtered);
  counter('vrfwall_flow_export_rotations_total', 'Export file rotations', (s) => s.rotations);
  counter('vrfwall_flow_export_write_errors_total', 'Failed export writes', (s) => s.writeErrors);
  gauge('vrfwall_flow_export_queued_records', 'Flow records waiting for the disk', (s) => s.queued);
  gauge('vrfwall_flow_export_lag_seconds', 'Age of the oldest flow record waiting for the disk (0: none)', (s) => s.lagMs / 1000);
}
